"""The outbox: enqueue, claim, send, retry and fail, against a real SMTP server and PostgreSQL."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailadmin.status import MessageStatus, Outcome
from outbox import delivery
from outbox.models import Message
from outbox.services import send_message, send_messages
from servers.services import save_server

from .conftest import relay_settings
from .smtp_server import free_port

pytestmark = pytest.mark.django_db


def make_due(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def test_a_message_is_delivered_and_its_attempt_recorded(relay, smtp_server):
    message = send_message(relay.tenant, to=["bob@example.com"], subject="Hi", text="Hello")
    assert message.status == MessageStatus.QUEUED
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.sent_at is not None
    assert message.last_reply.startswith("250 2.0.0 Ok: queued as TEST1")
    [attempt] = message.attempts.all()
    assert (attempt.outcome, attempt.code, attempt.server_name) == (Outcome.SENT, 250, "DEFAULT")
    [received] = smtp_server.handler_obj.received
    assert received.rcpt_tos == ["bob@example.com"]
    assert message.message_id.encode() in received.content


def test_451_then_accept_is_retried_and_sent(relay, smtp_server):
    smtp_server.handler_obj.data_replies.append("451 4.7.1 Greylisted, try again")
    message = send_message(relay.tenant, to=["bob@example.com"], subject="Hi", text="Hello")
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.next_attempt_at > timezone.now()
    assert "Greylisted" in message.last_error
    make_due(message)
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    outcomes = [(a.outcome, a.code) for a in message.attempts.all()]
    assert outcomes == [(Outcome.DEFERRED, 451), (Outcome.SENT, 250)]
    assert len(smtp_server.handler_obj.received) == 1


def test_550_fails_the_message_with_the_reply_kept(relay, smtp_server):
    smtp_server.handler_obj.data_replies.append("550 5.7.1 Message rejected as spam")
    message = send_message(relay.tenant, to=["bob@example.com"], subject="Hi", text="Hello")
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "550 5.7.1 Message rejected as spam" in message.last_error
    [attempt] = message.attempts.all()
    assert (attempt.outcome, attempt.code) == (Outcome.FAILED, 550)


def test_a_server_that_is_down_is_retried_and_nothing_is_lost(tenant, smtp_server, settings):
    port = free_port()  # nothing listens here yet
    server = save_server(tenant, relay_settings(smtp_server, port=port))
    messages = [
        send_message(tenant, to=[f"u{i}@example.com"], subject=f"m{i}", text="x") for i in range(3)
    ]
    delivery.deliver_due()
    statuses = set(Message.objects.values_list("status", flat=True))
    assert statuses == {MessageStatus.QUEUED}
    assert Message.objects.filter(attempts_count=1).count() >= 1
    assert "refused the connection" in Message.objects.exclude(last_error="").first().last_error
    # The server comes back (same settings, now pointing at a live server).
    save_server(tenant, {"port": smtp_server.port}, server=server)
    Message.objects.update(next_attempt_at=timezone.now())
    delivery.deliver_due()
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert sorted(r.rcpt_tos[0] for r in smtp_server.handler_obj.received) == sorted(
        m.to[0] for m in messages
    )


def test_temporary_failures_give_up_after_the_maximum_attempts(relay, smtp_server, settings):
    settings.MAILADMIN_MAX_ATTEMPTS = 2
    smtp_server.handler_obj.data_replies.extend(["451 busy", "451 still busy"])
    message = send_message(relay.tenant, to=["bob@example.com"], subject="Hi", text="Hello")
    delivery.deliver_due()
    make_due(message)
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.last_error.startswith("Gave up after 2 attempts")


def test_backoff_grows_and_is_capped(settings):
    settings.MAILADMIN_RETRY_BASE_SECONDS = 10
    settings.MAILADMIN_RETRY_MAX_SECONDS = 100
    assert 8 <= delivery.backoff_seconds(1) <= 12
    assert 32 <= delivery.backoff_seconds(3) <= 48
    assert delivery.backoff_seconds(30) <= 120


def test_a_claimed_message_is_not_claimed_twice(relay):
    send_message(relay.tenant, to=["bob@example.com"], subject="Hi", text="Hello")
    first = delivery.claim()
    second = delivery.claim()
    assert len(first) == 1
    assert second == []


def test_a_claim_takes_at_most_its_limit_in_order_and_loads_what_delivery_needs(relay):
    send_messages(relay.tenant, [{"to": [f"u{i}@example.com"], "text": "x"} for i in range(30)])
    claimed = delivery.claim(limit=7)
    assert len(claimed) == 7
    assert Message.objects.filter(status=MessageStatus.SENDING).count() == 7
    assert len({m.claim for m in claimed}) == 1
    oldest = Message.objects.order_by("next_attempt_at").values_list("id", flat=True)[:7]
    assert {m.id for m in claimed} == set(oldest)
    first = claimed[0]
    assert first.recipients and bytes(first.raw).startswith(b"From:") and first.server_name


def test_higher_priority_is_claimed_first(relay):
    low = send_message(relay.tenant, to=["a@example.com"], subject="l", text="x", priority="low")
    high = send_message(relay.tenant, to=["a@example.com"], subject="h", text="x", priority="high")
    [claimed] = delivery.claim(limit=1)
    assert claimed.id == high.id
    assert Message.objects.get(pk=low.pk).status == MessageStatus.QUEUED


def test_rows_left_sending_by_a_dead_worker_are_requeued(relay, settings):
    settings.MAILADMIN_STALE_SENDING_SECONDS = 60
    message = send_message(relay.tenant, to=["bob@example.com"], subject="Hi", text="Hello")
    delivery.claim()
    assert delivery.requeue_stale() == 0  # still fresh: its worker may be sending it
    Message.objects.filter(pk=message.pk).update(claimed_at=timezone.now() - timedelta(minutes=5))
    assert delivery.requeue_stale() == 1
    assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED


def test_editing_a_server_takes_effect_for_the_next_message(tenant, make_smtp_server):
    first, second = make_smtp_server(), make_smtp_server()
    server = save_server(tenant, relay_settings(first))
    send_message(tenant, to=["a@example.com"], subject="1", text="x")
    delivery.deliver_due()
    save_server(tenant, {"port": second.port}, server=server)
    send_message(tenant, to=["b@example.com"], subject="2", text="x")
    delivery.deliver_due()
    assert [r.rcpt_tos for r in first.handler_obj.received] == [["a@example.com"]]
    assert [r.rcpt_tos for r in second.handler_obj.received] == [["b@example.com"]]


def test_recipient_override_sends_everything_to_the_override(tenant, smtp_server):
    save_server(tenant, relay_settings(smtp_server, override_recipients=["qa@acme.example"]))
    send_message(tenant, to=["customer@example.com"], bcc=["x@example.com"], subject="s", text="t")
    delivery.deliver_due()
    [received] = smtp_server.handler_obj.received
    assert received.rcpt_tos == ["qa@acme.example"]
    assert b"X-Mailadmin-Original-To: customer@example.com, x@example.com" in received.content
    assert b"customer@example.com" not in received.content.split(b"X-Mailadmin")[0]


def test_a_refused_login_fails_every_message_of_the_batch_with_the_reason(tenant, make_smtp_server):
    from accounts.services import save_account

    from .smtp_server import USERNAME

    controller = make_smtp_server(auth=True)
    save_account(tenant, {"name": "wrong", "kind": "basic", "username": USERNAME, "password": "no"})
    save_server(tenant, relay_settings(controller, auth_account="wrong"))
    send_messages(tenant, [{"to": [f"u{i}@example.com"], "text": "x"} for i in range(3)])
    delivery.deliver_due()
    failed = Message.objects.filter(status=MessageStatus.FAILED)
    assert failed.count() == 3
    assert all("refused the login" in m.last_error for m in failed)
    assert controller.handler_obj.received == []
