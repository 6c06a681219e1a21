from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.response import Response

from mailadmin.errors import TokenError
from tenants.api import Conflict, NamedDetailView, NamedListView

from . import services
from .consent import callback_url, start_consent
from .models import AuthAccount
from .providers import KIND_CHOICES
from .tokens import get_access_token

READ_ONLY = [
    "token_status",
    "token_expires_at",
    "consented_identity",
    "granted_scopes",
    "last_refresh_at",
    "last_error",
    "created_at",
    "updated_at",
]


class AuthAccountSerializer(serializers.ModelSerializer):
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"}
    )
    client_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"}
    )
    kind = serializers.ChoiceField(choices=KIND_CHOICES)
    scopes = serializers.ListField(child=serializers.CharField(), required=False)
    has_password = serializers.BooleanField(read_only=True)
    has_client_secret = serializers.BooleanField(read_only=True)

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
            "client_id",
            "client_secret",
            "has_client_secret",
            "directory_id",
            "authorization_endpoint",
            "token_endpoint",
            "scopes",
            "scope_delimiter",
            *READ_ONLY,
        ]
        read_only_fields = READ_ONLY
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


class AuthAccountAuthorizeView(AuthAccountListView):
    """POST: the URL where the mailbox owner consents (what Generate Tokens opens)."""

    def get(self, request, tenant, name):
        raise MethodNotAllowed("GET")

    def post(self, request, tenant, name):
        account = get_object_or_404(self.queryset(), name=name)
        url = start_consent(account, user=request.user if request.user.pk else None)
        return Response({"authorization_url": url, "callback_url": callback_url()})


class AuthAccountRefreshView(AuthAccountListView):
    """POST: refresh the token now (or fetch one, for client-credentials kinds)."""

    def get(self, request, tenant, name):
        raise MethodNotAllowed("GET")

    def post(self, request, tenant, name):
        account = get_object_or_404(self.queryset(), name=name)
        if not account.provider.uses_tokens:
            raise Conflict("A Basic account has no token to refresh.")
        try:
            get_access_token(account, force_refresh=True)
        except TokenError as err:
            raise Conflict(err.describe()) from err
        account.refresh_from_db()
        return Response(self.serializer_class(account).data)
