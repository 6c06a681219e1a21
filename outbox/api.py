from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from mailadmin.errors import BatchRejected
from mailadmin.status import MessageStatus
from tenants.api import Conflict, TenantAPIView
from tenants.models import Role

from . import intake, services
from .models import Attempt, Message
from .sendkey import SendKeyAuthentication, found_servers


class AttemptSerializer(serializers.ModelSerializer):
    server = serializers.CharField(source="server_name")

    class Meta:
        model = Attempt
        fields = ["at", "server", "outcome", "code", "detail"]


class MessageSerializer(serializers.ModelSerializer):
    server = serializers.CharField(source="server_name")
    priority = serializers.CharField(source="priority_name")
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "status",
            "server",
            "to",
            "cc",
            "bcc",
            "subject",
            "message_id",
            "priority",
            "idempotency_key",
            "created_at",
            "sent_at",
            "next_attempt_at",
            "attempts_count",
            "expires_at",
            "last_error",
            "last_reply",
            "attempts",
        ]

    def get_fields(self):
        fields = super().get_fields()
        ordered = {}
        for name, field in fields.items():  # "from" is a keyword: add it by hand, after server
            ordered[name] = field
            if name == "server":
                ordered["from"] = serializers.CharField(source="from_email", read_only=True)
        return ordered


def _messages(view):
    return Message.objects.for_tenant(view.tenant)


class MessageListView(TenantAPIView):
    write_role = Role.SENDER
    # A send's key, tenant and server in one query (the API's busiest call).
    authentication_classes = [SendKeyAuthentication, SessionAuthentication]

    def get(self, request, tenant):
        messages = _messages(self).defer("raw").prefetch_related("attempts")
        if value := request.query_params.get("status"):
            if value not in MessageStatus.values:
                raise ValidationError({"status": [f"One of {', '.join(MessageStatus.values)}."]})
            messages = messages.filter(status=value)
        if value := request.query_params.get("server"):
            messages = messages.filter(server_name=value)
        if value := request.query_params.get("since"):
            since = parse_datetime(value)
            if since is None:
                raise ValidationError(
                    {"since": ["Use an ISO 8601 time, e.g. 2026-01-31T12:00:00Z."]}
                )
            messages = messages.filter(created_at__gte=since)
        pager = LimitOffsetPagination()
        page = pager.paginate_queryset(messages, request, view=self)
        return pager.get_paginated_response(MessageSerializer(page, many=True).data)

    def post(self, request, tenant):
        fields = intake.message_fields(request.data)
        servers = found_servers(request, self.tenant, fields.get("server") or None)
        message, created = services.enqueue_message(self.tenant, servers=servers, **fields)
        if created:
            return Response(intake.accepted(message), status=status.HTTP_202_ACCEPTED)
        return Response(MessageSerializer(message).data, status=status.HTTP_200_OK)


class MessageDetailView(TenantAPIView):
    def get(self, request, tenant, message_id):
        message = get_object_or_404(_messages(self), id=message_id)
        return Response(MessageSerializer(message).data)


class MessageActionView(TenantAPIView):
    write_role = Role.SENDER
    action = ""

    def post(self, request, tenant, message_id):
        message = get_object_or_404(_messages(self), id=message_id)
        act = services.cancel_message if self.action == "cancel" else services.retry_message
        if not act(message):
            raise Conflict(
                f"A {message.status} message cannot be {self.action}led."
                if self.action == "cancel"
                else f"A {message.status} message cannot be retried."
            )
        message.refresh_from_db()
        return Response(MessageSerializer(message).data)


class MessageBatchView(TenantAPIView):
    """POST {"messages": [...]} (up to 1,000): all queued, or none with per-item errors."""

    write_role = Role.SENDER

    def post(self, request, tenant):
        items = request.data.get("messages") if isinstance(request.data, dict) else None
        if not isinstance(items, list):
            raise ValidationError({"messages": ["Give a list of messages in 'messages'."]})
        if len(items) > services.MAX_BATCH:
            raise ValidationError(
                {"messages": [f"At most {services.MAX_BATCH} messages per batch."]}
            )
        shaped, errors = [], {}
        for index, item in enumerate(items):
            try:
                shaped.append(intake.message_fields(item))
            except ValidationError as err:
                errors[index] = err.detail
        if errors:
            raise BatchRejected(errors)
        messages = services.send_messages(self.tenant, shaped)
        body = [
            {
                "id": str(m.id),
                "status": m.status,
                "server": m.server_name,
                "message_id": m.message_id,
            }
            for m in messages
        ]
        return Response({"count": len(body), "messages": body}, status=status.HTTP_202_ACCEPTED)
