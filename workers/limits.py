"""Shared rate-limit budgets and crawl locks in Redis, for workers on many hosts.

Two workers must never fetch the same page, and all of them together must stay
inside a platform's rate limit. Both live in Redis, the one store every worker
already shares:

* :class:`RateBudget` is a token bucket per source (``requests`` per ``per_s``
  seconds, bursting up to ``requests``), refilled and spent atomically by one
  Lua script that reads the clock from Redis (``TIME``), so hosts with skewed
  clocks share one budget.
* :func:`crawl_lock` is a lease per source (a Redis lock with a timeout): the
  crawl that holds it is the only one reading that source's cursor, so the
  next crawl starts after the pages the previous one stored.

Every call has a socket timeout: an unreachable Redis raises
``redis.ConnectionError`` or ``redis.TimeoutError``, which the tasks retry
with backoff.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis

__all__ = ["shared_redis_url", "RESCORE_LOCK", "one_rescore_at_a_time", "RateBudget", "BudgetExhausted", "crawl_lock",
           "budget_key", "lock_key"]

# KEYS[1]: the bucket hash; ARGV: capacity, refill per second, tokens wanted.
# Returns {granted (0/1), seconds to wait (string, as Redis truncates floats)}.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = capacity; at = now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local granted = 0
local wait = 0
if tokens >= want then
  tokens = tokens - want
  granted = 1
else
  wait = (want - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return {granted, tostring(wait)}
"""


log = logging.getLogger(__name__)

#: The lock every rescore holds (workers and the CLI alike): two overlapping
#: rescores would delete each other's communities.
RESCORE_LOCK = "agora:lock:rescore"


@contextlib.contextmanager
def one_rescore_at_a_time(client: redis.Redis | None, *, lease_s: float, wait_s: float) -> Iterator[None]:
    """Hold :data:`RESCORE_LOCK` while the body runs, waiting up to ``wait_s`` for it, else raise
    :class:`TimeoutError`. The lease (``lease_s``) frees it if its holder dies. With no
    ``client`` (no shared Redis) the body runs unserialised, with a warning."""
    if client is None:
        log.warning("no shared Redis (workers.broker_url / result_backend): rescores are not serialised")
        yield
        return
    lock = client.lock(RESCORE_LOCK, timeout=lease_s)
    if not lock.acquire(blocking=False):
        log.info("waiting up to %.0f s for the rescore running elsewhere", wait_s)
        if not lock.acquire(blocking=True, blocking_timeout=wait_s):
            raise TimeoutError(f"another rescore held {RESCORE_LOCK} for {wait_s:.0f} s")
    try:
        yield
    finally:
        with contextlib.suppress(redis.exceptions.LockError):  # the lease expired meanwhile
            lock.release()


def shared_redis_url(broker_url: str | None, result_backend: str | None) -> str | None:
    """The Redis every worker shares for locks and budgets: the result backend's, else the broker's.

    >>> shared_redis_url("amqp://guest@h//", "redis://h:6379/1")
    'redis://h:6379/1'
    >>> shared_redis_url("amqp://guest@h//", None) is None
    True
    """
    return next((u for u in (result_backend, broker_url) if u and u.startswith(("redis://", "rediss://"))), None)


def budget_key(source: str) -> str:
    """The Redis key of a source's budget.

    >>> budget_key("twitter")
    'agora:budget:twitter'
    """
    return f"agora:budget:{source}"


def lock_key(source: str) -> str:
    """The Redis key of a source's crawl lock.

    >>> lock_key("twitter")
    'agora:lock:crawl:twitter'
    """
    return f"agora:lock:crawl:{source}"


class BudgetExhausted(Exception):
    """No token within the wait allowed; ``retry_in`` says when one will be there."""

    def __init__(self, source: str, retry_in: float) -> None:
        self.source, self.retry_in = source, retry_in
        super().__init__(f"rate-limit budget of {source!r} exhausted; next request in {retry_in:.1f} s")


@dataclass(frozen=True)
class RateBudget:
    """A token bucket shared by every process that uses the same Redis and ``source``:
    at most ``requests`` grants per ``per_s`` seconds on average, bursts up to ``requests``."""

    client: redis.Redis
    source: str
    requests: int
    per_s: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_s <= 0:
            raise ValueError(f"budget of {self.source!r}: requests must be >= 1 and per_s > 0, "
                             f"got {self.requests} per {self.per_s} s")

    def try_take(self, n: int = 1) -> float:
        """Take ``n`` tokens if they are there: returns 0.0, else the seconds until they will be."""
        script = self.client.register_script(_TAKE)
        granted, wait = script(keys=[budget_key(self.source)], args=[self.requests, self.requests / self.per_s, n])
        return 0.0 if int(granted) else float(wait)

    def take(self, n: int = 1, *, max_wait_s: float = 30.0) -> float:
        """Take ``n`` tokens, sleeping while the budget refills; returns the seconds waited.

        Raises :class:`BudgetExhausted` rather than wait longer than ``max_wait_s``.
        """
        waited = 0.0
        while True:
            wait = self.try_take(n)
            if wait == 0.0:
                return waited
            if waited + wait > max_wait_s:
                raise BudgetExhausted(self.source, wait)
            time.sleep(wait)
            waited += wait


def crawl_lock(client: redis.Redis, source: str, lease_s: float) -> redis.lock.Lock:
    """The lock a crawl of ``source`` holds; it expires after ``lease_s`` if its holder dies."""
    return client.lock(lock_key(source), timeout=lease_s, blocking=False)
