"""Bad input to send_message: a clear error naming the field, and nothing stored."""

import pytest

from mailadmin.errors import MessageRejected
from outbox.models import Message
from outbox.services import enqueue_message, send_message
from servers.services import save_server

from .conftest import relay_settings

pytestmark = pytest.mark.django_db


def rejected(tenant, **kwargs) -> MessageRejected:
    kwargs.setdefault("to", ["bob@example.com"])
    kwargs.setdefault("subject", "Hi")
    kwargs.setdefault("text", "Hello")
    with pytest.raises(MessageRejected) as caught:
        send_message(tenant, **kwargs)
    assert Message.objects.count() == 0
    return caught.value


def test_unknown_server_name(relay):
    err = rejected(relay.tenant, server="NOPE")
    assert (err.field, err.message) == ("server", "No server named 'NOPE' in this tenant.")


def test_no_default_server(tenant):
    err = rejected(tenant)
    assert err.field == "server"
    assert "no default server" in err.message


def test_inactive_server(relay):
    save_server(relay.tenant, {"active": False}, server=relay)
    assert "inactive" in rejected(relay.tenant).message


@pytest.mark.parametrize("to", [[], ["not-an-address"], [""], ["a@b.example\r\nBcc: x@y.z"]])
def test_invalid_or_empty_recipients(relay, to):
    assert rejected(relay.tenant, to=to).field == "to"


def test_crlf_in_subject_is_refused(relay):
    err = rejected(relay.tenant, subject="Hi\r\nBcc: victim@example.com")
    assert err.field == "subject"
    assert "injection" in err.message


def test_crlf_in_a_header_value_is_refused(relay):
    err = rejected(relay.tenant, headers={"X-Tag": "a\nBcc: victim@example.com"})
    assert err.field == "headers"


def test_reserved_header_is_refused(relay):
    assert rejected(relay.tenant, headers={"Bcc": "x@example.com"}).field == "headers"


def test_crlf_in_from_is_refused(relay):
    assert rejected(relay.tenant, from_email="a@acme.example\r\nBcc: x@y.z").field == "from"


def test_non_ascii_address_when_the_server_does_not_allow_utf8(relay):
    err = rejected(relay.tenant, to=["zoë@example.com"])
    assert err.field == "to"
    assert "Allow UTF-8" in err.message


def test_non_ascii_address_is_accepted_when_allowed(relay):
    save_server(relay.tenant, {"allow_utf8": True}, server=relay)
    message = send_message(relay.tenant, to=["zoë@example.com"], subject="Hi", text="x")
    assert message.recipients == ["zoë@example.com"]


def test_a_message_over_the_size_limit(relay, settings):
    settings.MAILADMIN_MAX_MESSAGE_BYTES = 10_000
    err = rejected(relay.tenant, text="x" * 20_000)
    assert "limit is 10,000 bytes" in err.message


def test_no_body(relay):
    assert rejected(relay.tenant, text=None).field == "text"


def test_from_outside_the_allow_list(tenant, smtp_server):
    save_server(
        tenant,
        relay_settings(smtp_server, from_policy="allow_listed", allowed_from=["@acme.example"]),
    )
    err = rejected(tenant, from_email="ceo@evil.example")
    assert err.field == "from"
    assert "@acme.example" in err.message
    ok = send_message(tenant, from_email="Ops@ACME.example", to=["b@x.example"], text="x")
    assert ok.from_email == "Ops@ACME.example"


def test_force_default_replaces_the_requested_from(tenant, smtp_server):
    save_server(tenant, relay_settings(smtp_server, from_policy="force_default"))
    message = send_message(tenant, from_email="other@acme.example", to=["b@x.example"], text="x")
    assert message.from_email == "app@acme.example"


def test_a_repeated_idempotency_key_returns_the_first_message(relay):
    first, created = enqueue_message(
        relay.tenant, to=["b@x.example"], text="x", idempotency_key="order-1"
    )
    again, created_again = enqueue_message(
        relay.tenant, to=["c@x.example"], text="y", idempotency_key="order-1"
    )
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert Message.objects.count() == 1


def test_the_same_idempotency_key_in_another_tenant_is_another_message(relay, other_tenant):
    save_server(other_tenant, relay_settings_for_port(relay.port))
    a, _ = enqueue_message(relay.tenant, to=["b@x.example"], text="x", idempotency_key="k")
    b, _ = enqueue_message(other_tenant, to=["b@x.example"], text="x", idempotency_key="k")
    assert a.id != b.id


def relay_settings_for_port(port):
    return {
        "name": "DEFAULT",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "default_from": "app@globex.example",
    }


@pytest.mark.parametrize("bulk", [False, True])
@pytest.mark.django_db(transaction=True)  # foreign keys are checked at commit, as in production
def test_a_server_deleted_while_mail_is_queued_is_a_clear_refusal(relay, monkeypatch, bulk):
    """The race of a send and a delete: the server was found, then went before the INSERT."""
    from outbox import services
    from servers.models import ServerConfig

    real_build = services.build_message

    def build_then_delete(*args, **kwargs):
        message = real_build(*args, **kwargs)
        ServerConfig.objects.filter(pk=relay.pk).delete()
        return message

    monkeypatch.setattr(services, "build_message", build_then_delete)
    with pytest.raises(MessageRejected) as refused:
        if bulk:
            services.send_messages(relay.tenant, [{"to": ["b@example.com"], "text": "x"}])
        else:
            services.send_message(relay.tenant, to=["b@example.com"], text="x")
    assert refused.value.field == "server"
    assert "was deleted while this mail was being queued" in refused.value.message
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_racing_another_request_on_an_idempotency_key_is_a_clear_refusal(
    relay, monkeypatch
):
    """Another request stores the same key between this batch's check and its INSERT."""
    import threading

    from django.db import connection

    from mailadmin.errors import BatchRejected
    from outbox import services

    real_insert = services.insert_many

    def other_request_first(messages):
        def other():
            try:
                send_message(relay.tenant, to=["o@example.com"], text="x", idempotency_key="k1")
            finally:
                connection.close()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        real_insert(messages)

    monkeypatch.setattr(services, "insert_many", other_request_first)
    batch = [
        {"to": ["a@example.com"], "text": "x", "idempotency_key": "k1"},
        {"to": ["b@example.com"], "text": "x", "idempotency_key": "k2"},
    ]
    with pytest.raises(BatchRejected) as refused:
        services.send_messages(relay.tenant, batch)
    assert "Send the batch again" in refused.value.message
    assert list(Message.objects.values_list("to", flat=True)) == [["o@example.com"]]
    monkeypatch.setattr(services, "insert_many", real_insert)
    again = services.send_messages(relay.tenant, batch)  # the retry the refusal asks for
    assert again[0].to == ["o@example.com"] and Message.objects.count() == 2
