from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.models import NAME_VALIDATOR, TenantOwned


class Transport(models.TextChoices):
    SMTP = "smtp", "SMTP"
    GRAPH = "graph", "Microsoft Graph sendMail"


class Security(models.TextChoices):
    NONE = "none", "None (plain text)"
    AUTO = "auto", "Auto (SSL on connect for 465, otherwise STARTTLS when offered)"
    SSL_ON_CONNECT = "ssl_on_connect", "SSL on connect (SMTPS, usually port 465)"
    STARTTLS = "starttls", "STARTTLS required (usually port 587)"
    STARTTLS_WHEN_AVAILABLE = "starttls_when_available", "STARTTLS when available"


class FromPolicy(models.TextChoices):
    FORCE_DEFAULT = "force_default", "Always use the default From"
    ALLOW_LISTED = "allow_listed", "Allow only listed addresses or @domains"
    ALLOW_ANY = "allow_any", "Allow any From"


class ServerConfig(TenantOwned):
    name = models.CharField(max_length=100, validators=[NAME_VALIDATOR])
    description = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    transport = models.CharField(max_length=16, choices=Transport.choices, default=Transport.SMTP)

    # Connection
    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(
        default=587, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    security = models.CharField(max_length=32, choices=Security.choices, default=Security.AUTO)
    verify_certificate = models.BooleanField(default=True)
    ca_certificates = models.TextField(blank=True, help_text="Extra trusted CAs, PEM.")
    timeout_seconds = models.FloatField(
        default=30.0, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )

    # Authentication
    auth_account = models.ForeignKey(
        "accounts.AuthAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="servers",
    )

    # Message defaults and From rules
    default_from = models.CharField(max_length=320, blank=True)
    default_from_name = models.CharField(max_length=200, blank=True)
    reply_to = models.CharField(max_length=320, blank=True)
    from_policy = models.CharField(
        max_length=16, choices=FromPolicy.choices, default=FromPolicy.ALLOW_ANY
    )
    allowed_from = models.JSONField(default=list, blank=True)

    # Delivery
    override_recipients = models.JSONField(default=list, blank=True)
    allow_utf8 = models.BooleanField(default=False)
    max_connections = models.PositiveIntegerField(default=4, validators=[MinValueValidator(1)])
    rate_limit_per_minute = models.PositiveIntegerField(default=0, help_text="0 means no limit.")
    fallback = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fallback_for",
        help_text="Tried when this server fails temporarily.",
    )

    # Microsoft Graph
    graph_mailbox = models.CharField(
        "Graph mailbox",
        max_length=320,
        blank=True,
        help_text="The user (address or ID) whose mailbox sends; the default From if empty.",
    )
    graph_endpoint = models.URLField(
        "Graph endpoint",
        max_length=300,
        default="https://graph.microsoft.com/v1.0",
        help_text="Change only for national clouds.",
    )
    save_to_sent_items = models.BooleanField("Save to Sent Items", default=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"],
                name="server_name_unique_in_tenant",
                violation_error_message="A server with this name already exists.",
            ),
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(is_default=True),
                name="one_default_server_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def endpoint_label(self) -> str:
        if self.transport == Transport.GRAPH:
            return f"Graph · {self.graph_mailbox or self.default_from}"
        return f"{self.host}:{self.port}"

    @property
    def effective_security(self) -> str:
        """`auto` as MailKit defines it: SSL on connect for 465, otherwise STARTTLS if offered."""
        if self.security == Security.AUTO:
            return Security.SSL_ON_CONNECT if self.port == 465 else Security.STARTTLS_WHEN_AVAILABLE
        return self.security
