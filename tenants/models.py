from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9_-]+$", "Use only letters, digits, '-' and '_' (no spaces)."
)


class Role(models.TextChoices):
    OWNER = "owner", "owner"
    ADMIN = "admin", "admin"
    SENDER = "sender", "sender"
    VIEWER = "viewer", "viewer"


# What each role may do, lowest first: a role may do everything the roles below it may.
ROLE_RANK = {Role.VIEWER: 0, Role.SENDER: 1, Role.ADMIN: 2, Role.OWNER: 3}


def role_at_least(role: str, needed: str) -> bool:
    return ROLE_RANK[Role(role)] >= ROLE_RANK[Role(needed)]


class Tenant(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> "TenantQuerySet":
        return self.filter(tenant=tenant)


class TenantOwned(models.Model):
    """Base of every tenant-owned row: all reads go through `objects.for_tenant(tenant)`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(TenantOwned):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="one_membership_per_user")
        ]
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} as {self.role}"


class ApiKey(TenantOwned):
    API_ROLES = [(r.value, r.label) for r in (Role.ADMIN, Role.SENDER, Role.VIEWER)]

    name = models.CharField(max_length=100, validators=[NAME_VALIDATOR])
    role = models.CharField(max_length=10, choices=API_ROLES, default=Role.SENDER)
    prefix = models.CharField(max_length=16, db_index=True)
    # Only a SHA-256 of the key is kept; keys are 256 random bits, so a slow hash adds nothing.
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
