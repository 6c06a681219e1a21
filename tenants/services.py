"""Every write to tenants, memberships and API keys."""

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .models import ApiKey, Membership, Role, Tenant

KEY_PREFIX = "ma_"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def create_tenant(*, slug: str, name: str, owner=None) -> Tenant:
    tenant = Tenant.objects.create(slug=slug, name=name or slug)
    if owner is not None and not owner.is_superuser:
        Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
    return tenant


@transaction.atomic
def update_tenant(tenant: Tenant, **fields) -> Tenant:
    for key, value in fields.items():
        setattr(tenant, key, value)
    tenant.save()
    return tenant


def create_api_key(tenant: Tenant, *, name: str, role: str) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw key, which exists only in this return value."""
    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        tenant=tenant, name=name, role=role, prefix=KEY_PREFIX + prefix, key_hash=hash_key(raw)
    )
    return key, raw


def revoke_api_key(key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def set_membership(tenant: Tenant, *, username: str, role: str) -> Membership:
    user = get_user_model().objects.get(username=username)
    membership, _ = Membership.objects.update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership


def remove_membership(membership: Membership) -> None:
    membership.delete()
