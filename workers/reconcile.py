"""Nothing lost in Redis's ``BRPOP`` window: a ledger of sent ingest tasks and a sweep that re-sends lost ones.

kombu's Redis transport hands a message to a worker with ``BRPOP`` (the
message leaves the queue list) and only then records it in the ``unacked``
hash, from where it would be redelivered if the worker died. A worker host
killed between the two loses the message: it is in no list, no hash, no
worker. RabbitMQ has no such window, so with an ``amqp://`` broker everything
here is off (no ledger, no sweep, no beat entry).

With a Redis broker:

* **Ledger.** Every :data:`LEDGERED` task Agora sends (the imports,
  ``agora.ingest_path``) is recorded in the broker's Redis just before it is
  published: task id → the whole task message (headers, properties and body:
  the file path and format, and the chain that follows, a few hundred bytes;
  the file itself is referred to, never copied) and, in a sorted set, the time
  it was sent (Redis's clock). A retry that sends the task again records it
  again with the new time.
* **Done.** A task that succeeds is removed from the ledger (``task_success``
  in the worker); one that fails for good (its retries spent, or an error that
  is not retried) or is revoked goes to the dead-letter list with its error,
  so it is not re-sent either.
* **Sweep** (:func:`sweep`). The entries sent longer ago than the visibility
  timeout plus a margin (:func:`settings_for`) that are neither done, nor
  waiting in their queue list, nor held by a worker (the ``unacked`` hash, where
  kombu keeps every message a worker has reserved or is running, until it is
  acknowledged) are suspects; a suspect still missing after ``confirm_s`` (so
  a message in the instant between ``BRPOP`` and ``unacked`` of a live worker
  is not taken for lost) is lost: it is re-sent as it was (same task id, same
  chain), logged and counted (``agora_tasks_resent_total{task}``). After
  ``max_attempts`` re-sends of one task it goes to the dead-letter list
  (:data:`DEAD_KEY`, newest first, at most :data:`DEAD_LIMIT` entries) with the
  reason, and is counted in ``agora_tasks_dead_lettered_total{task}``.
  One sweep at a time across all hosts (a lock in Redis); at most ``limit``
  entries per sweep, and queue lists are read in pages, so memory stays bounded.
* **When.** Every worker sweeps at start and then every ``interval_s`` on a
  thread of its main process (:func:`start_sweeper`), so a lost task comes back
  with no other process running; beat also sends :data:`RECONCILE_TASK` on the
  same interval (:func:`beat_entries`).

A queue purged by hand (``celery purge``) looks to the sweep like lost
messages: its imports are sent again. To cancel imports, revoke them (a revoked
import is dead-lettered), or delete the ledger's keys (``agora:reconcile:*``)
with the queue.

The tasks are idempotent, so a task re-sent although it was not lost (a worker
stalled for longer than ``confirm_s`` inside the window, or a ``done`` that did
not reach Redis) runs twice and stores nothing twice. The sweep relies on the
tasks being acknowledged late (``task_acks_late``, as :mod:`workers.app` sets):
a task acknowledged on receipt leaves ``unacked`` while it still runs.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from celery import Celery, Task
from celery.app.amqp import AMQP, task_message
from celery.signals import (before_task_publish, task_failure, task_revoked, task_success, worker_ready,
                            worker_shutdown)
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property
from prometheus_client import Counter

__all__ = ["LEDGERED", "RECONCILE_TASK", "LEDGER_KEY", "SENT_KEY", "ATTEMPTS_KEY", "DEAD_KEY", "LOCK_KEY",
           "MAX_ATTEMPTS", "DEAD_LIMIT", "RESENT", "DEAD", "LedgeredAMQP", "Ledger", "Settings", "SweepReport",
           "ledger_for", "settings_for", "sweep", "sweep_task", "beat_entries", "start_sweeper", "stop_sweeper"]

log = logging.getLogger(__name__)

#: The tasks recorded in the ledger: the imports. (A lost classify, rescore or alert run is made up by
#: the next one: classify takes every message without a sentiment; rescores are scheduled.)
LEDGERED = frozenset({"agora.ingest_path"})
RECONCILE_TASK = "agora.reconcile"
LEDGER_KEY = "agora:reconcile:ledger"      # hash: task id -> JSON entry (the message to re-send)
SENT_KEY = "agora:reconcile:sent"          # sorted set: task id -> sent at (Redis clock, epoch s)
ATTEMPTS_KEY = "agora:reconcile:attempts"  # hash: task id -> re-sends so far
DEAD_KEY = "agora:reconcile:dead"          # list of JSON {id, task, args, reason, attempts, at}, newest first
LOCK_KEY = "agora:lock:reconcile"
MAX_ATTEMPTS = 3
DEAD_LIMIT = 10_000
_PAGE = 1000

RESENT = Counter("agora_tasks_resent", "Tasks lost in the broker (Redis BRPOP window) and sent again", ["task"])
DEAD = Counter("agora_tasks_dead_lettered", "Tasks moved to the reconciler's dead-letter list", ["task"])

# KEYS: ledger, sent; ARGV: task id, entry. The time is Redis's, so hosts with skewed clocks agree.
_RECORD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
return tostring(now)
"""


# -- the ledger ---------------------------------------------------------------------------


@dataclass
class Ledger:
    """The ledger of one Redis broker, and what it needs of kombu's keys there.

    ``keyprefix``, ``unacked_key``, ``priority_steps`` and ``sep`` mirror kombu's Redis transport
    options (``global_keyprefix``, ``unacked_key``, ``priority_steps``) so the queue lists and the
    ``unacked`` hash are the ones kombu uses.
    """

    client: redis.Redis
    keyprefix: str = ""
    unacked_key: str = "unacked"
    priority_steps: tuple[int, ...] = (0, 3, 6, 9)
    sep: str = "\x06\x16"
    _record: Any = field(default=None, repr=False)

    def record(self, task_id: str, entry: dict[str, Any]) -> float:
        """Record (or re-record) ``task_id`` as sent now with ``entry``; returns the Redis time."""
        if self._record is None:
            self._record = self.client.register_script(_RECORD)
        return float(self._record(keys=[LEDGER_KEY, SENT_KEY], args=[task_id, dumps(entry)]))

    def done(self, task_id: str) -> None:
        """Forget ``task_id``: it finished."""
        self.client.pipeline().hdel(LEDGER_KEY, task_id).zrem(SENT_KEY, task_id).hdel(ATTEMPTS_KEY, task_id).execute()

    def bury(self, task_id: str, reason: str, entry: dict[str, Any] | None = None, attempts: int = 0, *,
             task: str | None = None) -> None:
        """Move ``task_id`` (named ``task`` if its entry is gone) to the dead-letter list with ``reason``;
        it is never re-sent."""
        if entry is None:
            entry = self.entry(task_id) or {}
        body = entry.get("body") or [[], {}]
        dead = {"id": task_id, "task": entry.get("task") or task, "args": body[0] if body else [],
                "queue": entry.get("queue"), "reason": reason, "attempts": attempts, "at": time.time()}
        (self.client.pipeline().lpush(DEAD_KEY, dumps(dead)).ltrim(DEAD_KEY, 0, DEAD_LIMIT - 1)
         .hdel(LEDGER_KEY, task_id).zrem(SENT_KEY, task_id).hdel(ATTEMPTS_KEY, task_id).execute())

    def entry(self, task_id: str) -> dict[str, Any] | None:
        raw = self.client.hget(LEDGER_KEY, task_id)
        return loads(raw) if raw else None

    def dead(self, n: int = 100) -> list[dict[str, Any]]:
        """The newest ``n`` dead letters."""
        return [loads(r) for r in self.client.lrange(DEAD_KEY, 0, n - 1)]

    def pending(self) -> int:
        """How many tasks the ledger holds (sent, not finished)."""
        return int(self.client.zcard(SENT_KEY))

    def now(self) -> float:
        s, us = self.client.time()
        return s + us / 1e6

    def older_than(self, age_s: float, limit: int) -> list[str]:
        """Up to ``limit`` task ids sent more than ``age_s`` ago, oldest first."""
        ids = self.client.zrangebyscore(SENT_KEY, "-inf", self.now() - age_s, start=0, num=limit)
        return [i.decode() if isinstance(i, bytes) else i for i in ids]

    def missing(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Of ``task_ids``, those still in the ledger but neither held by a worker (``unacked``) nor
        waiting in their queue list, with their entries. Ids no longer in the ledger are dropped
        (and their leftovers in the sent set cleaned)."""
        ids = list(task_ids)
        if not ids:
            return {}
        entries: dict[str, dict[str, Any]] = {}
        orphans = []
        for task_id, raw in zip(ids, self.client.hmget(LEDGER_KEY, ids)):
            if raw is None:
                orphans.append(task_id)
            else:
                entries[task_id] = loads(raw)
        if orphans:
            self.client.zrem(SENT_KEY, *orphans)
        if not entries:
            return {}
        # unacked before the queues: a message restored by kombu (unacked -> queue) in between is
        # seen in the queue; one taken by a worker (queue -> unacked) in between is seen by the
        # second look at unacked.
        held = self._held(set(entries))
        queues = {e.get("queue") for t, e in entries.items() if t not in held}
        queued = self._queued(set(entries) - held, {q for q in queues if q})
        held |= self._held(set(entries) - held - queued)
        return {t: e for t, e in entries.items() if t not in held and t not in queued}

    def _held(self, wanted: set[str]) -> set[str]:
        """Which of ``wanted`` are in kombu's ``unacked`` hash (a worker has them)."""
        found: set[str] = set()
        if not wanted:
            return found
        for _, raw in self.client.hscan_iter(self.keyprefix + self.unacked_key, count=_PAGE):
            try:
                payload = loads(raw)[0]
            except (ValueError, TypeError, IndexError, KeyError):
                continue
            task_id = _message_id(payload)
            if task_id in wanted:
                found.add(task_id)
                if found == wanted:
                    break
        return found

    def _queued(self, wanted: set[str], queues: set[str]) -> set[str]:
        """Which of ``wanted`` wait in one of ``queues`` (all priority lists), read a page at a time."""
        found: set[str] = set()
        for queue in sorted(queues):
            for key in self._queue_keys(queue):
                for raw in self._list_pages(key):
                    if found == wanted:
                        return found
                    try:
                        task_id = _message_id(loads(raw))
                    except (ValueError, TypeError):
                        continue
                    if task_id in wanted:
                        found.add(task_id)
        return found

    def _queue_keys(self, queue: str) -> list[str]:
        return [self.keyprefix + (f"{queue}{self.sep}{p}" if p else queue) for p in self.priority_steps]

    def _list_pages(self, key: str) -> Iterator[bytes]:
        # Pages from the tail (the next to be consumed) to the head; a message moving meanwhile is
        # at worst read twice or missed once, and a missed one is looked for again after confirm_s.
        start = 0
        while True:
            page = self.client.lrange(key, start, start + _PAGE - 1)
            yield from page
            if len(page) < _PAGE:
                return
            start += _PAGE


def _message_id(payload: dict[str, Any]) -> str | None:
    """The task id of a kombu message as stored in Redis (protocol 2: ``headers.id``; else the correlation id)."""
    headers = payload.get("headers") or {}
    return headers.get("id") or (payload.get("properties") or {}).get("correlation_id")


_LEDGERS_LOCK = threading.Lock()


def ledger_for(app: Celery) -> Ledger | None:
    """The ledger in ``app``'s broker when that is Redis (one client per app and process), else ``None``."""
    import os

    cached = getattr(app, "_agora_ledger", None)
    if cached is not None and cached[0] == os.getpid():
        return cached[1]  # type: ignore[no-any-return]
    with _LEDGERS_LOCK:
        url = app.conf.broker_url
        ledger = None
        if isinstance(url, str) and url.startswith(("redis://", "rediss://")):
            opts = app.conf.broker_transport_options or {}
            client = redis.Redis.from_url(url, socket_timeout=opts.get("socket_timeout", 30),
                                          socket_connect_timeout=opts.get("socket_connect_timeout", 10))
            ledger = Ledger(client, keyprefix=opts.get("global_keyprefix", ""),
                            unacked_key=opts.get("unacked_key", "unacked"),
                            priority_steps=tuple(opts.get("priority_steps", (0, 3, 6, 9))),
                            sep=opts.get("sep", "\x06\x16"))
        app._agora_ledger = (os.getpid(), ledger)  # type: ignore[attr-defined]
        return ledger


# -- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """When entries count as lost and how often to look.

    >>> s = Settings.from_visibility(25)
    >>> (s.min_age_s, s.interval_s, s.confirm_s, s.max_attempts)
    (30.0, 6.25, 2.0, 3)
    >>> s = Settings.from_visibility(2250)
    >>> (s.min_age_s, s.interval_s)
    (2310.0, 60.0)
    """

    min_age_s: float       # an entry younger than this is never a suspect: visibility timeout + margin
    interval_s: float      # between sweeps
    confirm_s: float       # a suspect must still be missing this much later
    max_attempts: int = MAX_ATTEMPTS

    @classmethod
    def from_visibility(cls, visibility_s: float) -> Settings:
        margin = max(5.0, min(60.0, visibility_s * 0.1))
        return cls(min_age_s=visibility_s + margin, interval_s=max(5.0, min(60.0, visibility_s / 4)), confirm_s=2.0)


def settings_for(app: Celery) -> Settings:
    """:class:`Settings` from ``app``'s Redis visibility timeout (``broker_transport_options``)."""
    opts = app.conf.broker_transport_options or {}
    return Settings.from_visibility(float(opts.get("visibility_timeout", 3600)))


# -- recording sends and ends -------------------------------------------------------------


@dataclass(frozen=True)
class _Sending:
    ledger: Ledger
    queue: str | None


_SENDING: contextvars.ContextVar[_Sending | None] = contextvars.ContextVar("agora_reconcile_sending", default=None)


class LedgeredAMQP(AMQP):
    """Celery's AMQP helper, recording :data:`LEDGERED` tasks in the ledger as they are published.

    The app's ``amqp_cls``: :mod:`workers.app` sets it. The record itself is made by the
    ``before_task_publish`` receiver, which sees the message exactly as it is published; this
    wrapper tells it which ledger (the app's broker) and which queue.
    """

    @cached_property
    def send_task_message(self) -> Any:
        send = self._create_task_sender()
        app = self.app

        def send_task_message(producer: Any, name: str, message: Any, **options: Any) -> Any:
            ledger = ledger_for(app) if name in LEDGERED else None
            if ledger is None:
                return send(producer, name, message, **options)
            token = _SENDING.set(_Sending(ledger, _queue_name(app, options)))
            try:
                return send(producer, name, message, **options)
            finally:
                _SENDING.reset(token)

        return send_task_message


def _queue_name(app: Celery, options: dict[str, Any]) -> str | None:
    queue = options.get("queue")
    if queue is None:
        return options.get("routing_key") if options.get("exchange") else app.conf.task_default_queue
    return queue if isinstance(queue, str) else queue.name


@before_task_publish.connect
def _record(sender: str | None = None, body: Any = None, headers: dict[str, Any] | None = None,
            properties: dict[str, Any] | None = None, **_: Any) -> None:
    sending = _SENDING.get()
    if sending is None or sender not in LEDGERED or not headers or not headers.get("id"):
        return
    entry = {"task": sender, "queue": sending.queue, "headers": headers, "properties": properties or {},
             "body": list(body) if isinstance(body, tuple) else body}
    try:
        sending.ledger.record(headers["id"], entry)
    except redis.RedisError as exc:  # the broker is the same Redis: the publish is about to fail too
        log.warning("reconcile: task %s not recorded in the ledger: %r", headers["id"], exc)


@task_success.connect
def _done(sender: Task | None = None, **_: Any) -> None:
    if sender is None or sender.name not in LEDGERED:
        return
    ledger = ledger_for(sender.app)
    if ledger is not None and sender.request.id:
        try:
            ledger.done(sender.request.id)
        except redis.RedisError as exc:  # then it is re-sent once, runs again and stores nothing new
            log.warning("reconcile: task %s not marked done: %r", sender.request.id, exc)


@task_failure.connect
def _failed(sender: Task | None = None, task_id: str | None = None, exception: BaseException | None = None,
            **_: Any) -> None:
    if sender is None or sender.name not in LEDGERED or not task_id:
        return
    ledger = ledger_for(sender.app)
    if ledger is not None:
        try:
            ledger.bury(task_id, f"failed: {type(exception).__name__}: {exception}", task=sender.name)
        except redis.RedisError as exc:
            log.warning("reconcile: failed task %s not moved to the dead letters: %r", task_id, exc)


@task_revoked.connect
def _revoked(sender: Task | None = None, request: Any = None, expired: bool = False, **_: Any) -> None:
    task_id = getattr(request, "id", None)
    if sender is None or getattr(sender, "name", None) not in LEDGERED or not task_id:
        return
    ledger = ledger_for(sender.app)
    if ledger is not None:
        try:
            ledger.bury(task_id, "expired" if expired else "revoked", task=sender.name)
        except redis.RedisError as exc:
            log.warning("reconcile: revoked task %s not moved to the dead letters: %r", task_id, exc)


# -- the sweep ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did: ``enabled`` False on a non-Redis broker, ``busy`` when another sweep held the
    lock; ``checked`` entries were old enough to look at, ``present`` of them were not lost (waiting in a
    queue, held by a worker, or finished meanwhile); ``resent`` and ``dead`` are task ids."""

    enabled: bool
    busy: bool = False
    checked: int = 0
    present: int = 0
    resent: tuple[str, ...] = ()
    dead: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sweep(app: Celery, *, min_age_s: float | None = None, confirm_s: float | None = None,
          max_attempts: int | None = None, limit: int = 1000) -> SweepReport:
    """Re-send the ledger's lost tasks (see the module docstring); defaults from :func:`settings_for`.

    ``min_age_s`` below the visibility timeout is for tests: it makes every entry old enough to be looked at.
    """
    ledger = ledger_for(app)
    if ledger is None:
        return SweepReport(enabled=False)
    s = settings_for(app)
    min_age = s.min_age_s if min_age_s is None else min_age_s
    confirm = s.confirm_s if confirm_s is None else confirm_s
    attempts_max = s.max_attempts if max_attempts is None else max_attempts
    lock = ledger.client.lock(LOCK_KEY, timeout=confirm + 300)
    if not lock.acquire(blocking=False):
        return SweepReport(enabled=True, busy=True)
    try:
        old = ledger.older_than(min_age, limit)
        suspects = ledger.missing(old)
        if suspects and confirm > 0:
            time.sleep(confirm)
            suspects = ledger.missing(suspects)
        resent, dead = [], []
        for task_id, entry in suspects.items():
            attempts = int(ledger.client.hincrby(ATTEMPTS_KEY, task_id, 1))
            task = entry.get("task") or "?"
            if attempts > attempts_max:
                reason = f"lost {attempts} times: in no queue and held by no worker after each re-send"
                ledger.bury(task_id, reason, entry, attempts - 1)
                DEAD.labels(task).inc()
                log.error("reconcile: task %s[%s] dead-lettered (%s)", task, task_id, reason)
                dead.append(task_id)
                continue
            _resend(app, ledger, task_id, entry)
            RESENT.labels(task).inc()
            log.warning("reconcile: task %s[%s] lost by the broker (in no queue, held by no worker); "
                        "sent again, attempt %d of %d", task, task_id, attempts, attempts_max)
            resent.append(task_id)
        return SweepReport(enabled=True, checked=len(old), present=len(old) - len(suspects),
                           resent=tuple(resent), dead=tuple(dead))
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # a sweep longer than its lease
            pass


def _resend(app: Celery, ledger: Ledger, task_id: str, entry: dict[str, Any]) -> None:
    """Publish the recorded message again, as it was (same id, same chain), to its queue."""
    headers = dict(entry["headers"])
    message = task_message(headers=headers, properties=dict(entry.get("properties") or {}),
                           body=tuple(entry["body"]) if isinstance(entry["body"], list) else entry["body"],
                           sent_event=None)
    with app.producer_or_acquire() as producer:
        app.amqp.send_task_message(producer, entry["task"], message, queue=entry.get("queue"))
    # With LedgeredAMQP the publish re-recorded it; otherwise restart its clock here (XX: not if it is done).
    ledger.client.zadd(SENT_KEY, {task_id: ledger.now()}, xx=True)


def sweep_task(self: Task) -> dict[str, Any]:
    """The body of :data:`RECONCILE_TASK`: one :func:`sweep` of this app's broker."""
    return sweep(self.app).as_dict()


def beat_entries(broker_url: str, visibility_s: float) -> dict[str, dict[str, Any]]:
    """The beat schedule entry of the sweep: none unless the broker is Redis.

    >>> beat_entries("amqp://guest@h//", 25)
    {}
    >>> beat_entries("redis://h:6379/0", 25)["reconcile"]["schedule"]
    6.25
    """
    if not broker_url.startswith(("redis://", "rediss://")):
        return {}
    interval = Settings.from_visibility(visibility_s).interval_s
    return {"reconcile": {"task": RECONCILE_TASK, "schedule": interval, "options": {"expires": interval}}}


# -- the worker's sweeper thread ----------------------------------------------------------


class _Sweeper(threading.Thread):
    def __init__(self, app: Celery, interval_s: float) -> None:
        super().__init__(name="agora-reconcile", daemon=True)
        self.app, self.interval_s = app, interval_s
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                report = sweep(self.app)
                if report.resent or report.dead:
                    log.info("reconcile: %s", report)
            except Exception:  # a Redis outage: the next sweep tries again
                log.exception("reconcile: sweep failed")
            self.stopping.wait(self.interval_s)


_SWEEPERS: dict[int, _Sweeper] = {}


def start_sweeper(app: Celery) -> bool:
    """Sweep ``app``'s broker now and then every ``interval_s`` on a daemon thread (once per app and
    process); returns False (and does nothing) unless the broker is Redis."""
    if ledger_for(app) is None:
        return False
    current = _SWEEPERS.get(id(app))
    if current is not None and current.is_alive():
        return True
    sweeper = _Sweeper(app, settings_for(app).interval_s)
    _SWEEPERS[id(app)] = sweeper
    sweeper.start()
    log.info("reconcile: sweeping every %.0f s for tasks lost by the Redis broker", sweeper.interval_s)
    return True


def stop_sweeper(app: Celery) -> None:
    sweeper = _SWEEPERS.pop(id(app), None)
    if sweeper is not None:
        sweeper.stopping.set()


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    app = getattr(sender, "app", None)
    if app is not None and getattr(app, "agora_reconcile", False):
        start_sweeper(app)


@worker_shutdown.connect
def _on_worker_shutdown(sender: Any = None, **_: Any) -> None:
    app = getattr(sender, "app", None)
    if app is not None:
        stop_sweeper(app)
