"""Every write to auth accounts."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from tenants.models import Tenant

from .models import AuthAccount
from .providers import PROVIDERS

PLAIN_FIELDS = ("name", "description", "active", "kind", "username")
SECRET_FIELDS = ("password",)


class InUse(Exception):
    """Deleting the account would leave a server without its login."""


@transaction.atomic
def save_account(tenant: Tenant, data: dict, *, account: AuthAccount | None = None) -> AuthAccount:
    """Create or update an account. Secrets given empty or absent keep their stored value."""
    account = account or AuthAccount(tenant=tenant)
    for field in PLAIN_FIELDS:
        if field in data:
            setattr(account, field, data[field])
    for field in SECRET_FIELDS:
        if data.get(field):
            setattr(account, field, data[field])
    errors: dict[str, list[str]] = {}
    try:
        account.full_clean(exclude=["tenant", *SECRET_FIELDS])
    except ValidationError as err:
        errors.update(err.message_dict)
    others = AuthAccount.objects.for_tenant(tenant).exclude(pk=account.pk)
    if account.name and others.filter(name=account.name).exists():
        errors.setdefault("name", []).append(
            f"An auth account named '{account.name}' already exists."
        )
    provider = PROVIDERS.get(account.kind)
    if provider is not None:
        for field, messages in provider.validate(account).items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    account.save()
    return account


def delete_account(account: AuthAccount) -> None:
    try:
        account.delete()
    except ProtectedError as err:
        names = ", ".join(sorted(obj.name for obj in err.protected_objects))
        raise InUse(
            f"Auth account '{account.name}' is used by server(s) {names}. "
            "Point those servers at another account (or none) first."
        ) from err
