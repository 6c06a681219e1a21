from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.api import Conflict
from servers.addresses import address_error
from tenants.api import TenantAPIView

from . import services
from .diagnostics import run_diagnostics
from .models import ServerConfig


class ServerSerializer(serializers.ModelSerializer):
    auth_account = serializers.CharField(
        source="auth_account.name", allow_null=True, required=False, default=None
    )
    allowed_from = serializers.ListField(child=serializers.CharField(), required=False)
    override_recipients = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = ServerConfig
        fields = [
            "name",
            "description",
            "active",
            "is_default",
            "transport",
            "host",
            "port",
            "security",
            "verify_certificate",
            "ca_certificates",
            "timeout_seconds",
            "auth_account",
            "default_from",
            "default_from_name",
            "reply_to",
            "from_policy",
            "allowed_from",
            "override_recipients",
            "allow_utf8",
            "max_connections",
            "rate_limit_per_minute",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []
        extra_kwargs = {"name": {"validators": []}}

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if "auth_account" in values:  # {"auth_account": {"name": x}} from source= → a name
            account = values.pop("auth_account")
            values["auth_account"] = account["name"] if isinstance(account, dict) else account
        return values


def _servers(view):
    return ServerConfig.objects.for_tenant(view.tenant).select_related("auth_account")


class ServerListView(TenantAPIView):
    def get(self, request, tenant):
        return Response(ServerSerializer(_servers(self), many=True).data)

    def post(self, request, tenant):
        data = ServerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        server = services.save_server(self.tenant, data.validated_data)
        return Response(ServerSerializer(server).data, status=status.HTTP_201_CREATED)


class ServerDetailView(TenantAPIView):
    def get(self, request, tenant, name):
        return Response(ServerSerializer(get_object_or_404(_servers(self), name=name)).data)

    def _update(self, request, name, *, partial):
        server = get_object_or_404(_servers(self), name=name)
        data = ServerSerializer(server, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        server = services.save_server(self.tenant, data.validated_data, server=server)
        return Response(ServerSerializer(server).data)

    def put(self, request, tenant, name):
        return self._update(request, name, partial=False)

    def patch(self, request, tenant, name):
        return self._update(request, name, partial=True)

    def delete(self, request, tenant, name):
        services.delete_server(get_object_or_404(_servers(self), name=name))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ServerTestView(TenantAPIView):
    def post(self, request, tenant, name):
        server = get_object_or_404(_servers(self), name=name)
        send_to = request.data.get("send_to") if isinstance(request.data, dict) else None
        if send_to and (problem := address_error(send_to)):
            raise ValidationError({"send_to": [problem]})
        if server.transport != "smtp":
            raise Conflict("Only SMTP servers can be tested step by step for now.")
        return Response(run_diagnostics(server, send_to=send_to or None))
