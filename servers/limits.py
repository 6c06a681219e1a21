"""Per-server limits shared by every worker: connection slots and a rate (token bucket).

With Redis (production, tests) the state lives there, so N workers on M machines share one
budget per server; a worker that dies frees its slot when the slot's lease runs out. The
embedded shape runs one worker process, so an in-process version keeps the same rules.
"""

import threading
import time
import uuid
from functools import cache

from django.conf import settings

SLOT_LEASE_SECONDS = 120  # renewed while a batch runs; a dead holder's slot expires

# KEYS[1] slots zset; ARGV: now, lease end, holder, max → 1 if taken
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[1], 3600)
  return 1
end
return 0
"""
# KEYS[1] bucket hash; ARGV: now, rate per second, capacity, wanted → {granted, wait ms}
_TAKE = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 't') or ARGV[3])
local last = tonumber(redis.call('HGET', KEYS[1], 'at') or ARGV[1])
local rate, capacity = tonumber(ARGV[2]), tonumber(ARGV[3])
tokens = math.min(capacity, tokens + (tonumber(ARGV[1]) - last) * rate)
local granted = math.min(math.floor(tokens), tonumber(ARGV[4]))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 't', tokens, 'at', ARGV[1])
redis.call('EXPIRE', KEYS[1], 3600)
local wait = 0
if granted == 0 then wait = math.ceil((1 - tokens) / rate * 1000) end
return {granted, wait}
"""


def redis_url() -> str | None:
    url = settings.REDIS_URL or settings.CELERY_BROKER_URL
    return url if url.startswith(("redis://", "rediss://")) else None


@cache
def _client(url: str):
    import redis

    return redis.Redis.from_url(url)


def capacity(rate_per_minute: int) -> int:
    """Burst size: one second's worth, at least one message."""
    return max(1, rate_per_minute // 60)


class Limits:
    """The budget of one server."""

    def __init__(self, server):
        self.server = server
        self.holder = uuid.uuid4().hex
        self.url = redis_url()

    # --- connection slots -------------------------------------------------------------
    def acquire_slot(self) -> bool:
        now = time.time()
        if self.url:
            keys = [f"mailadmin:slots:{self.server.pk}"]
            args = [now, now + SLOT_LEASE_SECONDS, self.holder, self.server.max_connections]
            return bool(_client(self.url).eval(_ACQUIRE, 1, *keys, *args))
        return _local.acquire(self.server.pk, self.holder, self.server.max_connections, now)

    def renew_slot(self) -> None:
        if self.url:
            key = f"mailadmin:slots:{self.server.pk}"
            _client(self.url).zadd(key, {self.holder: time.time() + SLOT_LEASE_SECONDS}, xx=True)

    def release_slot(self) -> None:
        if self.url:
            _client(self.url).zrem(f"mailadmin:slots:{self.server.pk}", self.holder)
        else:
            _local.release(self.server.pk, self.holder)

    # --- rate ---------------------------------------------------------------------------
    def take(self, wanted: int) -> tuple[int, float]:
        """(messages this worker may send now, seconds to wait when none)."""
        per_minute = self.server.rate_limit_per_minute
        if not per_minute:
            return wanted, 0.0
        args = [time.time(), per_minute / 60, capacity(per_minute), wanted]
        if self.url:
            key = f"mailadmin:rate:{self.server.pk}"
            granted, wait_ms = _client(self.url).eval(_TAKE, 1, key, *args)
            return int(granted), wait_ms / 1000
        return _local.take(self.server.pk, *args)

    def give_back(self, unused: int) -> None:
        """Return tokens a claim did not need (fewer messages were due than granted)."""
        if unused <= 0 or not self.server.rate_limit_per_minute:
            return
        if self.url:
            _client(self.url).hincrbyfloat(f"mailadmin:rate:{self.server.pk}", "t", unused)
        else:
            _local.give_back(self.server.pk, unused)


class Breaker:
    """Per-server circuit breaker: after MAILADMIN_BREAKER_THRESHOLD consecutive failures to
    reach a server, nobody tries it for MAILADMIN_BREAKER_OPEN_SECONDS; then one probe goes.
    A success closes it; a failed probe opens it again at once."""

    def __init__(self, server):
        self.key = f"mailadmin:breaker:{server.pk}"
        self.url = redis_url()

    def wait(self) -> float | None:
        """Seconds until the server may be tried again, or None when it may be tried now."""
        if self.url:
            until = _client(self.url).hget(self.key, "open_until")
            until = float(until) if until else 0.0
        else:
            until = _local.breakers.get(self.key, [0, 0.0])[1]
        remaining = until - time.time()
        return remaining if remaining > 0 else None

    def failed(self) -> None:
        threshold = settings.MAILADMIN_BREAKER_THRESHOLD
        open_until = time.time() + settings.MAILADMIN_BREAKER_OPEN_SECONDS
        if self.url:
            client = _client(self.url)
            failures = client.hincrby(self.key, "failures", 1)
            if failures >= threshold:
                # Stay one failure from opening: after the pause a failed probe re-opens it.
                client.hset(self.key, mapping={"open_until": open_until, "failures": threshold - 1})
            client.expire(self.key, 86400)
            return
        with _local.lock:
            failures, until = _local.breakers.get(self.key, [0, 0.0])
            failures += 1
            if failures >= threshold:
                failures, until = threshold - 1, open_until
            _local.breakers[self.key] = [failures, until]

    def succeeded(self) -> None:
        if self.url:
            _client(self.url).delete(self.key)
        else:
            _local.breakers.pop(self.key, None)


def first_wake(server_id: int, wait: float) -> bool:
    """True for the first caller that wants to wake a server's delivery within `wait` seconds:
    one pending wake-up per server, however many new messages or out-of-budget workers ask.
    Without Redis there is nothing shared to ask, so every caller wakes it."""
    if url := redis_url():
        key = f"mailadmin:wake:{server_id}"
        return bool(_client(url).set(key, 1, nx=True, px=int(wait * 1000) + 1))
    return True


def woken(server_id: int) -> None:
    """A delivery run for the server starts: mail queued from now on needs a new wake-up."""
    if url := redis_url():
        _client(url).delete(f"mailadmin:wake:{server_id}")


class _LocalLimits:
    """The same rules within one process, for the embedded shape without Redis."""

    def __init__(self):
        self.lock = threading.Lock()
        self.slots: dict[int, dict[str, float]] = {}
        self.buckets: dict[int, list[float]] = {}
        self.breakers: dict[str, list] = {}

    def acquire(self, server_id, holder, maximum, now) -> bool:
        with self.lock:
            held = {h: t for h, t in self.slots.get(server_id, {}).items() if t > now}
            if len(held) >= maximum:
                return False
            held[holder] = now + SLOT_LEASE_SECONDS
            self.slots[server_id] = held
            return True

    def release(self, server_id, holder) -> None:
        with self.lock:
            self.slots.get(server_id, {}).pop(holder, None)

    def take(self, server_id, now, rate, cap, wanted) -> tuple[int, float]:
        with self.lock:
            tokens, last = self.buckets.get(server_id, [cap, now])
            tokens = min(cap, tokens + (now - last) * rate)
            granted = min(int(tokens), wanted)
            tokens -= granted
            self.buckets[server_id] = [tokens, now]
            return granted, (0.0 if granted else (1 - tokens) / rate)

    def give_back(self, server_id, unused) -> None:
        with self.lock:
            if server_id in self.buckets:
                self.buckets[server_id][0] += unused


_local = _LocalLimits()
