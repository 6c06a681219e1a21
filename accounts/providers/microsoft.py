"""Microsoft identity platform through msal: delegated SMTP (XOAUTH2) for a mailbox."""

import msal
import requests

from mailadmin.errors import TokenEndpointUnavailable
from mailadmin.fields import reveal

from .oauth import OAuthProvider, TokenSet, http, token_error, token_set

LOGIN_HOST = "https://login.microsoftonline.com"
TOKEN_SUFFIX = "/oauth2/v2.0/token"  # noqa: S105 - a URL path, not a secret
# msal adds these itself and refuses them when asked for explicitly.
RESERVED_SCOPES = {"openid", "profile", "offline_access"}


def authority_of(account) -> str:
    """The msal authority: the token endpoint without its /oauth2/v2.0/token tail, so that an
    admin who overrides the endpoint (sovereign clouds, the test server) moves msal too."""
    endpoint = account.token_endpoint
    if endpoint.endswith(TOKEN_SUFFIX):
        return endpoint[: -len(TOKEN_SUFFIX)]
    return f"{LOGIN_HOST}/{account.directory_id}"


def msal_app(account) -> msal.ConfidentialClientApplication:
    try:
        return msal.ConfidentialClientApplication(
            account.client_id,
            client_credential=reveal(account.client_secret),
            authority=authority_of(account),
            instance_discovery=False,
            http_client=http(),
        )
    except (requests.RequestException, ValueError) as err:
        raise TokenEndpointUnavailable(
            f"Microsoft sign-in at {authority_of(account)} cannot be reached or read "
            f"({type(err).__name__}).",
            hint="Check the directory (tenant) ID; it will be retried.",
        ) from err


def msal_scopes(account) -> list[str]:
    return [s for s in account.scopes if s not in RESERVED_SCOPES]


def result_tokens(account, result: dict) -> TokenSet:
    if "access_token" not in result:
        raise token_error(400, result, where=authority_of(account))
    tokens = token_set(result, requested_scopes=account.scopes)
    claims = result.get("id_token_claims") or {}
    tokens.identity = (
        claims.get("preferred_username") or claims.get("email") or claims.get("upn") or ""
    )
    return tokens


def calling(account, call):
    try:
        return call()
    except requests.RequestException as err:
        raise TokenEndpointUnavailable(
            f"Microsoft sign-in at {authority_of(account)} cannot be reached "
            f"({type(err).__name__}).",
            hint="It will be retried; mail waits meanwhile.",
        ) from err


class MicrosoftProvider(OAuthProvider):
    id = "microsoft"
    label = "Microsoft OAuth 2.0 (SMTP)"
    required_fields = ("username", "client_id", "client_secret", "directory_id")
    optional_fields = ("authorization_endpoint", "token_endpoint", "scopes")
    suggested_server = {"host": "smtp.office365.com", "port": 587, "security": "starttls"}
    help_text = {
        "username": "The Microsoft 365 mailbox that will send, e.g. mailer@contoso.com.",
        "client_id": "Entra admin center → App registrations → your app → Application (client) ID.",
        "client_secret": "Certificates & secrets → New client secret → copy the Value.",
        "directory_id": "Directory (tenant) ID on the app's Overview page, or your domain.",
    }

    def fill_defaults(self, account) -> None:
        base = f"{LOGIN_HOST}/{account.directory_id}/oauth2/v2.0"
        if not account.authorization_endpoint:
            account.authorization_endpoint = f"{base}/authorize"
        if not account.token_endpoint:
            account.token_endpoint = f"{base}/token"
        if not account.scopes:
            account.scopes = ["https://outlook.office.com/SMTP.Send", "offline_access"]

    def start(self, account, *, state: str, redirect_uri: str) -> tuple[str, dict]:
        flow = calling(
            account,
            lambda: msal_app(account).initiate_auth_code_flow(
                msal_scopes(account),
                redirect_uri=redirect_uri,
                state=state,
                login_hint=account.username or None,
                response_mode="query",
            ),
        )
        return flow["auth_uri"], {"msal_flow": flow, "redirect_uri": redirect_uri}

    def finish(self, account, *, flow: dict, params: dict) -> TokenSet:
        result = calling(
            account,
            lambda: msal_app(account).acquire_token_by_auth_code_flow(flow["msal_flow"], params),
        )
        return result_tokens(account, result)

    def refresh(self, account) -> TokenSet:
        refresh_token = reveal(account.refresh_token)
        if not refresh_token:
            return super().refresh(account)  # raises ConsentRequired with the right words
        result = calling(
            account,
            lambda: msal_app(account).acquire_token_by_refresh_token(
                refresh_token, msal_scopes(account)
            ),
        )
        return result_tokens(account, result)
