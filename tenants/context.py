from .access import visible_tenants


def tenant_frame(request):
    """The tenant switcher's list and the current tenant, for every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "switcher_tenants": visible_tenants(user).filter(active=True),
        "tenant": getattr(request, "tenant", None),
        "tenant_role": getattr(request, "tenant_role", None),
    }
