"""The delivery engine: claim due messages, send them per server on one connection, record.

Claiming is a conditional status transition (`queued` → `sending` with a claim token), made
after `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL. SQLite ignores the row lock, but the
conditional UPDATE still lets only one worker win each row, so the same code is safe on both.
"""

import logging
import random
import time
import uuid
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from mailadmin.errors import MailError
from mailadmin.status import MessageStatus, Outcome
from servers.limits import Breaker, Limits
from servers.models import ServerConfig
from servers.transports import transport_for

from .models import Attempt, Message

log = logging.getLogger(__name__)
BATCH_SIZE = 100
# Accepted messages are recorded in groups: fewer writes, and a worker that dies re-sends at
# most this many messages whose 250 it had not recorded yet.
RECORD_EVERY = 50
SLOT_BUSY_RETRY_SECONDS = 1.0


# What delivery reads of a claimed message; the rest (bodies for pages, addresses as given)
# stays in the database.
CLAIMED_FIELDS = (
    "id",
    "tenant_id",
    "server_id",
    "server_name",
    "priority",
    "from_email",
    "recipients",
    "raw",
    "attempts_count",
    "next_attempt_at",
    "expires_at",
    "claim",
)


def claim(
    *,
    ids: list[str] | None = None,
    server_id: int | None = None,
    orphans: bool = False,
    limit: int = BATCH_SIZE,
) -> list[Message]:
    """Take up to `limit` due messages (of one server, or whose server is gone).

    One statement picks, locks, marks and returns the rows: an UPDATE of the rows picked with
    FOR UPDATE SKIP LOCKED (on PostgreSQL), so concurrent workers each get other rows without
    waiting. The `status = queued` test in the UPDATE itself keeps SQLite
    (which has no row locks, but writes one statement at a time) just as safe.
    """
    now = timezone.now()
    due = Message.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        status=MessageStatus.QUEUED,
        next_attempt_at__lte=now,
    )
    if ids is not None:
        due = due.filter(id__in=ids)
    if server_id is not None:
        due = due.filter(server_id=server_id)
    if orphans:
        due = due.filter(server__isnull=True)
    due = due.order_by("-priority", "next_attempt_at").values("id")[:limit]
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    fields = [Message._meta.get_field(name.removesuffix("_id")) for name in CLAIMED_FIELDS]
    returning = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with transaction.atomic():  # FOR UPDATE is compiled only inside a transaction
        picked_sql, picked_params = due.query.sql_with_params()
        # Names come from the model, every value is a parameter: no injection (S608).
        # The pick is a CTE: PostgreSQL runs a CTE with FOR UPDATE exactly once, while a plain
        # IN (subquery ... LIMIT n) may be run again per row and so take more than n rows.
        sql = (
            f"WITH picked AS ({picked_sql}) "  # noqa: S608
            f"UPDATE {Message._meta.db_table} SET status = %s, claim = %s, claimed_at = %s "
            f"WHERE status = %s AND id IN (SELECT id FROM picked) RETURNING {returning}"
        )
        params = [
            *picked_params,
            MessageStatus.SENDING,
            Message._meta.get_field("claim").get_db_prep_value(uuid.uuid4(), connection),
            Message._meta.get_field("claimed_at").get_db_prep_value(now, connection),
            MessageStatus.QUEUED,
        ]
        claimed = list(Message.objects.raw(sql, params))
    claimed.sort(key=lambda m: (m.server_id or 0, -m.priority, m.next_attempt_at))
    return claimed


def backoff_seconds(attempts: int) -> float:
    base = settings.MAILADMIN_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    capped = min(base, settings.MAILADMIN_RETRY_MAX_SECONDS)
    return capped * random.uniform(0.8, 1.2)  # jitter keeps retries of a burst apart


def _finish(message: Message, *, status: str, **fields) -> bool:
    """Write the outcome only if this worker still holds the claim."""
    return bool(
        Message.objects.filter(pk=message.pk, claim=message.claim).update(
            status=status, claim=None, claimed_at=None, **fields
        )
    )


def _sent_detail(result) -> str:
    detail = f"{result.code} {result.reply}"
    if result.refused:
        refused = "; ".join(f"{a}: {c} {t}" for a, (c, t) in result.refused.items())
        detail += f" — refused: {refused}"
    return detail


def record_sent(sent: list[tuple[Message, object]]) -> None:
    """Record accepted messages: mark them sent and add their attempts, in one transaction.
    Only rows this worker still holds are written.

    Plain SQL: building these statements through the ORM cost more than sending the mail.
    """
    if not sent:
        return
    if connection.vendor == "postgresql":
        _record_sent_postgresql(sent)
    else:
        _record_sent_generic(sent)


# One statement of fixed text (arrays, not a placeholder per row), so psycopg prepares it once
# per connection: the UPDATE returns the rows this worker still held, the INSERT logs them.
RECORD_SENT_POSTGRESQL = """
WITH accepted(id, code, detail) AS (SELECT * FROM unnest(%s::uuid[], %s::int[], %s::text[])),
done AS (
    UPDATE outbox_message AS m SET status = %s, claim = NULL, claimed_at = NULL, sent_at = %s,
        last_error = '', attempts_count = m.attempts_count + 1, last_reply = accepted.detail
    FROM accepted WHERE m.id = accepted.id AND m.claim = ANY(%s::uuid[])
    RETURNING m.id, m.tenant_id, m.server_name, accepted.code, accepted.detail
)
INSERT INTO outbox_attempt (tenant_id, message_id, server_name, at, outcome, code, detail)
SELECT tenant_id, id, server_name, %s, %s, code, detail FROM done
"""


def _record_sent_postgresql(sent: list[tuple[Message, object]]) -> None:
    now = timezone.now()
    params = [
        [message.pk for message, _ in sent],
        [result.code for _, result in sent],
        [_sent_detail(result) for _, result in sent],
        MessageStatus.SENT,
        now,
        list({message.claim for message, _ in sent}),
        now,
        Outcome.SENT,
    ]
    with connection.cursor() as cursor:  # one statement: atomic by itself
        cursor.execute(RECORD_SENT_POSTGRESQL, params)


def _record_sent_generic(sent: list[tuple[Message, object]]) -> None:
    """The same for SQLite (the embedded shape): one UPDATE with a CASE, one INSERT."""
    now = timezone.now()
    pk_field, claim_field = Message._meta.pk, Message._meta.get_field("claim")
    replies = {}
    for message, result in sent:
        replies[pk_field.get_db_prep_value(message.pk, connection)] = (
            message,
            result.code,
            _sent_detail(result),
        )
    claims = [claim_field.get_db_prep_value(c, connection) for c in {m.claim for m, _ in sent}]
    ids = list(replies)
    cases = " ".join("WHEN %s THEN %s" for _ in ids)
    # Names come from the model, every value is a parameter: no injection (S608).
    table = Message._meta.db_table
    sql = (
        f"UPDATE {table} SET status = %s, claim = NULL, claimed_at = NULL, "  # noqa: S608
        "sent_at = %s, last_error = '', attempts_count = attempts_count + 1, "
        f"last_reply = CASE id {cases} END "
        f"WHERE id IN ({', '.join(['%s'] * len(ids))}) "
        f"AND claim IN ({', '.join(['%s'] * len(claims))}) RETURNING id"
    )
    params = [MessageStatus.SENT, now]
    for pk in ids:
        params += [pk, replies[pk][2]]
    params += ids + claims
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        owned = [
            pk_field.get_db_prep_value(pk_field.to_python(row[0]), connection)
            for row in cursor.fetchall()
        ]
        Attempt.objects.bulk_create(
            Attempt(
                tenant_id=message.tenant_id,
                message=message,
                server_name=message.server_name,
                at=now,
                outcome=Outcome.SENT,
                code=code,
                detail=detail,
            )
            for message, code, detail in (replies[pk] for pk in owned)
        )


def _log_attempt(message: Message, now, outcome: str, err: MailError, text: str) -> None:
    Attempt.objects.create(
        tenant_id=message.tenant_id,
        message=message,
        server_name=message.server_name,
        at=now,
        outcome=outcome,
        code=err.code,
        detail=text,
    )


def record_failure(message: Message, err: MailError) -> float | None:
    """Reschedule (returns the delay in seconds) or fail the message for good (returns None)."""
    attempts = message.attempts_count + 1
    text = err.describe()
    now = timezone.now()
    expired = message.expires_at is not None and now >= message.expires_at
    hold = getattr(err, "hold", False) and not expired
    exhausted = err.counts_as_attempt and attempts >= settings.MAILADMIN_MAX_ATTEMPTS
    give_up = expired or (not hold and (not err.retryable or exhausted))
    if expired:
        text = (
            f"Expired at {message.expires_at:%Y-%m-%d %H:%M:%S} UTC before it could be sent. {text}"
        )
    delay = None
    fallback = message.server.fallback if message.server is not None else None
    if err.retryable and not give_up and not hold and fallback is not None and fallback.active:
        return _fail_over(message, err, fallback, attempts=attempts, now=now)
    with transaction.atomic():
        if hold and not give_up:
            # The account lost its grant: keep the mail until someone consents again.
            done = _finish(
                message, status=MessageStatus.HELD, last_error=text, attempts_count=attempts
            )
        elif give_up:
            if err.retryable and not expired:
                text = f"Gave up after {attempts} attempts. Last error: {text}"
            done = _finish(
                message, status=MessageStatus.FAILED, last_error=text, attempts_count=attempts
            )
        else:
            delay = err.retry_after or backoff_seconds(attempts)
            done = _finish(
                message,
                status=MessageStatus.QUEUED,
                last_error=text,
                attempts_count=attempts,
                next_attempt_at=now + timedelta(seconds=delay),
            )
        if done:  # a held message's attempt reads "deferred"
            _log_attempt(message, now, Outcome.FAILED if give_up else Outcome.DEFERRED, err, text)
    return delay if done and not hold else None


def _fail_over(message: Message, err: MailError, fallback, *, attempts: int, now) -> float | None:
    """A temporary failure on a server with a fallback: send through the fallback now."""
    text = f"{err.describe()} Sending through fallback server {fallback.name}."
    with transaction.atomic():
        done = _finish(
            message,
            status=MessageStatus.QUEUED,
            server=fallback,
            server_name=fallback.name,
            last_error=text,
            attempts_count=attempts,
            next_attempt_at=now,
        )
        if done:
            _log_attempt(message, now, Outcome.DEFERRED, err, text)
    return 0.0 if done else None


def deliver_batch(messages: list[Message], *, breaker=None) -> list[tuple[str, float]]:
    """Send claimed messages, one connection per server. Returns retries as (id, delay)."""
    retries: list[tuple[str, float]] = []
    for server_id, group in groupby(messages, key=lambda m: m.server_id):
        group = list(group)
        # One server (and its account, whose secrets cost a decryption each) per group, not
        # one per message.
        server = (
            ServerConfig.objects.select_related("auth_account", "fallback")
            .filter(pk=server_id)
            .first()
        )
        for message in group:
            message.server = server
        if server is None:
            err = MailError(
                "The server of this message was deleted.",
                hint="Retry it after choosing another server.",
            )
            for message in group:
                record_failure(message, err)
            continue
        transport = transport_for(server)
        sent = []
        heartbeat = Heartbeat(group[0].claim)
        outcomes = transport.send_many([(m.from_email, m.recipients, bytes(m.raw)) for m in group])
        done: set[int] = set()
        try:
            for index, outcome in outcomes:
                heartbeat.beat()
                message = group[index]
                done.add(index)
                if isinstance(outcome, MailError):
                    err = outcome
                    log.info("message %s not sent: %s", message.id, err.message)
                    delay = record_failure(message, err)
                    if delay is not None:
                        retries.append((str(message.id), delay))
                    unreachable = transport.connection is None and err.retryable
                    if unreachable and breaker is not None:
                        breaker.failed()
                    rest = [m for i, m in enumerate(group) if i not in done]
                    if unreachable and rest:
                        # The connection itself failed: the rest of the batch would only repeat
                        # it now. With a fallback they all go there; otherwise they go back to
                        # wait, without an attempt.
                        if server.fallback is not None and server.fallback.active:
                            for other in rest:
                                if (delay := record_failure(other, err)) is not None:
                                    retries.append((str(other.id), delay))
                        else:
                            _release(rest)
                        break
                    continue
                sent.append((message, outcome))
                if breaker is not None and len(sent) == 1:
                    breaker.succeeded()
                if len(sent) >= RECORD_EVERY:
                    record_sent(sent)
                    sent = []
            else:
                # A transport that stopped without an outcome for some: they were not sent.
                _release([m for i, m in enumerate(group) if i not in done])
        finally:
            outcomes.close()
            transport.close()
            record_sent(sent)  # even after an unexpected error: these were accepted
    return retries


class Heartbeat:
    """Keeps a live worker's claims fresh, so that only a dead worker's rows look stale to the
    sweep, however long a batch takes against a slow server."""

    def __init__(self, claim):
        self.claim = claim
        self.interval = settings.MAILADMIN_STALE_SENDING_SECONDS / 3
        self.last = time.monotonic()

    def beat(self) -> None:
        if time.monotonic() - self.last >= self.interval:
            Message.objects.filter(claim=self.claim, status=MessageStatus.SENDING).update(
                claimed_at=timezone.now()
            )
            self.last = time.monotonic()


def _release(messages: list[Message]) -> None:
    for message in messages:
        Message.objects.filter(pk=message.pk, claim=message.claim).update(
            status=MessageStatus.QUEUED, claim=None, claimed_at=None
        )


def due_servers() -> list[int | None]:
    """Servers with mail due now (None: mail whose server was deleted)."""
    due = Message.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=timezone.now())
    return list(due.values_list("server_id", flat=True).distinct())


def deliver_for_server(server_id: int | None, *, max_batches: int = 50, on_backlog=None):
    """Deliver one server's due mail within its limits.

    `on_backlog()` is called once if the first batch comes back full: there is more mail
    than one connection should carry alone, so the caller can ask another worker to join
    (up to the server's max_connections, which every run respects; never for a server of
    one connection, where the helper could only find the slot taken).

    Returns (retries as (id, delay), seconds after which to look again, or None when its
    due mail is done). A server at max_connections or out of rate budget leaves its mail for
    later; other servers' mail is never held up by it.
    """
    server = ServerConfig.objects.filter(pk=server_id).first() if server_id is not None else None
    if server is None:  # its server was deleted: the batch fails them with a sentence
        return deliver_batch(claim(orphans=True)), None
    breaker = Breaker(server)
    if (paused := breaker.wait()) is not None:
        return [], paused  # the server keeps failing: leave it alone until the pause ends
    limits = Limits(server)
    if not limits.acquire_slot():
        # As many workers as the server allows are sending. They may be finishing just as
        # this mail came in, so look again shortly rather than leave it to the sweep.
        return [], SLOT_BUSY_RETRY_SECONDS
    if server.max_connections <= 1:
        on_backlog = None
    retries: list[tuple[str, float]] = []
    try:
        for _ in range(max_batches):
            granted, wait = limits.take(BATCH_SIZE)
            if not granted:
                return retries, wait
            batch = claim(server_id=server_id, limit=granted)
            limits.give_back(granted - len(batch))
            if not batch:
                break
            if on_backlog is not None and len(batch) == BATCH_SIZE:
                on_backlog()
                on_backlog = None
            retries.extend(deliver_batch(batch, breaker=breaker))
            limits.renew_slot()
            if breaker.wait() is not None:
                break
        else:
            return retries, 0.0  # a long queue: more is due now, after other servers' turn
    finally:
        limits.release_slot()
    return retries, None


def deliver_due(*, server_id: int | None = None, max_batches: int = 50, rounds: int = 5):
    """Deliver due mail server by server (all servers, or one), within each one's limits.

    A few rounds, because mail failed over to a fallback server is due there at once.
    Returns the retries to schedule as (message id, delay).
    """
    retries = []
    for _ in range(1 if server_id is not None else rounds):
        servers = [server_id] if server_id is not None else due_servers()
        if not servers:
            break
        for each in servers:
            retries.extend(deliver_for_server(each, max_batches=max_batches)[0])
    return retries


def server_of(message_id: str) -> int | None:
    """The server of a message still waiting to go, or None (already taken or done)."""
    return (
        Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED)
        .values_list("server_id", flat=True)
        .first()
    )


def requeue_stale() -> int:
    """Give back rows left in `sending` by a worker that died mid-batch."""
    cutoff = timezone.now() - timedelta(seconds=settings.MAILADMIN_STALE_SENDING_SECONDS)
    return Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=cutoff).update(
        status=MessageStatus.QUEUED, claim=None, claimed_at=None
    )


def expire_overdue() -> int:
    """Fail waiting mail past its expiry: it is too old to matter now."""
    return Message.objects.filter(
        status__in=[MessageStatus.QUEUED, MessageStatus.HELD],
        expires_at__isnull=False,
        expires_at__lte=timezone.now(),
    ).update(
        status=MessageStatus.FAILED,
        last_error="Expired before it could be sent (see the attempts for why it waited).",
    )


def overdue_exists() -> bool:
    return Message.objects.filter(
        status=MessageStatus.QUEUED, next_attempt_at__lte=timezone.now()
    ).exists()
