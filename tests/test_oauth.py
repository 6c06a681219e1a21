"""OAuth accounts against a real OAuth server process over HTTPS and an XOAUTH2 SMTP server."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.utils import timezone

from accounts.consent import start_consent
from accounts.models import AuthAccount, ConsentState, TokenStatus
from accounts.services import save_account
from accounts.tokens import get_access_token
from mailadmin.errors import ConsentRequired, TokenEndpointUnavailable
from mailadmin.status import MessageStatus
from outbox import delivery
from outbox.models import Message
from outbox.services import send_message

from .conftest import smtp_server_for
from .smtp_server import USERNAME

pytestmark = pytest.mark.django_db


def consent_redirect(oauth_server, authorization_url: str) -> str:
    """What the mailbox owner's browser does at the provider: sign in, accept, be redirected."""
    response = oauth_server.http.get(authorization_url, allow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith("http://127.0.0.1:8000/oauth/callback?")
    return location


def callback_path(location: str) -> str:
    parsed = urlparse(location)
    return f"{parsed.path}?{parsed.query}"


def column(account, name) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {name} FROM accounts_authaccount WHERE id = %s", [account.pk])  # noqa: S608
        return cursor.fetchone()[0]


class ConsentFlowTests:
    """Run against every authorization-code kind; a subclass gives only the account fields."""

    kind = ""

    def account_fields(self, oauth_server) -> dict:
        raise NotImplementedError

    @pytest.fixture
    def account(self, tenant, oauth_server):
        fields = {
            "name": "oauth",
            "kind": self.kind,
            "username": USERNAME,
            "client_id": "app-1",
            "client_secret": "s3cret-client",
            **self.account_fields(oauth_server),
        }
        return save_account(tenant, fields)

    def consent(self, client, oauth_server, account) -> object:
        url = start_consent(account)
        return client.get(callback_path(consent_redirect(oauth_server, url)))

    def test_authorize_url_uses_pkce_s256_and_a_single_use_state(self, api, account):
        body = api.post(f"/api/v1/tenants/acme/auth-accounts/{account.name}/authorize").json()
        query = parse_qs(urlparse(body["authorization_url"]).query)
        assert query["code_challenge_method"] == ["S256"]
        assert len(query["code_challenge"][0]) >= 43
        assert query["redirect_uri"] == ["http://127.0.0.1:8000/oauth/callback"]
        assert ConsentState.objects.get(state=query["state"][0]).account == account
        assert body["callback_url"] == "http://127.0.0.1:8000/oauth/callback"

    def test_consent_stores_encrypted_tokens_and_mail_goes_out_over_xoauth2(
        self, client, admin_user, oauth_server, account, xoauth2_smtp, certificates
    ):
        client.force_login(admin_user)
        response = self.consent(client, oauth_server, account)
        assert response.status_code == 302
        assert response.url == f"/t/acme/auth-accounts/{account.name}/"
        account.refresh_from_db()
        assert account.token_status == TokenStatus.VALID
        assert account.consented_identity == USERNAME
        assert account.token_expires_at > timezone.now() + timedelta(minutes=50)
        for name in ("access_token", "refresh_token", "client_secret"):
            stored = column(account, name)
            assert stored.startswith("gAAAA"), name  # Fernet ciphertext
            assert stored != getattr(account, name)
        assert "code_verifier" in oauth_server.stats()["last_token_request"]
        smtp_server_for(account.tenant, account, xoauth2_smtp, certificates)
        message = send_message(account.tenant, to=["bob@example.com"], text="via OAuth")
        delivery.deliver_due()
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT, message.last_error
        assert xoauth2_smtp.handler_obj.token_logins == [(USERNAME, "johndoe")]
        page = client.get(f"/t/acme/auth-accounts/{account.name}/").content.decode()
        assert 'data-token-status="valid"' in page
        for secret in ("s3cret-client", account.access_token, account.refresh_token):
            assert secret not in page

    def test_identity_mismatch_is_refused_and_nothing_is_saved(self, client, oauth_server, account):
        oauth_server.control(identity="intruder@example.com")
        response = self.consent(client, oauth_server, account)
        assert response.status_code == 400
        page = response.content.decode()
        assert "intruder@example.com" in page and USERNAME in page
        account.refresh_from_db()
        assert account.access_token is None
        assert account.token_status == TokenStatus.ERROR

    def test_a_missing_refresh_token_is_explained(self, client, oauth_server, account):
        oauth_server.control(omit_refresh_token=True)
        response = self.consent(client, oauth_server, account)
        assert response.status_code == 400
        assert "no refresh token" in response.content.decode()
        assert AuthAccount.objects.get(pk=account.pk).access_token is None

    def test_the_stored_token_is_used_until_it_nears_expiry(self, client, oauth_server, account):
        self.consent(client, oauth_server, account)
        account.refresh_from_db()
        before = oauth_server.stats()["refresh_token"]
        assert get_access_token(account) == account.access_token
        assert oauth_server.stats()["refresh_token"] == before  # no endpoint call
        AuthAccount.objects.filter(pk=account.pk).update(
            token_expires_at=timezone.now() + timedelta(seconds=30)
        )
        account.refresh_from_db()
        old_refresh = account.refresh_token
        new_token = get_access_token(account)
        assert oauth_server.stats()["refresh_token"] == before + 1
        account.refresh_from_db()
        assert new_token == account.access_token
        assert account.refresh_token != old_refresh  # the rotated one was saved


class TestGenericOAuth(ConsentFlowTests):
    kind = "oauth2"

    def account_fields(self, oauth_server):
        return {
            "authorization_endpoint": f"{oauth_server.url}/authorize",
            "token_endpoint": f"{oauth_server.url}/token",
            "scopes": ["smtp", "openid", "email"],
        }


class TestGoogle(ConsentFlowTests):
    kind = "google"

    def account_fields(self, oauth_server):
        # The same fields an admin overrides for a private endpoint; the defaults are Google's.
        return {
            "authorization_endpoint": f"{oauth_server.url}/o/oauth2/v2/auth",
            "token_endpoint": f"{oauth_server.url}/token",
        }

    def test_google_asks_for_offline_access_and_consent(self, account):
        query = parse_qs(urlparse(start_consent(account)).query)
        assert query["access_type"] == ["offline"]
        assert query["prompt"] == ["consent"]
        assert query["scope"] == ["https://mail.google.com/ openid email"]


class TestMicrosoft(ConsentFlowTests):
    kind = "microsoft"

    def account_fields(self, oauth_server):
        base = f"{oauth_server.url}/contoso/oauth2/v2.0"
        return {
            "directory_id": "contoso",
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
        }

    def test_microsoft_defaults_name_the_directory_and_smtp_scope(self, tenant):
        account = save_account(
            tenant,
            {
                "name": "m365",
                "kind": "microsoft",
                "username": USERNAME,
                "client_id": "c",
                "client_secret": "s",
                "directory_id": "contoso.onmicrosoft.com",
            },
        )
        assert account.token_endpoint == (
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        )
        assert account.scopes == ["https://outlook.office.com/SMTP.Send", "offline_access"]


# --- the callback's refusals ---------------------------------------------------------------


def test_a_reused_state_is_refused(client, oauth_server, generic):
    location = callback_path(consent_redirect(oauth_server, start_consent(generic)))
    assert client.get(location).status_code in (200, 302)
    again = client.get(location)
    assert again.status_code == 400
    assert "already used" in again.content.decode()


def test_an_expired_state_is_refused(client, oauth_server, generic):
    location = callback_path(consent_redirect(oauth_server, start_consent(generic)))
    ConsentState.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    response = client.get(location)
    assert response.status_code == 400
    assert "longer than 10 minutes" in response.content.decode()
    assert AuthAccount.objects.get(pk=generic.pk).access_token is None


def test_an_unknown_state_is_refused(client, oauth_server, generic):
    response = client.get("/oauth/callback?code=abc&state=forged")
    assert response.status_code == 400
    assert "does not belong to any Generate Tokens request" in response.content.decode()


@pytest.mark.parametrize(
    "error,description,expected",
    [
        ("access_denied", "The user declined", "Consent was declined"),
        (
            "consent_required",
            "AADSTS65001: The user or administrator has not consented",
            "Grant admin consent",
        ),
        (
            "invalid_request",
            "AADSTS50011: The redirect URI does not match",
            "Register exactly http://127.0.0.1:8000/oauth/callback",
        ),
        ("invalid_client", "Unknown client", "client ID (and directory ID for Microsoft)"),
    ],
)
def test_provider_errors_name_the_cause_and_the_fix(
    client, admin_user, generic, error, description, expected
):
    client.force_login(admin_user)
    start_consent(generic)
    state = ConsentState.objects.get().state
    response = client.get(
        "/oauth/callback", {"state": state, "error": error, "error_description": description}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert expected in page
    assert "Try again" in page
    assert "Traceback" not in page


# --- client credentials ------------------------------------------------------------------


def test_client_credentials_fetch_a_token_without_consent(
    tenant, oauth_server, xoauth2_smtp, certificates
):
    account = save_account(
        tenant,
        {
            "name": "app",
            "kind": "client_credentials",
            "username": USERNAME,
            "client_id": "daemon",
            "client_secret": "cc-secret",
            "token_endpoint": f"{oauth_server.url}/token",
            "scopes": ["https://outlook.office365.com/.default"],
        },
    )
    smtp_server_for(tenant, account, xoauth2_smtp, certificates)
    send_message(tenant, to=["bob@example.com"], text="app-only")
    delivery.deliver_due()
    assert Message.objects.get().status == MessageStatus.SENT
    request = oauth_server.stats()["last_token_request"]
    assert request["grant_type"] == "client_credentials"
    assert request["scope"] == "https://outlook.office365.com/.default"


def test_graph_app_only_token_through_msal(graph_account, oauth_server):
    account = graph_account
    assert account.scopes == ["https://graph.microsoft.com/.default"]
    assert get_access_token(account)
    assert oauth_server.stats()["last_token_request"]["scope"] == (
        "https://graph.microsoft.com/.default"
    )


# --- losing the grant, and getting it back ----------------------------------------------


def consented(client, oauth_server, account):
    client.get(callback_path(consent_redirect(oauth_server, start_consent(account))))
    account.refresh_from_db()
    return account


def test_invalid_grant_holds_mail_until_re_consent_releases_it(
    client, oauth_server, generic, xoauth2_smtp, certificates
):
    oauth_server.control(strict=True)
    account = consented(client, oauth_server, generic)
    smtp_server_for(account.tenant, account, xoauth2_smtp, certificates)
    oauth_server.control(revoke_all=True)  # the admin revoked the app at the provider
    AuthAccount.objects.filter(pk=account.pk).update(token_expires_at=timezone.now())
    message = send_message(account.tenant, to=["bob@example.com"], text="waits")
    delivery.deliver_due()
    message.refresh_from_db()
    account.refresh_from_db()
    assert account.token_status == TokenStatus.NEEDS_CONSENT
    assert message.status == MessageStatus.HELD
    assert "Re-authorize" in message.last_error
    assert xoauth2_smtp.handler_obj.received == []
    # No further token requests while the account waits for a person.
    requests_before = oauth_server.stats()["refresh_token"]
    with pytest.raises(ConsentRequired):
        get_access_token(account)
    assert oauth_server.stats()["refresh_token"] == requests_before
    consented(client, oauth_server, account)
    assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED
    delivery.deliver_due()
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT


def test_a_refused_token_is_refreshed_once_and_the_login_retried(
    client, oauth_server, generic, xoauth2_smtp, certificates
):
    account = consented(client, oauth_server, generic)
    # A token the database believes valid but the server refuses (revoked at the provider).
    AuthAccount.objects.filter(pk=account.pk).update(access_token="revoked-token")
    smtp_server_for(account.tenant, account, xoauth2_smtp, certificates)
    send_message(account.tenant, to=["bob@example.com"], text="x")
    delivery.deliver_due()
    assert Message.objects.get().status == MessageStatus.SENT
    assert xoauth2_smtp.handler_obj.refused_tokens == 1
    assert len(xoauth2_smtp.handler_obj.token_logins) == 1


def test_a_token_endpoint_that_is_down_defers_mail_without_failing_it(
    client, oauth_server, generic, xoauth2_smtp, certificates, settings
):
    from .smtp_server import free_port

    account = consented(client, oauth_server, generic)
    AuthAccount.objects.filter(pk=account.pk).update(
        token_endpoint=f"https://127.0.0.1:{free_port()}/token", token_expires_at=timezone.now()
    )
    account.refresh_from_db()
    with pytest.raises(TokenEndpointUnavailable):
        get_access_token(account)
    smtp_server_for(account.tenant, account, xoauth2_smtp, certificates)
    message = send_message(account.tenant, to=["bob@example.com"], text="x")
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert "cannot be reached" in message.last_error
    assert AuthAccount.objects.get(pk=account.pk).token_status == TokenStatus.VALID
    # However long the provider is down, the message does not run out of attempts.
    settings.MAILADMIN_MAX_ATTEMPTS = 2
    for _ in range(3):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.attempts.count() == 4


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"kind": "oauth2", "client_id": ""}, "client_id"),
        ({"kind": "oauth2", "token_endpoint": "not a url"}, "token_endpoint"),
        ({"kind": "oauth2", "scopes": []}, "scopes"),
        ({"kind": "oauth2", "scopes": ["a b"]}, "scopes"),
        ({"kind": "google", "client_secret": ""}, "client_secret"),
        ({"kind": "microsoft", "directory_id": ""}, "directory_id"),
        ({"kind": "client_credentials", "token_endpoint": ""}, "token_endpoint"),
    ],
)
def test_missing_or_malformed_oauth_fields_are_400(api, fields, field):
    body = {
        "name": "x",
        "username": USERNAME,
        "client_id": "c",
        "client_secret": "s",
        "authorization_endpoint": "https://idp.example/authorize",
        "token_endpoint": "https://idp.example/token",
        "scopes": ["smtp"],
        "directory_id": "contoso",
        **fields,
    }
    response = api.post("/api/v1/tenants/acme/auth-accounts", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not AuthAccount.objects.exists()


def test_a_graph_account_on_an_smtp_server_is_400(api, tenant):
    save_account(
        tenant,
        {
            "name": "graph",
            "kind": "microsoft_graph",
            "client_id": "c",
            "client_secret": "s",
            "directory_id": "contoso",
        },
    )
    response = api.post(
        "/api/v1/tenants/acme/servers",
        {
            "name": "DEFAULT",
            "host": "smtp.office365.com",
            "port": 587,
            "security": "starttls",
            "auth_account": "graph",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "Graph" in response.json()["errors"]["auth_account"][0]


def test_oauth_secrets_never_appear_in_api_responses(api, client, oauth_server, generic):
    account = consented(client, oauth_server, generic)
    body = api.get(f"/api/v1/tenants/acme/auth-accounts/{account.name}").content.decode()
    for secret in ("s3cret-client", account.access_token, account.refresh_token):
        assert secret not in body
    data = api.get(f"/api/v1/tenants/acme/auth-accounts/{account.name}").json()
    assert data["has_client_secret"] is True
    assert data["token_status"] == "valid"
    assert data["consented_identity"] == USERNAME


def test_a_microsoft_account_fills_in_office_365s_smtp_server(api, tenant):
    save_account(
        tenant,
        {
            "name": "m365",
            "kind": "microsoft",
            "username": USERNAME,
            "client_id": "c",
            "client_secret": "s",
            "directory_id": "contoso",
        },
    )
    body = api.post(
        "/api/v1/tenants/acme/servers", {"name": "O365", "auth_account": "m365"}, format="json"
    ).json()
    assert (body["host"], body["port"], body["security"]) == ("smtp.office365.com", 587, "starttls")


def test_no_oauth_secret_reaches_the_logs(client, oauth_server, generic, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    oauth_server.control(strict=True)
    location = consent_redirect(oauth_server, start_consent(generic))
    code = parse_qs(urlparse(location).query)["code"][0]
    client.get(callback_path(location))
    account = AuthAccount.objects.get(pk=generic.pk)
    first = (account.access_token, account.refresh_token)
    get_access_token(account, force_refresh=True)
    oauth_server.control(revoke_all=True)
    with pytest.raises(ConsentRequired) as lost:
        get_access_token(account, force_refresh=True)
    secrets = {"s3cret-client", code, *first, account.access_token, account.refresh_token}
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in str(lost.value) and secret not in lost.value.describe()
