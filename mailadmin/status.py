"""The closed vocabularies shared by models, transports, API and pages."""

from django.db import models


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    SENDING = "sending", "sending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"
    HELD = "held", "held"
    CANCELLED = "cancelled", "cancelled"


class Outcome(models.TextChoices):
    """What one delivery attempt came to."""

    SENT = "sent", "sent"
    DEFERRED = "deferred", "deferred (will retry)"
    FAILED = "failed", "failed"


class Priority(models.IntegerChoices):
    LOW = 0, "low"
    NORMAL = 5, "normal"
    HIGH = 9, "high"

    @classmethod
    def from_name(cls, name: str) -> "Priority":
        return {"low": cls.LOW, "normal": cls.NORMAL, "high": cls.HIGH}[name]
