"""Per-server limits shared by all workers: connection slots and a rate."""

import time

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.utils import timezone

from mailadmin.status import MessageStatus
from outbox import delivery
from outbox.models import Attempt, Message
from outbox.services import send_messages
from servers.limits import Limits, capacity
from servers.services import save_server

from .conftest import relay_settings
from .smtp_server import Handler, free_port
from .workers import celery_worker, wait_until


@pytest.fixture(autouse=True)
def empty_redis():
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


@pytest.mark.django_db
def test_connection_slots_are_shared_and_freed(relay):
    save_server(relay.tenant, {"max_connections": 2}, server=relay)
    first, second, third = Limits(relay), Limits(relay), Limits(relay)
    assert first.acquire_slot() and second.acquire_slot()
    assert not third.acquire_slot()
    first.release_slot()
    assert third.acquire_slot()


@pytest.mark.django_db
def test_the_rate_grants_a_burst_then_paces(relay):
    save_server(relay.tenant, {"rate_limit_per_minute": 240}, server=relay)
    limits = Limits(relay)
    assert limits.take(100) == (capacity(240), 0.0) == (4, 0.0)
    granted, wait = limits.take(100)
    assert granted == 0 and 0 < wait <= 0.25
    time.sleep(0.5)
    assert limits.take(100)[0] == 2


@pytest.mark.django_db
def test_a_rate_limited_server_does_not_hold_up_another(tenant, make_smtp_server):
    slow_sink, fast_sink = make_smtp_server(), make_smtp_server()
    save_server(tenant, relay_settings(slow_sink, name="SLOW", rate_limit_per_minute=120))
    save_server(tenant, relay_settings(fast_sink, name="FAST"))
    send_messages(
        tenant, [{"server": "SLOW", "to": [f"s{i}@x.example"], "text": "x"} for i in range(10)]
    )
    send_messages(
        tenant, [{"server": "FAST", "to": [f"f{i}@x.example"], "text": "x"} for i in range(30)]
    )
    delivery.deliver_due()
    assert len(fast_sink.handler_obj.received) == 30
    assert len(slow_sink.handler_obj.received) == capacity(120) == 2


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_workers_hold_the_pace_within_ten_percent(tmp_path, tenant, make_smtp_server):
    rate, count = 240, 40  # four a second: a burst of 4, then 36 more over 9 s
    slow_sink, fast_sink = make_smtp_server(), make_smtp_server()
    save_server(tenant, relay_settings(slow_sink, name="SLOW", rate_limit_per_minute=rate))
    save_server(tenant, relay_settings(fast_sink, name="FAST"))
    with celery_worker(tmp_path), celery_worker(tmp_path):
        start = time.monotonic()
        send_messages(
            tenant,
            [{"server": "SLOW", "to": [f"s{i}@x.example"], "text": "x"} for i in range(count)],
        )
        send_messages(
            tenant, [{"server": "FAST", "to": [f"f{i}@x.example"], "text": "x"} for i in range(100)]
        )
        wait_until(
            lambda: len(fast_sink.handler_obj.received) == 100,
            timeout=30,
            what="the unlimited server's mail",
        )
        fast_done = fast_sink.handler_obj.received[-1].at - start
        wait_until(
            lambda: Message.objects.filter(status=MessageStatus.SENT).count() == count + 100,
            timeout=60,
            what="everything sent",
        )
    times = [r.at for r in slow_sink.handler_obj.received]
    expected = (count - capacity(rate)) / (rate / 60)
    measured = times[-1] - times[0]
    print(
        f"paced {count} messages over {measured:.2f} s (expected {expected:.2f} s); "
        f"the other server finished after {fast_done:.2f} s"
    )
    assert abs(measured - expected) <= 0.1 * expected
    assert fast_done < expected / 2


@pytest.mark.django_db
def test_the_breaker_stops_hammering_a_dead_server_then_probes(tenant, settings):
    settings.MAILADMIN_BREAKER_THRESHOLD = 3
    settings.MAILADMIN_BREAKER_OPEN_SECONDS = 1
    port = free_port()  # nothing listens yet
    save_server(
        tenant,
        {
            "name": "DEFAULT",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "default_from": "app@acme.example",
        },
    )
    send_messages(tenant, [{"to": [f"u{i}@example.com"], "text": "x"} for i in range(10)])
    for _ in range(4):
        delivery.deliver_due()
    # Three failed connections opened the breaker; after that nobody tried.
    assert Attempt.objects.count() == 3
    assert Message.objects.filter(status=MessageStatus.QUEUED).count() == 10
    handler = Handler()  # the server comes back on the same port
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        time.sleep(1.1)  # the pause ends: one probe, it succeeds, the breaker closes
        Message.objects.update(next_attempt_at=timezone.now())
        delivery.deliver_due()
        assert Message.objects.filter(status=MessageStatus.SENT).count() == 10
        assert len(handler.received) == 10
    finally:
        controller.stop()


def queued_wake_ups() -> list[list]:
    """The wake-up tasks waiting in the real Redis broker, as (task name, args)."""
    import json

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    wake_ups = []
    for raw in broker.lrange("celery", 0, -1):
        headers = json.loads(raw)["headers"]
        wake_ups.append([headers["task"], headers["argsrepr"]])
    return wake_ups


@pytest.mark.django_db
def test_a_burst_publishes_one_wake_up_until_a_run_starts(
    relay, django_capture_on_commit_callbacks
):
    from outbox.services import send_message
    from outbox.tasks import _deliver_server

    with django_capture_on_commit_callbacks(execute=True):
        for i in range(20):
            send_message(relay.tenant, to=[f"u{i}@example.com"], text="x")
    assert queued_wake_ups() == [["outbox.tasks.deliver_server", f"({relay.pk},)"]]
    _deliver_server(relay.pk)  # a run starts (and sends all 20)
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 20
    with django_capture_on_commit_callbacks(execute=True):
        send_message(relay.tenant, to=["late@example.com"], text="x")
    assert len(queued_wake_ups()) == 2  # mail after the run began wakes a run of its own


@pytest.mark.django_db
@pytest.mark.parametrize("max_connections, helpers", [(1, 0), (2, 1)])
def test_a_backlog_asks_for_a_helper_only_where_another_connection_is_allowed(
    tenant, make_smtp_server, max_connections, helpers
):
    sink = make_smtp_server()
    server = save_server(tenant, relay_settings(sink, max_connections=max_connections))
    send_messages(tenant, [{"to": [f"u{i}@example.com"], "text": "x"} for i in range(150)])
    asked = []
    retries, wait = delivery.deliver_for_server(server.pk, on_backlog=lambda: asked.append(1))
    assert (retries, wait) == ([], None)
    assert len(asked) == helpers
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 150


def overlapping_connections(received) -> int:
    """The most connections that were carrying mail at the same moment."""
    spans: dict[tuple, list[float]] = {}
    for message in received:
        first, last = spans.setdefault(message.peer, [message.at, message.at])
        spans[message.peer] = [min(first, message.at), max(last, message.at)]
    edges = sorted([(a, 1) for a, _ in spans.values()] + [(b, -1) for _, b in spans.values()])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("max_connections, together", [(1, 1), (4, 2)])
def test_a_backlog_is_shared_by_the_workers_up_to_max_connections(
    tmp_path, tenant, make_smtp_server, max_connections, together
):
    from outbox.tasks import deliver_server

    sink = make_smtp_server()
    server = save_server(tenant, relay_settings(sink, max_connections=max_connections))
    for first in range(0, 1500, 500):
        send_messages(
            tenant, [{"to": [f"u{i}@x.example"], "text": "x"} for i in range(first, first + 500)]
        )
    # One wake-up for the whole backlog, sent once both workers are up (they start in turn).
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    with celery_worker(tmp_path, concurrency=1), celery_worker(tmp_path, concurrency=1):
        deliver_server.delay(server.pk)
        wait_until(
            lambda: Message.objects.filter(status=MessageStatus.SENT).count() == 1500,
            timeout=90,
            what="1500 messages sent",
        )
    assert len(sink.handler_obj.received) == 1500
    assert overlapping_connections(sink.handler_obj.received) == together
