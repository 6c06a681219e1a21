"""Every write to the outbox: enqueue, cancel, retry. Delivery itself is in delivery.py."""

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from mailadmin.errors import BatchRejected, MessageRejected
from mailadmin.hotpath import insert, insert_many
from mailadmin.status import MessageStatus
from servers.models import ServerConfig
from tenants.models import Tenant

from .build import build_message
from .models import Message


def _first_with_key(tenant: Tenant, key: str) -> Message | None:
    return Message.objects.for_tenant(tenant).filter(idempotency_key=key).first()


def enqueue_message(
    tenant: Tenant, *, idempotency_key: str | None = None, **fields
) -> tuple[Message, bool]:
    """Validate, render and store one message; wake a worker after commit.

    `fields` are build_message's (`servers` included: a server the caller looked up
    already). Returns (message, created): a repeated idempotency key returns the first
    message and sends nothing.
    """
    if idempotency_key and (first := _first_with_key(tenant, idempotency_key)):
        return first, False
    message = build_message(tenant, idempotency_key=idempotency_key, **fields)
    try:
        if connection.in_atomic_block:
            # A savepoint, so that a duplicate key leaves the caller's transaction usable.
            with transaction.atomic():
                insert(message)
        else:
            insert(message)  # one INSERT commits by itself
    except IntegrityError:
        # A concurrent request with the same idempotency key won the race.
        if idempotency_key and (first := _first_with_key(tenant, idempotency_key)):
            return first, False
        _refuse_if_server_gone([message])
        raise
    from .tasks import MAX_COUNTDOWN_SECONDS, deliver, deliver_server, wake

    later = (message.next_attempt_at - timezone.now()).total_seconds()
    if later <= 0:
        wake(deliver_server, message.server_id, server_id=message.server_id)
    elif later <= MAX_COUNTDOWN_SECONDS:
        # Scheduled mail: a wake-up at its time when that is soon; the sweep otherwise.
        wake(deliver, str(message.id), countdown=later)
    return message, True


def _refuse_if_server_gone(messages: list[Message]) -> None:
    """A server deleted between choosing it and storing the mail: say so, not a 500."""
    wanted = {m.server_id: m.server_name for m in messages}
    present = set(ServerConfig.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    if gone := [name for pk, name in wanted.items() if pk not in present]:
        raise MessageRejected(
            f"Server '{gone[0]}' was deleted while this mail was being queued, so nothing was "
            "queued. Send it again (naming another server if it is not coming back).",
            field="server",
        )


def send_message(tenant: Tenant, **kwargs) -> Message:
    """The Python API: enqueue one message and return it (status `queued`)."""
    return enqueue_message(tenant, **kwargs)[0]


MAX_BATCH = 1000


def send_messages(tenant: Tenant, items: list[dict]) -> list[Message]:
    """Enqueue many messages, all or nothing.

    Every item is validated before anything is stored; any problem raises BatchRejected
    naming each bad item's index and field. Items whose idempotency key was seen before
    come back as the earlier message and are not sent again.
    """
    if not items:
        raise BatchRejected({}, "Give at least one message.")
    if len(items) > MAX_BATCH:
        raise BatchRejected({}, f"At most {MAX_BATCH} messages per batch; split the rest.")
    servers: dict = {}
    built: list[Message] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, item in enumerate(items):
        try:
            built.append(build_message(tenant, servers=servers, **item))
        except MessageRejected as err:
            errors[index] = {err.field or "non_field_errors": [err.message]}
        except TypeError as err:  # an unknown field from a Python caller
            errors[index] = {"non_field_errors": [str(err)]}
    if errors:
        raise BatchRejected(errors)
    keys = {m.idempotency_key for m in built if m.idempotency_key}
    earlier = {
        m.idempotency_key: m
        for m in Message.objects.for_tenant(tenant).filter(idempotency_key__in=keys)
    }
    fresh, result = [], []
    for message in built:
        key = message.idempotency_key
        if key and key in earlier:
            result.append(earlier[key])
            continue
        if key:
            earlier[key] = message  # a key repeated inside the batch is one message too
        fresh.append(message)
        result.append(message)
    try:
        with transaction.atomic():
            insert_many(fresh)
    except IntegrityError:
        _refuse_if_server_gone(fresh)
        if keys:
            raise BatchRejected(
                {},
                "Another request queued messages with some of these idempotency keys at the "
                "same moment, so nothing was queued. Send the batch again: keys already queued "
                "come back as the earlier messages.",
            ) from None
        raise
    from .tasks import deliver_server, wake

    for server_id in {m.server_id for m in fresh}:
        wake(deliver_server, server_id, server_id=server_id)
    return result


def send_test_email(server: ServerConfig, *, to: str, requested_by: str = "") -> Message:
    who = f" by {requested_by}" if requested_by else ""
    message, _ = enqueue_message(
        server.tenant,
        server=server.name,
        to=[to],
        subject=f"mailadmin test email from server {server.name}",
        text=(
            f"This is a test email sent through server '{server.name}' "
            f"({server.host}:{server.port}){who}.\n\nIf you can read this, the server works.\n"
        ),
        priority="high",
        is_test=True,
    )
    return message


@transaction.atomic
def release_held(account) -> int:
    """Queue again the mail held while `account` needed consent."""
    released = Message.objects.filter(
        status=MessageStatus.HELD, server__auth_account=account
    ).update(status=MessageStatus.QUEUED, next_attempt_at=timezone.now(), last_error="")
    if released:
        from .tasks import deliver_due, wake

        wake(deliver_due)
    return released


@transaction.atomic
def cancel_message(message: Message) -> bool:
    updated = Message.objects.filter(
        pk=message.pk, status__in=[MessageStatus.QUEUED, MessageStatus.HELD]
    ).update(status=MessageStatus.CANCELLED, last_error="Cancelled by a person.")
    return bool(updated)


@transaction.atomic
def retry_message(message: Message) -> bool:
    updated = Message.objects.filter(
        pk=message.pk, status__in=[MessageStatus.FAILED, MessageStatus.CANCELLED]
    ).update(status=MessageStatus.QUEUED, attempts_count=0, next_attempt_at=timezone.now())
    if updated:
        from .tasks import deliver, wake

        wake(deliver, str(message.pk))
    return bool(updated)
