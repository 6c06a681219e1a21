from datetime import timedelta

from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mailadmin.status import MessageStatus
from servers.models import ServerConfig
from tenants.models import Role
from tenants.pages import tenant_page

from . import services
from .models import Message

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


def _messages(request):
    return Message.objects.for_tenant(request.tenant).defer("raw")


@tenant_page()
def message_list(request):
    messages = _messages(request)
    status = request.GET.get("status", "")
    server = request.GET.get("server", "")
    since = request.GET.get("range", "")
    if status in MessageStatus.values:
        messages = messages.filter(status=status)
    if server:
        messages = messages.filter(server_name=server)
    if since in RANGES:
        messages = messages.filter(created_at__gte=timezone.now() - RANGES[since])
    page = Paginator(messages, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "outbox/list.html",
        {
            "page": page,
            "statuses": MessageStatus.values,
            "servers": ServerConfig.objects.for_tenant(request.tenant).values_list(
                "name", flat=True
            ),
            "filters": {"status": status, "server": server, "range": since},
            "ranges": list(RANGES),
            "query": query.urlencode(),
        },
    )


@tenant_page()
def message_detail(request, message_id):
    message = get_object_or_404(_messages(request), id=message_id)
    headers = bytes(Message.objects.filter(pk=message.pk).values_list("raw", flat=True)[0])
    header_text = headers.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    return render(
        request,
        "outbox/detail.html",
        {"message": message, "attempts": message.attempts.all(), "header_text": header_text},
    )


@tenant_page()
def message_status(request, message_id):
    """The live status fragment polled by htmx on the server page's test email."""
    message = get_object_or_404(_messages(request), id=message_id)
    return render(request, "outbox/_status.html", {"test_message": message})


@require_POST
@tenant_page(write=Role.SENDER)
def message_action(request, message_id, action):
    message = get_object_or_404(_messages(request), id=message_id)
    done = (services.cancel_message if action == "cancel" else services.retry_message)(message)
    if done:
        flash.success(request, "Cancelled." if action == "cancel" else "Queued again.")
    else:
        verb = "cancelled" if action == "cancel" else "retried"
        flash.error(request, f"A {message.status} message cannot be {verb} now.")
    return redirect("message-detail", tenant=request.tenant.slug, message_id=message.id)
