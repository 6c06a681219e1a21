"""The Graph transport against a local sendMail endpoint and the real OAuth server (msal)."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuthAccount
from accounts.services import save_account
from mailadmin.status import MessageStatus, Outcome
from outbox import delivery
from outbox.models import Message
from outbox.services import send_message
from servers.services import save_server

from .graph_server import GraphServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def graph(oauth_server):
    server = GraphServer(oauth_server.jwks())
    yield server
    server.stop()


@pytest.fixture
def graph_server(tenant, graph_account, graph):
    account = graph_account
    return save_server(
        tenant,
        {
            "name": "DEFAULT",
            "transport": "graph",
            "auth_account": account.name,
            "graph_mailbox": "mailer@contoso.com",
            "graph_endpoint": graph.url,
            "default_from": "mailer@contoso.com",
            "save_to_sent_items": False,
        },
    )


def test_send_mail_request_has_the_documented_shape(graph_server, graph):
    message = send_message(
        graph_server.tenant,
        to=[["Bob ", "bob@example.com>"][1].rstrip(">")],
        cc=["carol@example.com"],
        bcc=["dave@example.com"],
        subject="Quarterly report",
        text="plain",
        html="<p>rich</p>",
        headers={"X-Report": "Q3"},
        attachments=[
            {
                "filename": "q3.csv",
                "content_type": "text/csv",
                "content_base64": base64.b64encode(b"a,b\n1,2\n").decode(),
            }
        ],
    )
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT, message.last_error
    assert message.last_reply.startswith("202")
    [call] = graph.requests
    assert call["path"] == "/v1.0/users/mailer@contoso.com/sendMail"
    body = call["body"]
    assert body["saveToSentItems"] is False
    sent = body["message"]
    assert sent["subject"] == "Quarterly report"
    assert sent["body"] == {"contentType": "HTML", "content": "<p>rich</p>\n"}
    assert sent["toRecipients"] == [{"emailAddress": {"address": "bob@example.com"}}]
    assert sent["ccRecipients"] == [{"emailAddress": {"address": "carol@example.com"}}]
    assert sent["bccRecipients"] == [{"emailAddress": {"address": "dave@example.com"}}]
    assert sent["internetMessageHeaders"] == [{"name": "X-Report", "value": "Q3"}]
    [attachment] = sent["attachments"]
    assert attachment["@odata.type"] == "#microsoft.graph.fileAttachment"
    assert base64.b64decode(attachment["contentBytes"]) == b"a,b\n1,2\n"
    assert sent["internetMessageId"] == message.message_id


def test_429_waits_as_long_as_retry_after_says(graph_server, graph):
    graph.replies.append(
        (
            429,
            {"Retry-After": "37"},
            {"error": {"code": "ApplicationThrottled", "message": "Too many requests"}},
        )
    )
    message = send_message(graph_server.tenant, to=["bob@example.com"], text="x")
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    wait = (message.next_attempt_at - timezone.now()).total_seconds()
    assert 30 <= wait <= 37
    assert "ApplicationThrottled" in message.last_error
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    delivery.deliver_due()
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT


def test_a_401_refreshes_the_token_once_and_sends(graph_server, graph, oauth_server):
    account = AuthAccount.objects.get(name="graph")
    send_message(graph_server.tenant, to=["bob@example.com"], text="warm-up")
    delivery.deliver_due()
    fetches = oauth_server.stats()["client_credentials"]
    # The stored token looks valid to us but Graph rejects it (revoked, or the wrong tenant).
    AuthAccount.objects.filter(pk=account.pk).update(
        access_token="not-a-graph-token", token_expires_at=timezone.now() + timedelta(hours=1)
    )
    message = send_message(graph_server.tenant, to=["bob@example.com"], text="after 401")
    delivery.deliver_due()
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT
    assert graph.refused_tokens == 1
    assert oauth_server.stats()["client_credentials"] == fetches + 1


def test_a_403_fails_with_graphs_code_and_a_hint(graph_server, graph):
    graph.replies.append(
        (403, {}, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}})
    )
    message = send_message(graph_server.tenant, to=["bob@example.com"], text="x")
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "ErrorAccessDenied: Access is denied." in message.last_error
    assert "Mail.Send" in message.last_error
    assert message.attempts.get().outcome == Outcome.FAILED


def test_the_server_test_endpoint_checks_the_token_and_sends(api, graph_server, graph):
    body = api.post(
        "/api/v1/tenants/acme/servers/DEFAULT/test", {"send_to": "qa@example.com"}, format="json"
    ).json()
    assert body["ok"] is True, body
    assert [s["step"] for s in body["steps"]] == ["token", "Graph sendMail"]
    assert graph.requests[0]["body"]["message"]["toRecipients"][0]["emailAddress"] == {
        "address": "qa@example.com"
    }


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"auth_account": None}, "auth_account"),
        ({"graph_mailbox": "", "default_from": ""}, "graph_mailbox"),
    ],
)
def test_a_graph_server_without_account_or_mailbox_is_400(api, tenant, fields, field):
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
    body = {
        "name": "G",
        "transport": "graph",
        "auth_account": "graph",
        "graph_mailbox": "m@contoso.com",
        **fields,
    }
    response = api.post("/api/v1/tenants/acme/servers", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
