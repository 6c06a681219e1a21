import uuid

from django.db import models
from django.utils import timezone

from mailadmin.status import MessageStatus, Outcome, Priority
from tenants.models import TenantOwned


class Message(TenantOwned):
    """One message in the durable outbox. The row, not the broker, is the source of truth."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Every status change rewrites each index of this busy table, so no index here repeats
    # one below: outbox_claim starts with server, outbox_tenant_log with tenant and time.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    server = models.ForeignKey(
        "servers.ServerConfig",
        null=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    server_name = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    from_email = models.CharField(max_length=320)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list)
    bcc = models.JSONField(default=list)
    # Where the message really goes (after a server's recipient override).
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=998, blank=True)
    raw = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    message_id = models.CharField(max_length=998)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    is_test = models.BooleanField(default=False)

    attempts_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Not sent after this: it fails as expired (reminders and codes that are too old to matter).
    expires_at = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_reply = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            # The claim query: one server's due mail, highest priority first, then oldest.
            models.Index(
                fields=["server", "status", "-priority", "next_attempt_at"], name="outbox_claim"
            ),
            models.Index(fields=["tenant", "-created_at"], name="outbox_tenant_log"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="one_message_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"

    @property
    def priority_name(self) -> str:
        return Priority(self.priority).label

    @property
    def can_cancel(self) -> bool:
        return self.status in (MessageStatus.QUEUED, MessageStatus.HELD)

    @property
    def can_retry(self) -> bool:
        return self.status in (MessageStatus.FAILED, MessageStatus.CANCELLED)


class Attempt(TenantOwned):
    """One try at delivering a message: the delivery log."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempts")
    server_name = models.CharField(max_length=100)
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    code = models.IntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at"]
