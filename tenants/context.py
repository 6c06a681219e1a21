from .access import visible_tenants


def tenant_frame(request):
    """The tenant switcher's list and the current tenant, for every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    tenant = getattr(request, "tenant", None)
    frame = {
        "switcher_tenants": visible_tenants(user).filter(active=True),
        "tenant": tenant,
        "tenant_role": getattr(request, "tenant_role", None),
    }
    if tenant is not None:
        from accounts.models import AuthAccount, TokenStatus

        frame["accounts_needing_consent"] = list(
            AuthAccount.objects.for_tenant(tenant).filter(token_status=TokenStatus.NEEDS_CONSENT)
        )
    return frame
