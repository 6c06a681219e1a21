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
    """Deliver one message, if it is still due (a duplicate wake-up finds nothing to do)."""
    _schedule(delivery.deliver_due(ids=[message_id]))


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
