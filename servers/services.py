"""Every write to server configurations."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import AuthAccount
from tenants.models import Tenant

from .models import ServerConfig
from .validation import server_errors

FIELDS = (
    "name",
    "description",
    "active",
    "is_default",
    "transport",
    "host",
    "port",
    "security",
    "verify_certificate",
    "ca_certificates",
    "timeout_seconds",
    "default_from",
    "default_from_name",
    "reply_to",
    "from_policy",
    "allowed_from",
    "override_recipients",
    "allow_utf8",
    "max_connections",
    "rate_limit_per_minute",
    "graph_mailbox",
    "graph_endpoint",
    "save_to_sent_items",
)


@transaction.atomic
def save_server(tenant: Tenant, data: dict, *, server: ServerConfig | None = None) -> ServerConfig:
    """Create or update a server. `auth_account` is an account name of the same tenant, or None.

    The first server of a tenant becomes its default; making a server the default takes the
    mark from the previous one in the same transaction.
    """
    server = server or ServerConfig(tenant=tenant)
    for field in FIELDS:
        if field in data:
            setattr(server, field, data[field])
    errors: dict[str, list[str]] = {}
    if "auth_account" in data:
        name = data["auth_account"]
        if name in (None, ""):
            server.auth_account = None
        else:
            account = AuthAccount.objects.for_tenant(tenant).filter(name=name).first()
            if account is None:
                errors["auth_account"] = [f"No auth account named '{name}' in this tenant."]
            else:
                server.auth_account = account
    if "fallback" in data:
        name = data["fallback"]
        server.fallback = None
        if name not in (None, ""):
            fallback = ServerConfig.objects.for_tenant(tenant).filter(name=name).first()
            if fallback is None:
                errors["fallback"] = [f"No server named '{name}' in this tenant."]
            elif problem := fallback_cycle(server, fallback):
                errors["fallback"] = [problem]
            else:
                server.fallback = fallback
    if errors:  # unknown names: the cross-field checks below need real ones
        raise ValidationError(errors)
    suggested = server.auth_account.provider.suggested_server if server.auth_account else {}
    if server.transport == "smtp" and not server.host and suggested:
        # Google and Microsoft accounts log into well-known servers: fill them in.
        server.host, server.port, server.security = (
            suggested["host"],
            suggested["port"],
            suggested["security"],
        )
    try:
        server.full_clean(exclude=["tenant", "auth_account"], validate_constraints=False)
    except ValidationError as err:
        errors.update(err.message_dict)
    for field, messages in server_errors(server).items():
        errors.setdefault(field, []).extend(m for m in messages if m not in errors.get(field, []))
    others = ServerConfig.objects.for_tenant(tenant).exclude(pk=server.pk)
    if server.name and others.filter(name=server.name).exists():
        errors.setdefault("name", []).append(f"A server named '{server.name}' already exists.")
    if errors:
        raise ValidationError(errors)
    if not others.filter(is_default=True).exists():
        server.is_default = True
    elif server.is_default:
        others.filter(is_default=True).update(is_default=False)
    server.save()
    return server


def fallback_cycle(server: ServerConfig, fallback: ServerConfig) -> str | None:
    """Why `fallback` cannot back up `server` (it leads back to it), or None."""
    chain = [server.name or "this server", fallback.name]
    node = fallback
    while node is not None:
        if node is server or (node.pk is not None and node.pk == server.pk):
            return (
                f"That would send mail in a circle ({' → '.join(chain)}). Choose a fallback "
                "that does not lead back to this server."
            )
        node = node.fallback
        if node is not None:
            chain.append(node.name)
    return None


@transaction.atomic
def delete_server(server: ServerConfig) -> None:
    was_default = server.is_default
    tenant = server.tenant
    server.delete()
    if was_default:
        successor = ServerConfig.objects.for_tenant(tenant).order_by("name").first()
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default"])
