"""`get_access_token(account)`: the only way to obtain an OAuth access token.

A stored token valid beyond SKEW is returned as it is: no send touches the token endpoint
while one exists. Otherwise the refresh happens under a row lock, with a re-read after the
lock is taken (another worker may have refreshed meanwhile), and the new access token and
the rotated refresh token are saved in the same transaction. So four workers sharing an
account make one refresh per lifetime, and a single-use refresh token is never spent twice.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mailadmin.errors import ConsentRequired, TokenError
from mailadmin.fields import UnreadableSecret, reveal

from .models import AuthAccount, TokenStatus
from .providers import TokenSet

log = logging.getLogger(__name__)


def skew() -> timedelta:
    """How long before expiry a token stops being handed out (clock drift, slow sends)."""
    return timedelta(seconds=settings.MAILADMIN_TOKEN_SKEW_SECONDS)


TOKEN_FIELDS = (
    "access_token",
    "refresh_token",
    "token_expires_at",
    "granted_scopes",
    "consented_identity",
    "last_refresh_at",
    "token_status",
    "last_error",
)


def usable(account: AuthAccount, *, margin: timedelta | None = None) -> bool:
    margin = skew() if margin is None else margin
    token = account.access_token
    return (
        bool(token)
        and not isinstance(token, UnreadableSecret)
        and account.token_status in (TokenStatus.VALID, TokenStatus.EXPIRING)
        and account.token_expires_at is not None
        and account.token_expires_at - margin > timezone.now()
    )


def store_tokens(account: AuthAccount, tokens: TokenSet, *, identity: str | None = None) -> None:
    """Save a token answer. Call inside the transaction that holds the account's row lock."""
    account.access_token = tokens.access_token
    if tokens.refresh_token:  # rotated: the old one may already be dead at the provider
        account.refresh_token = tokens.refresh_token
    account.token_expires_at = tokens.expires_at
    account.granted_scopes = tokens.scopes
    if identity is not None:
        account.consented_identity = identity
    account.last_refresh_at = timezone.now()
    account.token_status = TokenStatus.VALID
    account.last_error = ""
    account.save(update_fields=[*TOKEN_FIELDS, "updated_at"])


def needs_consent_error(account: AuthAccount) -> ConsentRequired:
    return ConsentRequired(
        f"Auth account '{account.name}' needs consent again: {account.last_error or 'no grant'}",
        hint="Press Re-authorize on the auth account and sign in as its mailbox.",
    )


def get_access_token(account: AuthAccount, *, force_refresh: bool = False) -> str:
    """A valid access token for the account; raises a TokenError subclass when none can be had.

    `force_refresh` is for a server that refused the current token (SMTP 535, Graph 401).
    """
    if not force_refresh and usable(account):
        return reveal(account.access_token)
    if account.token_status == TokenStatus.NEEDS_CONSENT:
        raise needs_consent_error(account)
    refused = account.access_token if force_refresh else None
    failure: TokenError | None = None
    lost_now = False
    with transaction.atomic():
        locked = AuthAccount.objects.select_for_update().get(pk=account.pk)
        if locked.token_status == TokenStatus.NEEDS_CONSENT:
            failure = needs_consent_error(locked)
        elif usable(locked) and (refused is None or locked.access_token != refused):
            pass  # another worker refreshed while this one waited for the lock
        else:
            try:
                store_tokens(locked, locked.provider.refresh(locked))
                log.info("refreshed the token of auth account %s", locked.pk)
            except ConsentRequired as err:
                # The refresh token just refused is the stored one (the lock holds it), so
                # this is a real loss of the grant, not a race with another worker.
                record_failure(locked, err, TokenStatus.NEEDS_CONSENT)
                failure, lost_now = err, True
            except TokenError as err:
                status = locked.token_status if err.retryable else TokenStatus.ERROR
                record_failure(locked, err, status)
                failure = err
    for field in TOKEN_FIELDS:
        setattr(account, field, getattr(locked, field))
    if failure is not None:
        if lost_now:
            from .notify import consent_lost

            transaction.on_commit(lambda: consent_lost(locked.pk))
        raise failure
    return reveal(locked.access_token)


def record_failure(account: AuthAccount, err: TokenError, status: str) -> None:
    account.token_status = status
    account.last_error = err.describe()
    account.save(update_fields=["token_status", "last_error", "updated_at"])


def due_for_refresh(account: AuthAccount, *, window: timedelta, idle: timedelta) -> bool:
    """Expiring within `window`, or a refresh token unused for `idle` (providers retire idle
    refresh tokens: Microsoft after 90 days), so a quiet tenant never finds a dead account."""
    if account.token_status not in (TokenStatus.VALID, TokenStatus.EXPIRING):
        return False
    now = timezone.now()
    expiring = account.token_expires_at is None or account.token_expires_at - window <= now
    idle_too_long = account.last_refresh_at is None or now - account.last_refresh_at >= idle
    return expiring or (account.provider.consent and idle_too_long)


def refresh_if_due(account_id: int) -> bool:
    """Refresh one account if it is still due once its row lock is held. True if refreshed."""
    window = timedelta(seconds=settings.MAILADMIN_REFRESH_WINDOW_SECONDS)
    idle = timedelta(days=settings.MAILADMIN_IDLE_REFRESH_DAYS)
    account = AuthAccount.objects.get(pk=account_id)
    if not due_for_refresh(account, window=window, idle=idle):
        return False
    with transaction.atomic():
        locked = AuthAccount.objects.select_for_update().get(pk=account_id)
        if not due_for_refresh(locked, window=window, idle=idle):
            return False  # another worker did it while this one waited
    get_access_token(locked, force_refresh=True)
    return True
