"""Thin Celery tasks: they take ids and call the delivery engine."""

import contextlib
import logging
import math

from celery import shared_task
from django.db import transaction

from servers.limits import first_wake, woken

from . import delivery

log = logging.getLogger(__name__)


# A wake-up still pending after this long is taken as lost (the sweep sends one anyway).
PENDING_WAKE_SECONDS = 60


def wake(task, *args, countdown: float | None = None, server_id: int | None = None) -> None:
    """Send a wake-up after the transaction commits, best effort.

    The row is the truth and the broker only carries wake-ups: with the broker down, the
    message is still queued and the sweep delivers it, so the caller must not see an error.
    With `server_id`, nothing is sent while a wake-up for that server is already pending:
    the run it starts will find this mail too (a burst costs one publish, not one each).
    """

    def send():
        try:
            if server_id is not None and not first_wake(server_id, PENDING_WAKE_SECONDS):
                return
            task.apply_async(args=args, countdown=countdown)
        except Exception as err:  # noqa: BLE001 - any broker failure; the sweep covers it
            if server_id is not None:
                with contextlib.suppress(Exception):
                    woken(server_id)  # not pending after all: let the next mail try again
            log.warning(
                "wake-up %s%s not sent (%s); the sweep will deliver",
                task.name,
                args,
                type(err).__name__,
            )

    transaction.on_commit(send)


# Longer waits are left to the sweep: a Redis ETA task held past the broker's visibility
# timeout is delivered again, and the row's next_attempt_at is the truth anyway.
MAX_COUNTDOWN_SECONDS = 300


def _schedule(retries: list[tuple[str, float]]) -> None:
    """Wake-ups for retries: one per second of delay, not one per message.

    A run delivers all of its server's due mail, so one wake-up at the latest delay of each
    second covers the rest of that second (mail failed over is due at once: one wake-up for
    the lot). It is given the id of that latest message, which no earlier run can have taken
    without taking the others too.
    """
    latest: dict[int, tuple[float, str]] = {}
    for message_id, delay in retries:
        if delay <= MAX_COUNTDOWN_SECONDS:
            second = math.ceil(delay)
            if second not in latest or delay >= latest[second][0]:
                latest[second] = (delay, message_id)
    for delay, message_id in latest.values():
        deliver.apply_async(args=[message_id], countdown=delay)


@shared_task(acks_late=True)
def deliver(message_id: str) -> None:
    """A wake-up for one message: deliver its server's due mail in batches on one connection.
    Wake-ups for messages already taken find nothing to do."""
    if (server_id := delivery.server_of(message_id)) is not None:
        _deliver_server(server_id)


@shared_task(acks_late=True)
def deliver_server(server_id: int) -> None:
    _deliver_server(server_id)


def _deliver_server(server_id: int) -> None:
    woken(server_id)  # before claiming: mail committed after this wakes a run of its own

    def helper() -> None:  # a backlog: one more worker may take a connection of its own
        wake(deliver_server, server_id)

    retries, wait = delivery.deliver_for_server(server_id, on_backlog=helper)
    _schedule(retries)
    if wait is not None and first_wake(server_id, wait):
        deliver_server.apply_async(args=[server_id], countdown=wait)


@shared_task(acks_late=True)
def deliver_due() -> None:
    """Wake a delivery for every server with due mail."""
    for server_id in delivery.due_servers():
        if server_id is None:
            _schedule(delivery.deliver_for_server(None)[0])
        else:
            deliver_server.delay(server_id)


@shared_task
def sweep() -> int:
    """Beat: re-queue rows of dead workers; wake a worker for due mail whose wake-up was lost."""
    delivery.expire_overdue()
    requeued = delivery.requeue_stale()
    if requeued or delivery.overdue_exists():
        deliver_due.delay()
    return requeued
