"""The base of every OAuth 2.0 kind: endpoints, PKCE, the code exchange and refresh.

Plain RFC 6749 form posts over `requests`; kinds that need more (Microsoft uses msal)
override `start`, `finish`, `refresh` or `fetch`.
"""

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

import jwt
import requests
from django.utils import timezone

from mailadmin.errors import (
    ConsentRequired,
    TokenEndpointUnavailable,
    TokenError,
)
from mailadmin.fields import reveal

from .base import Provider, SmtpLogin

TIMEOUT_SECONDS = 15


@dataclass
class TokenSet:
    access_token: str
    expires_at: datetime
    refresh_token: str | None = None
    scopes: list[str] = field(default_factory=list)
    identity: str = ""


def http() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "mailadmin"
    return session


def identity_from_id_token(id_token: str | None) -> str:
    """The consenting mailbox from an ID token. The token came straight from the token
    endpoint over TLS, so its claims are read without checking the signature (OIDC 3.1.3.7)."""
    if not id_token:
        return ""
    claims = jwt.decode(id_token, options={"verify_signature": False})
    return claims.get("email") or claims.get("preferred_username") or claims.get("upn") or ""


def token_error(status: int, body: dict, *, where: str) -> TokenError:
    """Translate a token endpoint's error answer (RFC 6749 5.2) into a typed error."""
    error = body.get("error", "")
    words = body.get("error_description") or error or f"HTTP {status}"
    if error == "invalid_grant":
        return ConsentRequired(
            f"The provider no longer accepts this account's grant: {words}",
            hint="Press Re-authorize on the auth account and sign in as its mailbox again.",
            reply=words,
        )
    if error in ("invalid_client", "unauthorized_client") or "AADSTS7000215" in words:
        return TokenError(
            f"The provider refused the client credentials: {words}",
            hint="Check the client ID and client secret (secrets expire; create a new one).",
            reply=words,
        )
    if status >= 500 or status == 429:
        return TokenEndpointUnavailable(
            f"The token endpoint {where} answered {status}: {words}",
            hint="It will be retried; mail waits meanwhile.",
            reply=words,
        )
    return TokenError(f"The token endpoint {where} refused the request: {words}", reply=words)


def post_token_request(url: str, data: dict, *, auth=None) -> dict:
    try:
        response = http().post(url, data=data, auth=auth, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as err:
        raise TokenEndpointUnavailable(
            f"The token endpoint {url} cannot be reached ({type(err).__name__}).",
            hint="It will be retried; mail waits meanwhile.",
        ) from err
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        raise token_error(response.status_code, body, where=url)
    return body


def token_set(body: dict, *, requested_scopes: list[str], delimiter: str = " ") -> TokenSet:
    expires_in = int(body.get("expires_in") or 3600)
    granted = body.get("scope")
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token"),
        expires_at=timezone.now() + timedelta(seconds=expires_in),
        scopes=granted.split(delimiter or " ") if granted else list(requested_scopes),
        identity=identity_from_id_token(body.get("id_token")),
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenProvider(Provider):
    """A kind that logs into SMTP with XOAUTH2 and an access token."""

    uses_tokens = True
    consent = False
    secret_fields = ("client_secret",)
    # Field values filled in when the admin leaves them empty.
    defaults: dict = {}

    def fill_defaults(self, account) -> None:
        for name, value in self.defaults.items():
            if getattr(account, name) in ("", None, []):
                setattr(account, name, list(value) if isinstance(value, list) else value)

    def scope_string(self, account) -> str:
        return (account.scope_delimiter or " ").join(account.scopes)

    def refresh(self, account) -> TokenSet:
        """A new access token (and maybe a rotated refresh token) for the account."""
        raise NotImplementedError

    def smtp_login(self, account) -> SmtpLogin:
        from accounts.tokens import get_access_token

        return SmtpLogin(
            "xoauth2",
            account.username,
            get_access_token(account),
            renew=lambda: get_access_token(account, force_refresh=True),
        )


class OAuthProvider(TokenProvider):
    """Authorization-code kinds: a person consents once (Generate Tokens), then refresh."""

    id = "oauth2"
    label = "Generic OAuth 2.0 (SMTP)"
    consent = True
    required_fields = (
        "username",
        "client_id",
        "client_secret",
        "authorization_endpoint",
        "token_endpoint",
        "scopes",
    )
    optional_fields = ("scope_delimiter",)
    extra_authorize_params: dict = {}
    help_text = {
        "username": "The mailbox that will consent and send, e.g. mailer@example.com.",
        "client_id": "From the app you registered with the provider.",
        "client_secret": "From the same registration. Stored encrypted; never shown again.",
        "authorization_endpoint": "Where people sign in and consent (from the provider's docs).",
        "token_endpoint": "Where codes and refresh tokens are exchanged for access tokens.",
        "scopes": "The scopes SMTP sending needs, one per line.",
    }

    def start(self, account, *, state: str, redirect_uri: str) -> tuple[str, dict]:
        """The URL to send the person to, and what the callback needs to finish."""
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": account.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scope_string(account),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **self.extra_authorize_params,
        }
        if account.username:
            params["login_hint"] = account.username
        separator = "&" if "?" in account.authorization_endpoint else "?"
        url = f"{account.authorization_endpoint}{separator}{urlencode(params)}"
        return url, {"code_verifier": verifier, "redirect_uri": redirect_uri}

    def finish(self, account, *, flow: dict, params: dict) -> TokenSet:
        body = post_token_request(
            account.token_endpoint,
            {
                "grant_type": "authorization_code",
                "code": params.get("code", ""),
                "redirect_uri": flow["redirect_uri"],
                "client_id": account.client_id,
                "client_secret": reveal(account.client_secret),
                "code_verifier": flow["code_verifier"],
            },
        )
        return token_set(body, requested_scopes=account.scopes, delimiter=account.scope_delimiter)

    def refresh(self, account) -> TokenSet:
        refresh_token = reveal(account.refresh_token)
        if not refresh_token:
            raise ConsentRequired(
                "This account has no refresh token yet.",
                hint="Press Generate Tokens on the auth account and sign in as its mailbox.",
            )
        body = post_token_request(
            account.token_endpoint,
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": account.client_id,
                "client_secret": reveal(account.client_secret),
            },
        )
        return token_set(body, requested_scopes=account.scopes, delimiter=account.scope_delimiter)


class ClientCredentialsProvider(TokenProvider):
    """App-only tokens from a token endpoint (no person involved), used for SMTP XOAUTH2."""

    id = "client_credentials"
    label = "Client credentials (app-only, SMTP)"
    required_fields = ("username", "client_id", "client_secret", "token_endpoint", "scopes")
    optional_fields = ("scope_delimiter",)
    help_text = {
        "username": "The mailbox to send as (the XOAUTH2 user).",
        "token_endpoint": "The token URL of the authorization server.",
        "scopes": "The scope to request, e.g. the SMTP API's .default scope.",
    }

    def refresh(self, account) -> TokenSet:
        body = post_token_request(
            account.token_endpoint,
            {
                "grant_type": "client_credentials",
                "client_id": account.client_id,
                "client_secret": reveal(account.client_secret),
                "scope": self.scope_string(account),
            },
        )
        return token_set(body, requested_scopes=account.scopes, delimiter=account.scope_delimiter)
