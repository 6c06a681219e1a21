"""Who may see which tenant, and with which role. Invisible tenants are a 404, never a 403."""

from django.http import Http404

from .models import ApiKey, Membership, Role, Tenant


def visible_tenants(user):
    if user is None or not user.is_authenticated:
        return Tenant.objects.none()
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(pk__in=Membership.objects.filter(user=user).values("tenant"))


def resolve_tenant(slug: str, *, user=None, api_key: ApiKey | None = None) -> tuple[Tenant, str]:
    """The tenant called `slug` and the caller's role in it, or Http404."""
    if api_key is not None:
        if api_key.tenant.slug != slug or not api_key.tenant.active:
            raise Http404("No such tenant.")
        return api_key.tenant, api_key.role
    if user is None or not user.is_authenticated:
        raise Http404("No such tenant.")
    if user.is_superuser:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise Http404("No such tenant.")
        return tenant, Role.OWNER
    membership = (
        Membership.objects.select_related("tenant")
        .filter(user=user, tenant__slug=slug, tenant__active=True)
        .first()
    )
    if membership is None:
        raise Http404("No such tenant.")
    return membership.tenant, membership.role
