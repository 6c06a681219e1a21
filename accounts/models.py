from django.db import models

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
