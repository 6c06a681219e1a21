from rest_framework import serializers

from tenants.api import Conflict, NamedDetailView, NamedListView

from . import services
from .models import AuthAccount
from .providers import KIND_CHOICES


class AuthAccountSerializer(serializers.ModelSerializer):
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"}
    )
    kind = serializers.ChoiceField(choices=KIND_CHOICES)
    has_password = serializers.BooleanField(read_only=True)

    class Meta:
        model = AuthAccount
        fields = [
            "name",
            "description",
            "active",
            "kind",
            "username",
            "password",
            "has_password",
            "token_status",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["token_status", "last_error", "created_at", "updated_at"]
        # Uniqueness and the kind's rules are checked by the service, in one place.
        validators = []
        extra_kwargs = {"name": {"validators": []}}


class AuthAccountListView(NamedListView):
    serializer_class = AuthAccountSerializer

    def queryset(self):
        return AuthAccount.objects.for_tenant(self.tenant)

    def save(self, tenant, data, instance=None):
        return services.save_account(tenant, data, account=instance)


class AuthAccountDetailView(AuthAccountListView, NamedDetailView):
    def remove(self, instance) -> None:
        try:
            services.delete_account(instance)
        except services.InUse as err:
            raise Conflict(str(err)) from err
