from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from tenants.api import TenantAPIView

from . import services
from .models import AuthAccount
from .providers import KIND_CHOICES


class Conflict(APIException):
    status_code = 409
    default_detail = "Conflict."


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


def _accounts(view):
    return AuthAccount.objects.for_tenant(view.tenant)


class AuthAccountListView(TenantAPIView):
    def get(self, request, tenant):
        return Response(AuthAccountSerializer(_accounts(self), many=True).data)

    def post(self, request, tenant):
        data = AuthAccountSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.save_account(self.tenant, data.validated_data)
        return Response(AuthAccountSerializer(account).data, status=status.HTTP_201_CREATED)


class AuthAccountDetailView(TenantAPIView):
    def get(self, request, tenant, name):
        account = get_object_or_404(_accounts(self), name=name)
        return Response(AuthAccountSerializer(account).data)

    def _update(self, request, name, *, partial):
        account = get_object_or_404(_accounts(self), name=name)
        data = AuthAccountSerializer(account, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        account = services.save_account(self.tenant, data.validated_data, account=account)
        return Response(AuthAccountSerializer(account).data)

    def put(self, request, tenant, name):
        return self._update(request, name, partial=False)

    def patch(self, request, tenant, name):
        return self._update(request, name, partial=True)

    def delete(self, request, tenant, name):
        account = get_object_or_404(_accounts(self), name=name)
        try:
            services.delete_account(account)
        except services.InUse as err:
            raise Conflict(str(err)) from err
        return Response(status=status.HTTP_204_NO_CONTENT)
