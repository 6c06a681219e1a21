from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .access import resolve_tenant, visible_tenants
from .models import ApiKey, Role, Tenant, role_at_least


class TenantAPIView(APIView):
    """Resolves `{tenant}` for the caller (404 when invisible) and checks the role needed."""

    read_role = Role.VIEWER
    write_role = Role.ADMIN

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        self.tenant, self.role = resolve_tenant(
            kwargs["tenant"], user=None if api_key else request.user, api_key=api_key
        )
        needed = self.read_role if request.method in SAFE_METHODS else self.write_role
        if not role_at_least(self.role, needed):
            raise PermissionDenied(
                f"This needs the '{needed}' role in tenant '{self.tenant.slug}'; "
                f"you have '{self.role}'."
            )


class NamedListView(TenantAPIView):
    """GET the tenant's objects; POST creates one through `save(tenant, data)`."""

    serializer_class: type[serializers.Serializer]

    def queryset(self):
        raise NotImplementedError

    def save(self, tenant, data, instance=None):
        raise NotImplementedError

    def get(self, request, tenant):
        return Response(self.serializer_class(self.queryset(), many=True).data)

    def post(self, request, tenant):
        data = self.serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        created = self.save(self.tenant, data.validated_data)
        return Response(self.serializer_class(created).data, status=status.HTTP_201_CREATED)


class NamedDetailView(NamedListView):
    """GET/PUT/PATCH/DELETE one object of the tenant by its name (404 in another tenant)."""

    def remove(self, instance) -> None:
        raise NotImplementedError

    def get_object(self, name):
        return get_object_or_404(self.queryset(), name=name)

    def get(self, request, tenant, name):
        return Response(self.serializer_class(self.get_object(name)).data)

    def _update(self, request, name, *, partial):
        instance = self.get_object(name)
        data = self.serializer_class(instance, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        saved = self.save(self.tenant, data.validated_data, instance)
        return Response(self.serializer_class(saved).data)

    def put(self, request, tenant, name):
        return self._update(request, name, partial=False)

    def patch(self, request, tenant, name):
        return self._update(request, name, partial=True)

    def delete(self, request, tenant, name):
        self.remove(self.get_object(name))
        return Response(status=status.HTTP_204_NO_CONTENT)


class Conflict(APIException):
    status_code = 409
    default_detail = "Conflict."


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "active", "created_at"]
        read_only_fields = ["created_at"]


def _require_superuser(request):
    if not getattr(request.user, "is_superuser", False):
        raise PermissionDenied("Only a platform superuser may manage tenants.")


class TenantListView(APIView):
    def get(self, request):
        if isinstance(request.auth, ApiKey):
            tenants = [request.auth.tenant]
        else:
            tenants = visible_tenants(request.user)
        return Response(TenantSerializer(tenants, many=True).data)

    def post(self, request):
        _require_superuser(request)
        data = TenantSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = services.create_tenant(
            slug=data.validated_data["slug"], name=data.validated_data["name"]
        )
        return Response(TenantSerializer(tenant).data, status=status.HTTP_201_CREATED)


class TenantDetailView(APIView):
    def _get(self, request, tenant):
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        found, _ = resolve_tenant(tenant, user=None if api_key else request.user, api_key=api_key)
        return found

    def get(self, request, tenant):
        return Response(TenantSerializer(self._get(request, tenant)).data)

    def patch(self, request, tenant):
        found = self._get(request, tenant)
        _require_superuser(request)
        data = TenantSerializer(found, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(TenantSerializer(services.update_tenant(found, **data.validated_data)).data)

    def delete(self, request, tenant):
        found = self._get(request, tenant)
        _require_superuser(request)
        found.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
