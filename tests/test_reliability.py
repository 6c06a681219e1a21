"""Real workers against a flaky server and a broker that goes away: nothing is lost."""

import subprocess

import pytest
import redis
from django.conf import settings

from mailadmin.status import MessageStatus
from outbox import tasks
from outbox.models import Message
from outbox.services import send_message, send_messages
from servers.services import save_server

from .conftest import relay_settings
from .smtp_server import FlakyHandler, start_server
from .workers import celery_worker, wait_until

FAST_RETRIES = {
    "MAILADMIN_RETRY_BASE_SECONDS": "0.2",
    "MAILADMIN_RETRY_MAX_SECONDS": "1",
    "MAILADMIN_MAX_ATTEMPTS": "50",
    "MAILADMIN_SWEEP_SECONDS": "1",
    "MAILADMIN_STALE_SENDING_SECONDS": "5",
}
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


def counts() -> dict:
    result: dict[str, int] = {}
    for status in Message.objects.values_list("status", flat=True):
        result[status] = result.get(status, 0) + 1
    return result


@pytest.mark.django_db
def test_a_broker_that_is_down_loses_no_message_and_raises_nothing(
    relay, monkeypatch, django_capture_on_commit_callbacks
):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    publishes = []

    def broker_down(*args, **kwargs):
        publishes.append(kwargs.get("args"))
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.deliver_server, "apply_async", broker_down)
    for to in ("bob@example.com", "carol@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            send_message(relay.tenant, to=[to], text="x")
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.QUEUED}
    # The failed wake-up is not left pending: the next message tried to publish again.
    assert publishes == [(relay.pk,), (relay.pk,)]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_flaky_server_gets_every_message_eventually(tmp_path, tenant):
    flaky = start_server(handler=FlakyHandler(every=4))
    try:
        save_server(tenant, relay_settings(flaky))
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        with celery_worker(tmp_path, beat=True, env=FAST_RETRIES):
            send_messages(tenant, [{"to": [f"u{i}@example.com"], "text": "x"} for i in range(30)])
            wait_until(
                lambda: counts().get(MessageStatus.SENT) == 30, timeout=90, what="all 30 sent"
            )
        assert counts() == {MessageStatus.SENT: 30}
        received = {r.rcpt_tos[0] for r in flaky.handler_obj.received}
        assert received == {f"u{i}@example.com" for i in range(30)}
        assert flaky.handler_obj.injected >= 10
        print(f"{flaky.handler_obj.injected} failures injected; every message sent")
    finally:
        flaky.stop()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_redis_stopped_and_restarted_while_sending_loses_nothing(tmp_path, tenant, smtp_server):
    smtp_server.handler_obj.data_delay = 0.05
    save_server(tenant, relay_settings(smtp_server))
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()
    try:
        with celery_worker(tmp_path, beat=True, env=FAST_RETRIES):
            send_messages(tenant, [{"to": [f"a{i}@example.com"], "text": "x"} for i in range(20)])
            wait_until(
                lambda: len(smtp_server.handler_obj.received) >= 3,
                timeout=30,
                what="sending under way",
            )
            subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False)
            # Mail sent while the broker is gone is stored; only its wake-up is lost.
            for i in range(10):
                send_message(tenant, to=[f"b{i}@example.com"], text="x")
            subprocess.run(REDIS_START, check=True)
            wait_until(
                lambda: counts().get(MessageStatus.SENT) == 30,
                timeout=120,
                what="all 30 sent after Redis came back",
            )
    finally:
        if subprocess.run(["redis-cli", "-p", "6379", "ping"], capture_output=True).returncode:
            subprocess.run(REDIS_START, check=True)
    delivered = {r.rcpt_tos[0] for r in smtp_server.handler_obj.received}
    assert {f"a{i}@example.com" for i in range(20)} | {
        f"b{i}@example.com" for i in range(10)
    } == delivered
