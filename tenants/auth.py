"""`Authorization: Bearer <api key>` for the REST API."""

from datetime import timedelta
from functools import cache

from django.utils import timezone
from rest_framework import authentication, exceptions

from mailadmin.hotpath import columns, fetch_row

from .models import ApiKey, Tenant
from .services import KEY_PREFIX, hash_key


@cache
def _key_sql() -> str:
    """A live key and its tenant, in one statement (the hot path of every API call)."""
    return (
        f"SELECT {columns(ApiKey, 'k')}, {columns(Tenant, 't')} "  # noqa: S608
        f"FROM {ApiKey._meta.db_table} k JOIN {Tenant._meta.db_table} t ON t.id = k.tenant_id "
        "WHERE k.key_hash = %s AND k.revoked_at IS NULL"
    )


class ApiKeyPrincipal:
    """request.user for a call made with an API key: it belongs to the key's tenant only."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.pk = None
        self.username = f"api-key:{key.prefix}"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        raw = raw.strip()
        if not raw.startswith(KEY_PREFIX):
            raise exceptions.AuthenticationFailed("That is not a mailadmin API key.")
        found = self.find(request, hash_key(raw))
        if found is None:
            raise exceptions.AuthenticationFailed(
                "Unknown or revoked API key. Create a new one on the tenant's API keys page."
            )
        key, key.tenant = found
        now = timezone.now()
        # One write a minute at most per key, not one per request.
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return ApiKeyPrincipal(key), key

    def find(self, request, key_hash: str) -> tuple[ApiKey, Tenant] | None:
        """The live key with this hash and its tenant (a view may ask for more in the same
        statement; see outbox.sendkey)."""
        return fetch_row(_key_sql(), [key_hash], ApiKey, Tenant)

    def authenticate_header(self, request):
        return self.keyword
