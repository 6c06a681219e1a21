from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from servers.addresses import address_error
from tenants.api import NamedDetailView, NamedListView, TenantAPIView

from . import services
from .diagnostics import run_diagnostics
from .models import ServerConfig


class ServerSerializer(serializers.ModelSerializer):
    auth_account = serializers.CharField(
        source="auth_account.name", allow_null=True, required=False, default=None
    )
    fallback = serializers.CharField(
        source="fallback.name", allow_null=True, required=False, default=None
    )
    allowed_from = serializers.ListField(child=serializers.CharField(), required=False)
    override_recipients = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = ServerConfig
        fields = [*services.FIELDS, "auth_account", "fallback", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []
        extra_kwargs = {"name": {"validators": []}}

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        for field in ("auth_account", "fallback"):  # {"field": {"name": x}} from source= → x
            if field in values:
                value = values.pop(field)
                values[field] = value["name"] if isinstance(value, dict) else value
        return values


class ServerListView(NamedListView):
    serializer_class = ServerSerializer

    def queryset(self):
        return ServerConfig.objects.for_tenant(self.tenant).select_related("auth_account")

    def save(self, tenant, data, instance=None):
        return services.save_server(tenant, data, server=instance)


class ServerDetailView(ServerListView, NamedDetailView):
    def remove(self, instance) -> None:
        services.delete_server(instance)


class ServerTestView(TenantAPIView):
    def post(self, request, tenant, name):
        servers = ServerConfig.objects.for_tenant(self.tenant).select_related("auth_account")
        server = get_object_or_404(servers, name=name)
        send_to = request.data.get("send_to") if isinstance(request.data, dict) else None
        if send_to and (problem := address_error(send_to)):
            raise ValidationError({"send_to": [problem]})
        return Response(run_diagnostics(server, send_to=send_to or None))
