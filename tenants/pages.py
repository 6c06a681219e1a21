"""Tenant resolution for server-rendered pages (the API has TenantAPIView)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .access import resolve_tenant
from .models import Role, role_at_least


def tenant_page(*, read: str = Role.VIEWER, write: str = Role.ADMIN):
    """Resolve `tenant` from the URL (404 when invisible) and check the role for the method."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request, tenant, *args, **kwargs):
            request.tenant, request.tenant_role = resolve_tenant(tenant, user=request.user)
            needed = read if request.method in ("GET", "HEAD") else write
            if not role_at_least(request.tenant_role, needed):
                raise PermissionDenied(f"This needs the '{needed}' role in this tenant.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def apply_errors(form, err) -> None:
    """Put a service's ValidationError onto a form, by field where the form has that field."""
    for field, messages in err.message_dict.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
