"""Generate Tokens: start the authorization-code flow, and finish it at the one callback URL."""

import json
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mailadmin.errors import ConfigurationError, TokenError

from .models import AuthAccount, ConsentState, TokenStatus
from .tokens import store_tokens


def callback_url() -> str:
    return f"{settings.MAILADMIN_PUBLIC_URL}/oauth/callback"


class ConsentFailed(Exception):
    """A consent that did not complete: what went wrong and what to do about it."""

    def __init__(self, cause: str, fix: str, *, account: AuthAccount | None = None):
        super().__init__(cause)
        self.cause = cause
        self.fix = fix
        self.account = account


def start_consent(account: AuthAccount, *, user=None) -> str:
    """Create a single-use state and return the URL where the mailbox owner consents."""
    if not account.provider.consent:
        raise ConfigurationError(
            f"A {account.provider.label} account needs no consent.",
            hint="Only authorization-code kinds (Generic, Google, Microsoft) use Generate Tokens.",
        )
    state = secrets.token_urlsafe(32)
    url, flow = account.provider.start(account, state=state, redirect_uri=callback_url())
    ConsentState.objects.create(
        state=state,
        account=account,
        started_by=user if user and user.pk else None,
        flow=json.dumps(flow),
    )
    return url


def _take_state(state: str) -> ConsentState:
    """Mark the state used, for good, whatever happens next."""
    with transaction.atomic():
        row = (
            ConsentState.objects.select_for_update()
            .select_related("account__tenant")
            .filter(state=state)
            .first()
        )
        if row is None or not state:
            raise ConsentFailed(
                "This sign-in answer does not belong to any Generate Tokens request.",
                "Start again with Generate Tokens on the auth account's page.",
            )
        if row.used_at is not None:
            raise ConsentFailed(
                "This sign-in answer was already used.",
                "Each Generate Tokens link works once. Start again from the auth account.",
                account=row.account,
            )
        row.used_at = timezone.now()
        row.save(update_fields=["used_at"])
    if row.expired:
        raise ConsentFailed(
            "This sign-in took longer than 10 minutes, so its link expired.",
            "Press Generate Tokens again and finish within 10 minutes.",
            account=row.account,
        )
    return row


def provider_error(error: str, description: str) -> tuple[str, str]:
    """(cause, fix) for an error the provider sent to the callback."""
    words = f"{error}: {description}" if description else error
    if error == "access_denied" and "AADSTS65001" not in description:
        return (
            "Consent was declined, or the sign-in page was closed.",
            "Press Generate Tokens again, sign in as the account's mailbox and choose Accept.",
        )
    if "AADSTS65001" in description or error in ("consent_required", "admin_policy_enforced"):
        return (
            f"Your organization requires an administrator to approve this app first ({words}).",
            "Ask a Microsoft 365 administrator to open the app registration → API permissions → "
            "Grant admin consent, then press Generate Tokens again.",
        )
    if error == "redirect_uri_mismatch" or "AADSTS50011" in description:
        return (
            f"The provider does not accept this app's callback URL ({words}).",
            f"Register exactly {callback_url()} as a redirect URI of the app, then try again.",
        )
    if error in ("invalid_client", "unauthorized_client") or "AADSTS700016" in description:
        return (
            f"The provider does not recognize this app ({words}).",
            "Check the auth account's client ID (and directory ID for Microsoft).",
        )
    if error == "invalid_scope":
        return (
            f"The provider refused the requested scopes ({words}).",
            "Check the auth account's scopes against the provider's documentation.",
        )
    return (f"The provider answered: {words}.", "Check the auth account's settings and try again.")


def finish_consent(params: dict) -> AuthAccount:
    row = _take_state(params.get("state", ""))
    account = row.account
    if params.get("error"):
        cause, fix = provider_error(params["error"], params.get("error_description", ""))
        raise ConsentFailed(cause, fix, account=account)
    try:
        tokens = account.provider.finish(account, flow=json.loads(row.flow), params=params)
    except TokenError as err:
        raise ConsentFailed(
            err.message, err.hint or "Try Generate Tokens again.", account=account
        ) from err
    if not tokens.refresh_token:
        raise ConsentFailed(
            "The provider returned no refresh token, so the connection would stop working "
            "when this access token expires (usually within an hour).",
            "Google: remove the app under the account's Security → Third-party access, then "
            "try again. Microsoft: keep the offline_access scope. Generic: ask for the "
            "provider's offline scope.",
            account=account,
        )
    identity = tokens.identity
    if account.username and identity and identity.lower() != account.username.lower():
        AuthAccount.objects.filter(pk=account.pk).update(
            token_status=TokenStatus.ERROR,
            last_error=f"Consent was given by {identity}, not {account.username}.",
        )
        raise ConsentFailed(
            f"The consent was given by {identity}, but this account sends as "
            f"{account.username}. The tokens were not saved.",
            f"Press Generate Tokens again and sign in as {account.username}, or change the "
            "account's username if the other mailbox is intended.",
            account=account,
        )
    with transaction.atomic():
        locked = AuthAccount.objects.select_for_update().get(pk=account.pk)
        # Only what the provider said; an unverified username is not an identity.
        store_tokens(locked, tokens, identity=identity)
        from outbox.services import release_held

        release_held(locked)
    return locked
