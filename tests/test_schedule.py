"""send_at schedules, expires_at ends the wait for mail that is too old to matter."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailadmin.errors import MessageRejected
from mailadmin.status import MessageStatus
from outbox import delivery
from outbox.models import Message
from outbox.services import send_message

pytestmark = pytest.mark.django_db


def test_scheduled_mail_waits_for_its_time(relay, smtp_server):
    later = timezone.now() + timedelta(hours=1)
    message = send_message(relay.tenant, to=["b@x.example"], text="x", send_at=later)
    delivery.deliver_due()
    assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED
    assert smtp_server.handler_obj.received == []
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    delivery.deliver_due()
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT


def test_the_api_takes_iso_times_and_refuses_naive_ones(api, relay):
    url = "/api/v1/tenants/acme/messages"
    ok = api.post(
        url,
        {
            "to": ["b@x.example"],
            "text": "x",
            "send_at": "2999-01-01T09:00:00Z",
            "expires_at": "2999-01-02T09:00:00Z",
        },
        format="json",
    )
    assert ok.status_code == 202, ok.content
    assert ok.json()["next_attempt_at"].startswith("2999-01-01T09:00:00")
    assert ok.json()["expires_at"].startswith("2999-01-02T09:00:00")
    naive = api.post(
        url, {"to": ["b@x.example"], "text": "x", "send_at": "2999-01-01 09:00"}, format="json"
    )
    assert naive.status_code == 400
    assert "send_at" in naive.json()["errors"]


def test_expiry_must_follow_the_send_time(relay):
    with pytest.raises(MessageRejected) as caught:
        send_message(
            relay.tenant,
            to=["b@x.example"],
            text="x",
            send_at=timezone.now() + timedelta(hours=2),
            expires_at=timezone.now() + timedelta(hours=1),
        )
    assert caught.value.field == "expires_at"


def test_a_temporary_failure_once_the_expiry_has_passed_is_final(relay, smtp_server):
    message = send_message(
        relay.tenant, to=["b@x.example"], text="x", expires_at=timezone.now() + timedelta(hours=1)
    )
    smtp_server.handler_obj.data_replies.extend(["451 4.3.0 later", "451 4.3.0 later"])
    delivery.deliver_due()  # within its life: retried
    assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    [claimed] = delivery.claim()
    claimed.expires_at = timezone.now() - timedelta(seconds=1)  # it expires while being sent
    delivery.deliver_batch([claimed])
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.last_error.startswith("Expired at")
    assert "451 4.3.0 later" in message.last_error


def test_held_and_queued_mail_past_its_expiry_is_failed_by_the_sweep(relay):
    message = send_message(
        relay.tenant, to=["b@x.example"], text="x", expires_at=timezone.now() + timedelta(hours=1)
    )
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.HELD, expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert delivery.expire_overdue() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "Expired before it could be sent" in message.last_error
