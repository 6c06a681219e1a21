"""`Authorization: Bearer <api key>` for the REST API."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiKey
from .services import KEY_PREFIX, hash_key


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
        key = (
            ApiKey.objects.select_related("tenant")
            .filter(key_hash=hash_key(raw), revoked_at__isnull=True)
            .first()
        )
        if key is None:
            raise exceptions.AuthenticationFailed(
                "Unknown or revoked API key. Create a new one on the tenant's API keys page."
            )
        now = timezone.now()
        # One write a minute at most per key, not one per request.
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request):
        return self.keyword
