"""Beat: refresh tokens before they expire, one task per account (ids, not objects)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from mailadmin.errors import TokenError

from .models import AuthAccount, TokenStatus
from .providers import PROVIDERS
from .tokens import refresh_if_due

log = logging.getLogger(__name__)


@shared_task
def refresh_expiring_tokens() -> int:
    now = timezone.now()
    soon = now + timedelta(seconds=settings.MAILADMIN_REFRESH_WINDOW_SECONDS)
    idle = now - timedelta(days=settings.MAILADMIN_IDLE_REFRESH_DAYS)
    token_kinds = [p.id for p in PROVIDERS.values() if p.uses_tokens]
    due = AuthAccount.objects.filter(
        Q(token_expires_at__lte=soon) | Q(last_refresh_at__lte=idle),
        active=True,
        kind__in=token_kinds,
        token_status__in=[TokenStatus.VALID, TokenStatus.EXPIRING],
    ).values_list("id", flat=True)
    ids = list(due)
    for account_id in ids:
        refresh_account.delay(account_id)
    return len(ids)


@shared_task(acks_late=True)
def refresh_account(account_id: int) -> None:
    try:
        refresh_if_due(account_id)
    except TokenError as err:
        # Recorded on the account (and a lost grant notifies its admins); retried next beat.
        log.warning("refresh of auth account %s failed: %s", account_id, err.message)
