"""Tell a tenant's owners and admins, once, that an account lost its grant.

Its own mail is held (outbox.delivery), so the notice goes through another working server
of the tenant, or through the system server (MAILADMIN_SYSTEM_SERVER = "tenant/server").
"""

import logging

from django.conf import settings

from mailadmin.errors import MessageRejected
from tenants.models import Membership, Role, Tenant

from .models import AuthAccount, TokenStatus

log = logging.getLogger(__name__)


def notice_route(account: AuthAccount) -> tuple[Tenant, str] | None:
    from servers.models import ServerConfig

    others = (
        ServerConfig.objects.for_tenant(account.tenant)
        .filter(active=True)
        .exclude(default_from="")
        .exclude(auth_account=account)
        .exclude(auth_account__token_status=TokenStatus.NEEDS_CONSENT)
        .order_by("-is_default", "name")
    )
    if server := others.first():
        return account.tenant, server.name
    slug, _, name = settings.MAILADMIN_SYSTEM_SERVER.partition("/")
    tenant = Tenant.objects.filter(slug=slug).first() if name else None
    return (tenant, name) if tenant else None


def consent_lost(account_id: int) -> None:
    from outbox.services import enqueue_message

    account = AuthAccount.objects.select_related("tenant").get(pk=account_id)
    members = Membership.objects.for_tenant(account.tenant).filter(
        role__in=[Role.OWNER, Role.ADMIN]
    )
    recipients = sorted({m.user.email for m in members.select_related("user") if m.user.email})
    route = notice_route(account)
    if not recipients or route is None:
        log.warning("auth account %s needs consent; no admin address or server to tell", account_id)
        return
    tenant, server = route
    link = f"{settings.MAILADMIN_PUBLIC_URL}/t/{account.tenant.slug}/auth-accounts/{account.name}/"
    try:
        enqueue_message(
            tenant,
            server=server,
            to=recipients,
            subject=f"Action needed: auth account {account.name} must be re-authorized",
            text=(
                f"The provider no longer accepts the sign-in of auth account '{account.name}' "
                f"({account.username}) in tenant {account.tenant.name}.\n\n"
                f"Why: {account.last_error}\n\n"
                "Mail that uses it is held, not lost. To release it, open the account, press "
                f"Re-authorize and sign in as {account.username or 'its mailbox'}:\n{link}\n"
            ),
            priority="high",
        )
    except MessageRejected as err:
        log.warning("could not queue the consent notice for account %s: %s", account_id, err)
