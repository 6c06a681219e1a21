from django.conf import settings
from django.db import models
from django.utils import timezone

from mailadmin.fields import SecretField
from tenants.models import NAME_VALIDATOR, TenantOwned

from .providers import KIND_CHOICES, PROVIDERS


class TokenStatus(models.TextChoices):
    NONE = "none", "none"
    VALID = "valid", "valid"
    EXPIRING = "expiring", "expiring"
    REFRESHING = "refreshing", "refreshing"
    NEEDS_CONSENT = "needs_consent", "needs consent"
    ERROR = "error", "error"


class AuthAccount(TenantOwned):
    name = models.CharField(max_length=100, validators=[NAME_VALIDATOR])
    description = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    username = models.CharField("username", max_length=320, blank=True)
    password = SecretField("password", blank=True, null=True)

    # OAuth 2.0 client registration (per kind; Google and Microsoft fill endpoints and scopes).
    client_id = models.CharField("client ID", max_length=500, blank=True)
    client_secret = SecretField("client secret", blank=True, null=True)
    directory_id = models.CharField("directory (tenant) ID", max_length=200, blank=True)
    authorization_endpoint = models.URLField("authorization endpoint", max_length=500, blank=True)
    token_endpoint = models.URLField("token endpoint", max_length=500, blank=True)
    scopes = models.JSONField("scopes", default=list, blank=True)
    scope_delimiter = models.CharField("scope delimiter", max_length=5, default=" ", blank=True)

    # Tokens: encrypted, write-only, changed only by accounts.tokens and the consent callback.
    access_token = SecretField(blank=True, null=True)
    refresh_token = SecretField(blank=True, null=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    granted_scopes = models.JSONField(default=list, blank=True)
    consented_identity = models.CharField(max_length=320, blank=True)
    last_refresh_at = models.DateTimeField(null=True, blank=True)

    token_status = models.CharField(
        max_length=16, choices=TokenStatus.choices, default=TokenStatus.NONE
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"],
                name="auth_account_name_unique_in_tenant",
                violation_error_message="An auth account with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def provider(self):
        return PROVIDERS[self.kind]

    @property
    def has_password(self) -> bool:
        return bool(self.password)

    @property
    def has_client_secret(self) -> bool:
        return bool(self.client_secret)


class ConsentState(models.Model):
    """One Generate Tokens attempt: a random, single-use `state` valid for ten minutes.

    Bound to the account and the person who started it, not to a browser session, so the
    mailbox owner may finish the consent on another machine.
    """

    LIFETIME_SECONDS = 600

    state = models.CharField(max_length=100, unique=True)
    account = models.ForeignKey(AuthAccount, on_delete=models.CASCADE, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # The PKCE verifier, nonce and redirect URI: secret until the code is exchanged.
    flow = SecretField()
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"consent for {self.account} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def expired(self) -> bool:
        age = (timezone.now() - self.created_at).total_seconds()
        return age > self.LIFETIME_SECONDS
