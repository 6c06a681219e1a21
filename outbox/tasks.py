"""Thin Celery tasks: they take ids and call the delivery engine."""

from celery import shared_task

from . import delivery

# Longer waits are left to the sweep: a Redis ETA task held past the broker's visibility
# timeout is delivered again, and the row's next_attempt_at is the truth anyway.
MAX_COUNTDOWN_SECONDS = 300


def _schedule(retries: list[tuple[str, float]]) -> None:
    for message_id, delay in retries:
        if delay <= MAX_COUNTDOWN_SECONDS:
            deliver.apply_async(args=[message_id], countdown=delay)


@shared_task(acks_late=True)
def deliver(message_id: str) -> None:
    """A wake-up for one message: deliver it and whatever else of its server is due, in
    batches on one connection. Wake-ups for messages already taken find nothing to do."""
    server_id = delivery.server_of(message_id)
    if server_id is not None:
        _schedule(delivery.deliver_due(server_id=server_id))


@shared_task(acks_late=True)
def deliver_server(server_id: int) -> None:
    _schedule(delivery.deliver_due(server_id=server_id))


@shared_task(acks_late=True)
def deliver_due() -> None:
    _schedule(delivery.deliver_due())


@shared_task
def sweep() -> int:
    """Beat: re-queue rows of dead workers; wake a worker for due mail whose wake-up was lost."""
    requeued = delivery.requeue_stale()
    if requeued or delivery.overdue_exists():
        deliver_due.delay()
    return requeued
