"""Server-rendered pages through Django's test client: forms, errors, secrets, isolation."""

import html

import pytest

from accounts.models import AuthAccount
from outbox.models import Message
from servers.models import ServerConfig

from .conftest import member, relay_settings
from .smtp_server import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client, admin_user):
    client.force_login(admin_user)
    return client


def test_login_page_and_redirect_for_anonymous(client):
    assert client.get("/login/").status_code == 200
    response = client.get("/t/acme/servers/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_a_member_with_one_tenant_lands_on_its_servers(alice):
    response = alice.get("/")
    assert response.status_code == 302
    assert response.url == "/t/acme/servers/"


def test_create_a_basic_account_and_the_password_is_never_shown(alice):
    response = alice.post(
        "/t/acme/auth-accounts/new/",
        {
            "name": "mailer",
            "kind": "basic",
            "username": "m@acme.example",
            "password": PASSWORD,
            "active": "on",
        },
    )
    assert response.status_code == 302
    assert AuthAccount.objects.get(name="mailer").password == PASSWORD
    for url in ["/t/acme/auth-accounts/", "/t/acme/auth-accounts/mailer/"]:
        page = alice.get(url).content.decode()
        assert PASSWORD not in page
    assert "set — replace" in alice.get("/t/acme/auth-accounts/mailer/").content.decode()


def test_an_account_form_error_names_the_field_and_changes_nothing(alice):
    response = alice.post(
        "/t/acme/auth-accounts/new/", {"name": "bad name", "kind": "basic", "username": "u"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Use only letters, digits" in page
    assert "Password is required for a Basic" in page
    assert not AuthAccount.objects.exists()


def test_create_a_server_through_the_form(alice, smtp_server):
    data = relay_settings(smtp_server)
    data.update(
        {
            "active": "on",
            "verify_certificate": "on",
            "from_policy": "allow_any",
            "max_connections": 4,
            "rate_limit_per_minute": 0,
            "override_recipients": "",
        }
    )
    response = alice.post("/t/acme/servers/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    server = ServerConfig.objects.get()
    assert (server.name, server.is_default, server.port) == ("DEFAULT", True, smtp_server.port)
    listing = alice.get("/t/acme/servers/").content.decode()
    assert "DEFAULT" in listing
    assert f"127.0.0.1:{smtp_server.port}" in listing


def test_a_server_form_error_names_the_usual_pairing(alice):
    response = alice.post(
        "/t/acme/servers/new/",
        {
            "name": "X",
            "host": "smtp.example.com",
            "port": 465,
            "security": "starttls",
            "timeout_seconds": 30,
            "from_policy": "allow_any",
            "max_connections": 1,
            "rate_limit_per_minute": 0,
        },
    )
    assert response.status_code == 200
    assert "Port 465 expects SSL on connect" in response.content.decode()
    assert not ServerConfig.objects.exists()


def test_send_test_email_without_javascript_queues_and_shows_the_status(alice, relay):
    response = alice.post("/t/acme/servers/DEFAULT/test", {"send_to": "qa@acme.example"})
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.is_test and message.recipients == ["qa@acme.example"]
    page = alice.get(response.url).content.decode()
    assert 'data-status="queued"' in page


def test_send_test_email_with_htmx_returns_the_live_fragment(alice, relay):
    response = alice.post(
        "/t/acme/servers/DEFAULT/test", {"send_to": "qa@acme.example"}, HTTP_HX_REQUEST="true"
    )
    fragment = response.content.decode()
    assert 'data-status="queued"' in fragment
    assert "hx-get=" in fragment  # keeps polling until a final status


def test_send_test_email_to_a_bad_address_says_so(alice, relay):
    response = alice.post(
        "/t/acme/servers/DEFAULT/test", {"send_to": "nope"}, HTTP_HX_REQUEST="true"
    )
    assert "Enter a valid email address" in response.content.decode()
    assert not Message.objects.exists()


def test_messages_log_and_detail(alice, relay):
    from outbox.services import send_message

    message = send_message(relay.tenant, to=["b@example.com"], subject="Report", text="x")
    assert "Report" in alice.get("/t/acme/messages/?status=queued").content.decode()
    assert "Report" not in alice.get("/t/acme/messages/?status=sent").content.decode()
    detail = alice.get(f"/t/acme/messages/{message.id}/").content.decode()
    assert "Cancel" in detail
    assert html.escape(message.message_id) in detail


def test_pages_of_another_tenant_are_404(alice, other_tenant, smtp_server):
    from outbox.services import send_message
    from servers.services import save_server

    save_server(other_tenant, relay_settings(smtp_server))
    message = send_message(other_tenant, to=["b@example.com"], text="x")
    for url in [
        "/t/globex/servers/",
        "/t/globex/servers/DEFAULT/",
        "/t/globex/auth-accounts/",
        "/t/globex/messages/",
        f"/t/globex/messages/{message.id}/",
        f"/t/acme/messages/{message.id}/",
        "/t/globex/members/",
    ]:
        assert alice.get(url).status_code == 404, url
    assert alice.post("/t/globex/servers/DEFAULT/delete").status_code == 404
    assert ServerConfig.objects.filter(tenant=other_tenant).exists()


def test_a_viewer_cannot_change_servers(client, django_user_model, tenant, relay):
    client.force_login(member(django_user_model, tenant, "vic", "viewer"))
    assert client.get("/t/acme/servers/").status_code == 200
    assert client.post("/t/acme/servers/DEFAULT/delete").status_code == 403
    assert client.get("/t/acme/servers/new/").status_code == 403


def test_api_key_is_shown_once(alice):
    response = alice.post("/t/acme/api-keys/", {"name": "billing", "role": "sender"})
    page = response.content.decode()
    assert "shown only this once" in page
    raw = page.split('id="new-key">')[1].split("<")[0]
    assert raw.startswith("ma_")
    assert raw not in alice.get("/t/acme/api-keys/").content.decode()


def test_superuser_creates_a_tenant(client, superuser):
    client.force_login(superuser)
    response = client.post("/tenants/new/", {"slug": "initech", "name": "Initech"})
    assert response.status_code == 302
    assert client.get("/t/initech/servers/").status_code == 200


def test_members_page_adds_a_member(alice, django_user_model):
    django_user_model.objects.create_user("bob", password="x")
    alice.post("/t/acme/members/", {"username": "bob", "role": "sender"})
    assert "bob" in alice.get("/t/acme/members/").content.decode()
    response = alice.post("/t/acme/members/", {"username": "ghost", "role": "sender"})
    assert "No user with this username" in response.content.decode()


def test_no_page_loads_assets_from_a_cdn(alice, relay):
    for url in ["/t/acme/servers/", "/t/acme/servers/DEFAULT/", "/login/"]:
        page = alice.get(url).content.decode()
        assert "https://" not in page and "http://" not in page.replace("http://testserver", "")
