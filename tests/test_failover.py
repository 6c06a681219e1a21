"""Fallback servers: validation, and failover when the primary fails temporarily."""

import pytest

from mailadmin.status import MessageStatus, Outcome
from outbox import delivery
from outbox.models import Message
from outbox.services import send_message, send_messages
from servers.services import save_server

from .conftest import api_client, relay_settings
from .smtp_server import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def primary_down_with_fallback(tenant, make_smtp_server):
    backup = make_smtp_server()
    save_server(tenant, relay_settings(backup, name="BACKUP"))
    primary = save_server(
        tenant, relay_settings(backup, name="PRIMARY", port=free_port(), fallback="BACKUP")
    )
    save_server(tenant, {"is_default": True}, server=primary)
    return primary, backup


def test_mail_goes_through_the_fallback_and_attempts_show_both(primary_down_with_fallback):
    primary, backup = primary_down_with_fallback
    message = send_message(primary.tenant, to=["bob@example.com"], text="x")
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.server_name == "BACKUP"
    attempts = [(a.server_name, a.outcome) for a in message.attempts.all()]
    assert attempts == [("PRIMARY", Outcome.DEFERRED), ("BACKUP", Outcome.SENT)]
    assert "fallback server BACKUP" in message.attempts.first().detail
    assert [r.rcpt_tos for r in backup.handler_obj.received] == [["bob@example.com"]]


def test_a_whole_batch_fails_over_when_the_primary_is_down(primary_down_with_fallback):
    primary, backup = primary_down_with_fallback
    send_messages(primary.tenant, [{"to": [f"u{i}@example.com"], "text": "x"} for i in range(5)])
    delivery.deliver_due()
    assert set(Message.objects.values_list("status", "server_name")) == {("sent", "BACKUP")}
    assert len(backup.handler_obj.received) == 5


def test_a_batch_failing_over_costs_one_wake_up_not_one_per_message(
    primary_down_with_fallback, monkeypatch
):
    from outbox import tasks

    primary, backup = primary_down_with_fallback
    send_messages(primary.tenant, [{"to": [f"u{i}@example.com"], "text": "x"} for i in range(20)])
    published = []
    monkeypatch.setattr(
        tasks.deliver, "apply_async", lambda args, countdown: published.append((args, countdown))
    )
    retries, _ = delivery.deliver_for_server(primary.pk)
    assert len(retries) == 20 and {delay for _, delay in retries} == {0.0}
    tasks._schedule(retries)
    assert len(published) == 1 and published[0][1] == 0.0
    tasks.deliver(*published[0][0])  # the one wake-up sends all twenty through BACKUP
    assert Message.objects.filter(status=MessageStatus.SENT, server_name="BACKUP").count() == 20
    assert len(backup.handler_obj.received) == 20


def test_retries_wake_once_per_second_at_the_latest_message_of_that_second(monkeypatch):
    from outbox import tasks

    published = []
    monkeypatch.setattr(
        tasks.deliver, "apply_async", lambda args, countdown: published.append((args, countdown))
    )
    tasks._schedule([("a", 2.2), ("b", 2.7), ("c", 2.4), ("d", 31.0), ("e", 30.5), ("f", 9999)])
    assert sorted(published, key=lambda p: p[1]) == [(["b"], 2.7), (["d"], 31.0)]


def test_a_permanent_failure_does_not_fail_over(tenant, make_smtp_server):
    primary, backup = make_smtp_server(), make_smtp_server()
    save_server(tenant, relay_settings(backup, name="BACKUP"))
    save_server(tenant, relay_settings(primary, name="PRIMARY", fallback="BACKUP", is_default=True))
    primary.handler_obj.data_replies.append("550 5.7.1 Rejected")
    message = send_message(tenant, to=["bob@example.com"], text="x")
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert backup.handler_obj.received == []


@pytest.mark.parametrize("chain", [["A", "A"], ["A", "B", "A"], ["A", "B", "C", "A"]])
def test_fallback_cycles_are_refused(api, tenant, chain):
    names = sorted(set(chain))
    for name in names:
        api.post(
            "/api/v1/tenants/acme/servers",
            {"name": name, "host": "smtp.example.com", "port": 587},
            format="json",
        )
    for current, nxt in zip(chain[:-2], chain[1:-1], strict=True):
        ok = api.patch(f"/api/v1/tenants/acme/servers/{current}", {"fallback": nxt}, format="json")
        assert ok.status_code == 200, ok.content
    last, target = chain[-2], chain[-1]
    response = api.patch(
        f"/api/v1/tenants/acme/servers/{last}", {"fallback": target}, format="json"
    )
    assert response.status_code == 400
    assert "circle" in response.json()["errors"]["fallback"][0]


def test_a_fallback_in_another_tenant_is_refused(api, tenant, other_tenant):
    other = api_client(other_tenant)
    other.post(
        "/api/v1/tenants/globex/servers",
        {"name": "THEIRS", "host": "smtp.example.com", "port": 587},
        format="json",
    )
    response = api.post(
        "/api/v1/tenants/acme/servers",
        {"name": "MINE", "host": "smtp.example.com", "port": 587, "fallback": "THEIRS"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["fallback"] == ["No server named 'THEIRS' in this tenant."]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_workers_send_through_the_fallback_while_the_primary_is_down(
    tmp_path, primary_down_with_fallback
):
    import redis
    from django.conf import settings

    from .workers import celery_worker, wait_until

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    primary, backup = primary_down_with_fallback
    with celery_worker(tmp_path), celery_worker(tmp_path):
        send_messages(
            primary.tenant, [{"to": [f"u{i}@example.com"], "text": "x"} for i in range(20)]
        )
        wait_until(
            lambda: Message.objects.filter(status=MessageStatus.SENT).count() == 20,
            timeout=30,
            what="every message to be sent through BACKUP",
        )
    assert len(backup.handler_obj.received) == 20
    for message in Message.objects.prefetch_related("attempts"):
        attempts = [(a.server_name, a.outcome) for a in message.attempts.all()]
        assert attempts == [("PRIMARY", Outcome.DEFERRED), ("BACKUP", Outcome.SENT)]
