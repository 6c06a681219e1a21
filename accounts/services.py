"""Every write to auth accounts (tokens are written by accounts.tokens and accounts.consent)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from tenants.models import Tenant

from .models import AuthAccount, TokenStatus
from .providers import PROVIDERS

PLAIN_FIELDS = (
    "name",
    "description",
    "active",
    "kind",
    "username",
    "client_id",
    "directory_id",
    "authorization_endpoint",
    "token_endpoint",
    "scopes",
    "scope_delimiter",
)
SECRET_FIELDS = ("password", "client_secret")
# Changing any of these makes the stored tokens belong to another registration or mailbox.
GRANT_FIELDS = ("kind", "username", "client_id", "directory_id", "token_endpoint", "scopes")


class InUse(Exception):
    """Deleting the account would leave a server without its login."""


def _scope_errors(scopes) -> list[str]:
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        return ["Give the scopes as a list of strings."]
    return [f"Scope '{s}' contains a space: give one scope per entry." for s in scopes if " " in s]


@transaction.atomic
def save_account(tenant: Tenant, data: dict, *, account: AuthAccount | None = None) -> AuthAccount:
    """Create or update an account. Secrets given empty or absent keep their stored value."""
    account = account or AuthAccount(tenant=tenant)
    before = {f: getattr(account, f) for f in GRANT_FIELDS} if account.pk else None
    for field in PLAIN_FIELDS:
        if field in data:
            setattr(account, field, data[field])
    for field in SECRET_FIELDS:
        if data.get(field):
            setattr(account, field, data[field])
    errors: dict[str, list[str]] = {}
    provider = PROVIDERS.get(account.kind)
    if provider is not None:
        provider.fill_defaults(account)
    try:
        account.full_clean(exclude=["tenant", *SECRET_FIELDS])
    except ValidationError as err:
        errors.update(err.message_dict)
    if problems := _scope_errors(account.scopes):
        errors.setdefault("scopes", []).extend(problems)
    others = AuthAccount.objects.for_tenant(tenant).exclude(pk=account.pk)
    if account.name and others.filter(name=account.name).exists():
        errors.setdefault("name", []).append(
            f"An auth account named '{account.name}' already exists."
        )
    if provider is not None:
        for field, messages in provider.validate(account).items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    if before is not None and any(before[f] != getattr(account, f) for f in GRANT_FIELDS):
        _forget_tokens(account)
    account.save()
    return account


def _forget_tokens(account: AuthAccount) -> None:
    account.access_token = None
    account.refresh_token = None
    account.token_expires_at = None
    account.granted_scopes = []
    account.consented_identity = ""
    account.token_status = TokenStatus.NONE
    account.last_error = ""


def delete_account(account: AuthAccount) -> None:
    try:
        account.delete()
    except ProtectedError as err:
        names = ", ".join(sorted(obj.name for obj in err.protected_objects))
        raise InUse(
            f"Auth account '{account.name}' is used by server(s) {names}. "
            "Point those servers at another account (or none) first."
        ) from err
