from datetime import timedelta

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import AuthAccount
from mailadmin.errors import MessageRejected
from mailadmin.status import MessageStatus
from outbox.models import Message
from outbox.services import send_test_email
from tenants.models import Role
from tenants.pages import apply_errors, tenant_page

from . import services
from .forms import ServerForm, TestEmailForm
from .models import ServerConfig


def _servers(request):
    return ServerConfig.objects.for_tenant(request.tenant).select_related(
        "auth_account", "fallback"
    )


def _health(tenant) -> dict:
    """Per server name: sent/failed in 24 h, last sent time, and the last failure."""
    since = timezone.now() - timedelta(hours=24)
    rows = (
        Message.objects.for_tenant(tenant)
        .filter(created_at__gte=since)
        .values("server_name")
        .annotate(
            sent=Count("id", filter=Q(status=MessageStatus.SENT)),
            failed=Count("id", filter=Q(status=MessageStatus.FAILED)),
            last_sent=Max("sent_at"),
        )
    )
    health = {row["server_name"]: row for row in rows}
    for name, row in health.items():
        last = (
            Message.objects.for_tenant(tenant)
            .filter(server_name=name, status__in=[MessageStatus.SENT, MessageStatus.FAILED])
            .exclude(status=MessageStatus.SENT, sent_at__isnull=True)
            .order_by("-created_at")
            .values("status", "last_error")
            .first()
        )
        row["failing"] = bool(last and last["status"] == MessageStatus.FAILED)
        row["last_error"] = last["last_error"] if last else ""
    return health


@tenant_page()
def server_list(request):
    health = _health(request.tenant)
    rows = [(s, health.get(s.name, {})) for s in _servers(request)]
    return render(request, "servers/list.html", {"rows": rows})


@tenant_page(read=Role.ADMIN)
def server_edit(request, name=None):
    server = get_object_or_404(_servers(request), name=name) if name else None
    accounts = list(AuthAccount.objects.for_tenant(request.tenant))
    names = [a.name for a in accounts]
    server_names = list(
        ServerConfig.objects.for_tenant(request.tenant).values_list("name", flat=True)
    )
    form = ServerForm(
        request.POST or None, server=server, account_names=names, server_names=server_names
    )
    suggestions = {a.name: a.provider.suggested_server for a in accounts}
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_server(request.tenant, form.cleaned_data, server=server)
        except ValidationError as err:
            apply_errors(form, err)
        else:
            flash.success(request, f"Server {saved.name} saved.")
            return redirect("server-detail", tenant=request.tenant.slug, name=saved.name)
    return render(
        request,
        "servers/form.html",
        {"form": form, "server": server, "suggestions": suggestions},
    )


@tenant_page()
def server_detail(request, name):
    server = get_object_or_404(_servers(request), name=name)
    test_message = None
    if test_id := request.GET.get("test"):
        test_message = Message.objects.for_tenant(request.tenant).filter(id=test_id).first()
    recent = Message.objects.for_tenant(request.tenant).filter(server=server).defer("raw")[:10]
    return render(
        request,
        "servers/detail.html",
        {
            "server": server,
            "test_form": TestEmailForm(),
            "test_message": test_message,
            "recent": recent,
            "health": _health(request.tenant).get(server.name, {}),
        },
    )


@require_POST
@tenant_page(write=Role.SENDER)
def server_test(request, name):
    server = get_object_or_404(_servers(request), name=name)
    form = TestEmailForm(request.POST)
    context = {"server": server, "test_form": form, "test_message": None}
    if form.is_valid():
        try:
            context["test_message"] = send_test_email(
                server, to=form.cleaned_data["send_to"], requested_by=request.user.username
            )
        except MessageRejected as err:
            form.add_error("send_to" if err.field in ("to", "") else None, err.message)
    if request.headers.get("HX-Request"):
        return render(request, "servers/_test_result.html", context)
    if context["test_message"] is not None:
        url = redirect("server-detail", tenant=request.tenant.slug, name=server.name).url
        return redirect(f"{url}?test={context['test_message'].id}#test")
    for error in form.errors.get("send_to", []) + list(form.non_field_errors()):
        flash.error(request, error)
    return redirect("server-detail", tenant=request.tenant.slug, name=server.name)


@require_POST
@tenant_page()
def server_delete(request, name):
    server = get_object_or_404(_servers(request), name=name)
    services.delete_server(server)
    flash.success(request, f"Server {name} deleted.")
    return redirect("server-list", tenant=request.tenant.slug)
