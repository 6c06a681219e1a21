"""REST v1: every endpoint, errors, tenant isolation, and secrets never returned."""

import base64
import json

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthAccount
from mailadmin.status import MessageStatus
from outbox import delivery
from outbox.models import Message
from outbox.sendkey import PEEK_LIMIT
from servers.models import ServerConfig

from .conftest import api_client
from .smtp_server import PASSWORD, USERNAME

pytestmark = pytest.mark.django_db
BASE = "/api/v1/tenants"


def server_body(port=25, **overrides):
    body = {
        "name": "DEFAULT",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "default_from": "app@acme.example",
        "timeout_seconds": 5,
    }
    body.update(overrides)
    return body


def account_body(**overrides):
    body = {"name": "mailer", "kind": "basic", "username": USERNAME, "password": PASSWORD}
    body.update(overrides)
    return body


# --- health -------------------------------------------------------------------------------


def test_healthz_and_readyz(client):
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.content
    assert ready.json() == {"status": "ok"}


def test_readyz_names_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "broker" in response.json()["failing"]


# --- auth and tenants ---------------------------------------------------------------------


def test_no_credentials_is_401():
    response = APIClient().get(f"{BASE}/acme/servers")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_an_unknown_key_is_401_with_a_sentence(tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ma_0000_nope")
    response = client.get(f"{BASE}/acme/servers")
    assert response.status_code == 401
    assert "Unknown or revoked API key" in response.json()["detail"]


def test_superuser_manages_tenants(superuser):
    client = APIClient()
    client.force_login(superuser)
    created = client.post(f"{BASE}", {"slug": "initech", "name": "Initech"}, format="json")
    assert created.status_code == 201
    assert client.get(f"{BASE}/initech").json()["name"] == "Initech"
    patched = client.patch(f"{BASE}/initech", {"active": False}, format="json")
    assert patched.json()["active"] is False
    assert client.delete(f"{BASE}/initech").status_code == 204
    assert client.get(f"{BASE}/initech").status_code == 404


def test_a_tenant_key_sees_only_its_tenant_and_cannot_create_tenants(api, other_tenant):
    listing = api.get(BASE).json()
    assert [t["slug"] for t in listing] == ["acme"]
    assert api.get(f"{BASE}/globex").status_code == 404
    assert api.post(BASE, {"slug": "x", "name": "x"}, format="json").status_code == 403


def test_duplicate_tenant_slug_is_400(superuser, tenant):
    client = APIClient()
    client.force_login(superuser)
    response = client.post(BASE, {"slug": "acme", "name": "again"}, format="json")
    assert response.status_code == 400
    assert "slug" in response.json()["errors"]


# --- auth accounts ------------------------------------------------------------------------


def test_auth_account_crud_never_returns_the_password(api):
    created = api.post(f"{BASE}/acme/auth-accounts", account_body(), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["has_password"] is True
    assert body["token_status"] == "none"
    assert "password" not in body
    assert PASSWORD not in created.content.decode()
    for response in (
        api.get(f"{BASE}/acme/auth-accounts"),
        api.get(f"{BASE}/acme/auth-accounts/mailer"),
        api.patch(f"{BASE}/acme/auth-accounts/mailer", {"description": "d"}, format="json"),
    ):
        assert response.status_code == 200
        assert PASSWORD not in response.content.decode()
    # PATCH without a password keeps the stored one.
    assert AuthAccount.objects.get(name="mailer").password == PASSWORD
    put = api.put(
        f"{BASE}/acme/auth-accounts/mailer",
        {"name": "mailer", "kind": "basic", "username": "other@acme.example"},
        format="json",
    )
    assert put.status_code == 200
    assert put.json()["username"] == "other@acme.example"
    assert api.delete(f"{BASE}/acme/auth-accounts/mailer").status_code == 204
    assert not AuthAccount.objects.exists()


def test_basic_account_without_password_is_400_naming_the_field(api):
    response = api.post(f"{BASE}/acme/auth-accounts", account_body(password=""), format="json")
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert not AuthAccount.objects.exists()


@pytest.mark.parametrize(
    "field,value", [("kind", "kerberos"), ("name", "has space"), ("username", "x" * 400)]
)
def test_bad_account_fields_are_400(api, field, value):
    response = api.post(f"{BASE}/acme/auth-accounts", account_body(**{field: value}), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_duplicate_account_name_is_400(api):
    api.post(f"{BASE}/acme/auth-accounts", account_body(), format="json")
    response = api.post(f"{BASE}/acme/auth-accounts", account_body(), format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["detail"]


def test_deleting_an_account_a_server_uses_is_409(api, smtp_server):
    api.post(f"{BASE}/acme/auth-accounts", account_body(), format="json")
    api.post(
        f"{BASE}/acme/servers", server_body(smtp_server.port, auth_account="mailer"), format="json"
    )
    response = api.delete(f"{BASE}/acme/auth-accounts/mailer")
    assert response.status_code == 409
    assert "DEFAULT" in response.json()["detail"]


# --- servers ------------------------------------------------------------------------------


def test_server_crud_and_one_default(api, smtp_server):
    first = api.post(f"{BASE}/acme/servers", server_body(smtp_server.port), format="json")
    assert first.status_code == 201, first.content
    assert first.json()["is_default"] is True  # the first server is the default
    second = api.post(
        f"{BASE}/acme/servers",
        server_body(smtp_server.port, name="BULK", is_default=True),
        format="json",
    )
    assert second.json()["is_default"] is True
    assert api.get(f"{BASE}/acme/servers/DEFAULT").json()["is_default"] is False
    patched = api.patch(f"{BASE}/acme/servers/BULK", {"max_connections": 2}, format="json")
    assert patched.json()["max_connections"] == 2
    assert api.delete(f"{BASE}/acme/servers/BULK").status_code == 204
    assert api.get(f"{BASE}/acme/servers/DEFAULT").json()["is_default"] is True


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"host": "not a host!"}, "host"),
        ({"host": ""}, "host"),
        ({"port": 70000}, "port"),
        ({"port": 0}, "port"),
        ({"security": "tls13-please"}, "security"),
        ({"security": "ssl_on_connect", "port": 587}, "security"),
        ({"security": "starttls", "port": 465}, "security"),
        ({"max_connections": 0}, "max_connections"),
        ({"rate_limit_per_minute": -1}, "rate_limit_per_minute"),
        ({"default_from": "nope"}, "default_from"),
        ({"from_policy": "allow_listed", "allowed_from": []}, "allowed_from"),
        ({"allowed_from": ["not-an-address"]}, "allowed_from"),
        ({"override_recipients": ["x"]}, "override_recipients"),
        ({"ca_certificates": "-----BEGIN CERTIFICATE-----\nnope\n"}, "ca_certificates"),
        ({"auth_account": "nobody"}, "auth_account"),
    ],
)
def test_bad_server_settings_are_400_naming_the_field(api, overrides, field):
    response = api.post(f"{BASE}/acme/servers", server_body(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not ServerConfig.objects.exists()


def test_port_and_security_mismatch_names_the_usual_pairing(api):
    body = server_body(465, security="starttls")
    message = api.post(f"{BASE}/acme/servers", body, format="json").json()["errors"]["security"][0]
    assert "Port 465 expects SSL on connect" in message


def test_malformed_json_is_400(api):
    response = api.post(f"{BASE}/acme/servers", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_server_test_reports_each_step(api, smtp_server):
    api.post(f"{BASE}/acme/servers", server_body(smtp_server.port), format="json")
    response = api.post(
        f"{BASE}/acme/servers/DEFAULT/test", {"send_to": "qa@acme.example"}, format="json"
    )
    body = response.json()
    assert body["ok"] is True, body
    names = [s["step"] for s in body["steps"]]
    assert names[:2] == ["DNS", "tls context"] or names[0] == "DNS"
    assert {"connect", "EHLO", "MAIL FROM", "RCPT TO", "DATA"} <= set(names)
    assert smtp_server.handler_obj.received[0].rcpt_tos == ["qa@acme.example"]


def test_server_test_names_the_failing_step_and_a_hint(api, smtp_server):
    from .smtp_server import free_port

    api.post(f"{BASE}/acme/servers", server_body(free_port()), format="json")
    body = api.post(f"{BASE}/acme/servers/DEFAULT/test", {}, format="json").json()
    assert body["ok"] is False
    failed = [s for s in body["steps"] if not s["ok"]]
    assert failed[0]["step"] == "connect"
    assert "refused the connection" in failed[0]["detail"]
    assert failed[0]["hint"]


# --- messages -----------------------------------------------------------------------------


@pytest.fixture
def sending_api(api, smtp_server):
    api.post(f"{BASE}/acme/servers", server_body(smtp_server.port), format="json")
    return api


def test_post_message_is_202_queued_and_then_sent(sending_api, smtp_server):
    attachment = base64.b64encode(b"%PDF-1.4 test").decode()
    response = sending_api.post(
        f"{BASE}/acme/messages",
        {
            "to": ["bob@example.com"],
            "cc": ["carol@example.com"],
            "subject": "Invoice",
            "text": "See attached.",
            "html": "<p>See attached.</p>",
            "headers": {"X-Invoice": "42"},
            "attachments": [
                {
                    "filename": "i.pdf",
                    "content_type": "application/pdf",
                    "content_base64": attachment,
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["server"] == "DEFAULT"
    assert body["from"] == "app@acme.example"
    delivery.deliver_due()
    detail = sending_api.get(f"{BASE}/acme/messages/{body['id']}").json()
    assert detail["status"] == "sent"
    assert detail["attempts"][0]["outcome"] == "sent"
    assert detail["attempts"][0]["code"] == 250
    content = smtp_server.handler_obj.received[0].content
    assert b"X-Invoice: 42" in content
    assert b'filename="i.pdf"' in content


def test_the_answer_to_a_new_message_is_the_message_without_its_empty_log(sending_api):
    from outbox.api import MessageSerializer

    response = sending_api.post(
        f"{BASE}/acme/messages",
        {"to": ["b@example.com"], "text": "x", "priority": "high", "idempotency_key": "k1"},
        format="json",
    )
    assert response.status_code == 202
    message = Message.objects.get()
    expected = dict(MessageSerializer(message).data)
    assert expected.pop("attempts") == []
    assert response.json() == json.loads(json.dumps(expected))


def test_idempotency_key_returns_the_first_message_with_200(sending_api):
    body = {"to": ["b@example.com"], "text": "x", "idempotency_key": "reset-77"}
    first = sending_api.post(f"{BASE}/acme/messages", body, format="json")
    again = sending_api.post(f"{BASE}/acme/messages", body, format="json")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"to": [], "text": "x"}, "to"),
        ({"to": "b@example.com", "text": "x"}, "to"),
        ({"to": ["b@example.com"], "text": "x", "server": "NOPE"}, "server"),
        ({"to": ["b@example.com"], "subject": "a\r\nBcc: v@x.y", "text": "x"}, "subject"),
        ({"to": ["b@example.com"], "text": "x", "priority": "urgent"}, "priority"),
        ({"to": ["b@example.com"], "text": "x", "attachments": [{"filename": "a"}]}, "attachments"),
        ({"to": ["b@example.com"]}, "text"),
        ({"to": ["b@example.com"], "text": ""}, "text"),
        ({"to": [42], "text": "x"}, "to"),
        ({"to": ["b@example.com"], "text": "x", "subject": 7}, "subject"),
        ({"to": ["b@example.com"], "text": "x", "from": ["a@acme.example"]}, "from"),
        ({"to": ["b@example.com"], "text": "x", "headers": "X-A: 1"}, "headers"),
        ({"to": ["b@example.com"], "text": "x", "headers": {"X-A": 1}}, "headers"),
        ({"to": ["b@example.com"], "text": "x", "attachments": "a.pdf"}, "attachments"),
        ({"to": ["b@example.com"], "text": "x", "idempotency_key": "k" * 201}, "idempotency_key"),
        ({"to": ["b@example.com"], "text": "x", "send_at": 1700000000}, "send_at"),
        ([{"to": ["b@example.com"], "text": "x"}], "non_field_errors"),
    ],
)
def test_bad_messages_are_400_naming_the_field(sending_api, body, field):
    response = sending_api.post(f"{BASE}/acme/messages", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Message.objects.exists()


def test_message_list_filters(sending_api):
    for i in range(3):
        sending_api.post(
            f"{BASE}/acme/messages", {"to": ["b@x.example"], "text": str(i)}, format="json"
        )
    Message.objects.filter(pk=Message.objects.first().pk).update(status=MessageStatus.FAILED)
    assert sending_api.get(f"{BASE}/acme/messages").json()["count"] == 3
    assert sending_api.get(f"{BASE}/acme/messages?status=failed").json()["count"] == 1
    assert sending_api.get(f"{BASE}/acme/messages?server=OTHER").json()["count"] == 0
    assert sending_api.get(f"{BASE}/acme/messages?since=2999-01-01T00:00:00Z").json()["count"] == 0
    assert sending_api.get(f"{BASE}/acme/messages?status=nope").status_code == 400
    assert sending_api.get(f"{BASE}/acme/messages?since=yesterday").status_code == 400


def test_cancel_and_retry(sending_api):
    message_id = sending_api.post(
        f"{BASE}/acme/messages", {"to": ["b@x.example"], "text": "x"}, format="json"
    ).json()["id"]
    cancelled = sending_api.post(f"{BASE}/acme/messages/{message_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert sending_api.post(f"{BASE}/acme/messages/{message_id}/cancel").status_code == 409
    retried = sending_api.post(f"{BASE}/acme/messages/{message_id}/retry")
    assert retried.json()["status"] == "queued"


def test_roles_limit_what_a_key_may_do(tenant, smtp_server):
    admin = api_client(tenant, "admin")
    admin.post(f"{BASE}/acme/servers", server_body(smtp_server.port), format="json")
    viewer, sender = api_client(tenant, "viewer"), api_client(tenant, "sender")
    message = {"to": ["b@x.example"], "text": "x"}
    assert viewer.get(f"{BASE}/acme/servers").status_code == 200
    assert viewer.post(f"{BASE}/acme/messages", message, format="json").status_code == 403
    assert sender.post(f"{BASE}/acme/messages", message, format="json").status_code == 202
    denied = sender.post(f"{BASE}/acme/servers", server_body(25, name="X"), format="json")
    assert denied.status_code == 403
    assert "admin" in denied.json()["detail"]


# --- isolation ----------------------------------------------------------------------------


def test_a_key_of_tenant_a_gets_404_on_every_object_of_tenant_b(tenant, other_tenant, smtp_server):
    b = api_client(other_tenant, "admin")
    b.post(f"{BASE}/globex/auth-accounts", account_body(), format="json")
    b.post(f"{BASE}/globex/servers", server_body(smtp_server.port), format="json")
    message_id = b.post(
        f"{BASE}/globex/messages", {"to": ["x@y.example"], "text": "x"}, format="json"
    ).json()["id"]
    a = api_client(tenant, "admin")
    urls = [
        "/globex",
        "/globex/auth-accounts",
        "/globex/auth-accounts/mailer",
        "/globex/servers",
        "/globex/servers/DEFAULT",
        "/globex/messages",
        f"/globex/messages/{message_id}",
    ]
    for url in urls:
        assert a.get(BASE + url).status_code == 404, url
    for url in [
        "/globex/servers/DEFAULT/test",
        f"/globex/messages/{message_id}/cancel",
        "/globex/messages",
        "/globex/servers",
        "/globex/auth-accounts",
    ]:
        assert a.post(BASE + url, {}, format="json").status_code == 404, url
    assert a.delete(f"{BASE}/globex/servers/DEFAULT").status_code == 404
    assert a.patch(f"{BASE}/globex/auth-accounts/mailer", {}, format="json").status_code == 404
    # Same object names in tenant A do not reach B's rows either.
    assert a.get(f"{BASE}/acme/messages/{message_id}").status_code == 404
    assert ServerConfig.objects.filter(tenant=other_tenant).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_send_is_two_statements_key_tenant_and_server_in_one(
    tenant, smtp_server, django_assert_num_queries
):
    api = api_client(tenant, "sender")
    admin = api_client(tenant, "admin")
    admin.post(f"{BASE}/acme/servers", server_body(smtp_server.port), format="json")
    admin.post(f"{BASE}/acme/servers", server_body(smtp_server.port, name="B"), format="json")
    body = {"to": ["x@y.example"], "text": "x"}
    assert api.post(f"{BASE}/acme/messages", body, format="json").status_code == 202  # warm
    for server in (None, "B", " B "):  # the default, and one by name (trimmed as the parser)
        with django_assert_num_queries(2):  # the key with its tenant and server; the INSERT
            sent = api.post(f"{BASE}/acme/messages", {**body, "server": server}, format="json")
        assert sent.status_code == 202, sent.content
        assert sent.json()["server"] == (server or "DEFAULT").strip()
    ServerConfig.objects.filter(name="B").update(active=False)
    inactive = api.post(f"{BASE}/acme/messages", {**body, "server": "B"}, format="json")
    assert inactive.status_code == 400
    assert "Server 'B' is inactive" in inactive.json()["errors"]["server"][0]
    broken = api.post(f"{BASE}/acme/messages", data="{not", content_type="application/json")
    assert broken.status_code == 400
    assert "JSON" in broken.json()["detail"]
    # A body too big to read before the key is known: the plain lookup, one query more.
    big = {**body, "text": "x" * (PEEK_LIMIT + 1)}
    with django_assert_num_queries(3):
        assert api.post(f"{BASE}/acme/messages", big, format="json").status_code == 202
    assert Message.objects.count() == 5


def test_without_a_valid_key_a_send_body_is_never_parsed_first(tenant):
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer ma_0000_nope")
    for body in ("{not json", '{"to": ["x@y.example"], "text": "' + "x" * PEEK_LIMIT + '"'):
        response = stranger.post(
            f"{BASE}/acme/messages", data=body, content_type="application/json"
        )
        assert response.status_code == 401, response.content
        assert "Unknown or revoked API key" in response.json()["detail"]


def test_a_revoked_key_cannot_send(tenant, smtp_server):
    from tenants.models import ApiKey
    from tenants.services import revoke_api_key

    client = api_client(tenant, "admin")
    client.post(f"{BASE}/acme/servers", server_body(smtp_server.port), format="json")
    revoke_api_key(ApiKey.objects.get())
    body = {"to": ["x@y.example"], "text": "x"}
    for server in (None, "DEFAULT"):
        response = client.post(f"{BASE}/acme/messages", {**body, "server": server}, format="json")
        assert response.status_code == 401
        assert "Unknown or revoked API key" in response.json()["detail"]
    assert not Message.objects.exists()


def test_a_revoked_key_is_refused(tenant):
    from tenants.models import ApiKey
    from tenants.services import revoke_api_key

    client = api_client(tenant, "admin")
    revoke_api_key(ApiKey.objects.get())
    assert client.get(f"{BASE}/acme/servers").status_code == 401


def test_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/schema")
    assert schema.status_code == 200
    assert b"/api/v1/tenants/{tenant}/messages" in schema.content
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_a_send_never_reaches_another_tenants_server_by_name_or_as_default(
    tenant, other_tenant, smtp_server
):
    b = api_client(other_tenant, "admin")
    b.post(f"{BASE}/globex/servers", server_body(smtp_server.port, name="ONLY_B"), format="json")
    assert ServerConfig.objects.get(tenant=other_tenant).is_default  # B's first: its default
    a = api_client(tenant, "sender")
    named = a.post(
        f"{BASE}/acme/messages",
        {"to": ["x@y.example"], "text": "x", "server": "ONLY_B"},
        format="json",
    )
    assert named.status_code == 400
    assert "No server named 'ONLY_B' in this tenant" in named.json()["errors"]["server"][0]
    default = a.post(f"{BASE}/acme/messages", {"to": ["x@y.example"], "text": "x"}, format="json")
    assert default.status_code == 400
    assert "no default server" in default.json()["detail"]
    assert not Message.objects.exists()
