"""The Celery app: thin tasks over the pipeline functions, and the beat schedule.

Each task opens nothing itself: the worker process holds one graph store
(opened lazily after the fork, never inherited) and the sentiment model
(loaded once). Tasks are idempotent (the pipeline is), acknowledged late and
re-queued when a worker dies mid-task, and retried with exponential backoff
on graph or broker outages, a bounded number of times
(``workers.max_retries``). Rescores never overlap: two concurrent ones would
each delete the other's projection and communities, so every worker takes a
lock in Redis (the result backend's, else the broker's) around it.

``agora.crawl(source)`` crawls one source under its crawl lock and shared
rate-limit budget (:mod:`workers.crawl`); beat sends it every
``listening.crawl_interval_s.<source>`` for the built-in connectors and every
``workers.crawls.<name>.interval_s`` for user-written ones. A task whose
worker dies is delivered again: at once when a pool process dies, after
``workers.visibility_timeout_s`` on Redis when the whole worker does. An import
lost by the Redis broker itself (a worker killed between ``BRPOP`` and recording
the message as unacknowledged) is sent again by :mod:`workers.reconcile`.
Metrics and structured logs: :mod:`workers.observe`.

Start a worker with ``agora worker`` and the scheduler with ``agora beat``;
the config file is taken from ``$AGORA_CONFIG`` like every command. The
module-level :data:`app` reads the configuration the first time it is used,
not at import, so importing this module never needs a config; code that holds
a :class:`~agora.config.Config` (the API, tests) builds its own app with
:func:`make_app` and sends work with ``ingest_chain(path, app=...)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
from celery import Celery, Task, chain, signature
from celery.local import Proxy
from celery.signals import worker_process_shutdown
from neo4j.exceptions import ConstraintError, DatabaseError, ServiceUnavailable, SessionExpired, TransientError

from agora.config import Config, load_config
from workers import observe, reconcile
from workers.limits import RESCORE_LOCK, BudgetExhausted, one_rescore_at_a_time, shared_redis_url

__all__ = ["app", "make_app", "ingest_chain", "ingest_path", "classify", "rescore", "evaluate_alerts", "crawl",
           "TASK_NAMES", "RESCORE_LOCK", "CRAWL_TASK"]

log = logging.getLogger(__name__)

# DatabaseError: a graph server shutting down fails the running query with
# Neo.DatabaseError.General.UnknownError; ConstraintError: two workers MERGE-ing the same
# node at once, beyond the store's own retries. The tasks are idempotent, so a bounded
# retry is safe.
_RETRYABLE = (ServiceUnavailable, SessionExpired, TransientError, DatabaseError, ConstraintError, ConnectionError,
              TimeoutError, redis.ConnectionError, redis.TimeoutError)
#: Autoretry with exponential backoff (1, 2, 4 ... s, at most 120 s, jittered); the
#: bound, ``max_retries``, comes from the config through ``task_annotations``.
_RETRY: dict[str, Any] = {"autoretry_for": _RETRYABLE, "retry_backoff": True, "retry_backoff_max": 120,
                          "retry_jitter": True}
TASK_NAMES = ("agora.ingest_path", "agora.classify", "agora.rescore", "agora.evaluate_alerts")
#: One crawl pass of a source under its lock and shared rate-limit budget (:mod:`workers.crawl`).
CRAWL_TASK = "agora.crawl"
GRAPH_WRITE_LOCK = "agora:lock:graph-write"


def _settings(config: Config) -> dict[str, Any]:
    """The Celery settings for ``config.workers``."""
    w = config.workers
    return {
        "broker_url": w.broker_url,
        "result_backend": w.result_backend,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": w.task_time_limit_s,
        "task_soft_time_limit": w.task_time_limit_s * 0.9,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 24 * 3600,
        "broker_connection_retry_on_startup": True,
        # Redis only (amqp ignores them): redeliver an unacknowledged task (its worker
        # died) once the visibility timeout, longer than the hard time limit, has
        # passed, sweeping for such tasks at least every 10 s; never wait on a
        # connect or a reply forever.
        "broker_transport_options": {"visibility_timeout": w.visibility_timeout,
                                     "unacked_restore_interval": max(1.0, min(10.0, w.visibility_timeout / 10)),
                                     "unacked_restore_throttle": 1,
                                     # a worker killed while sweeping holds the sweep's mutex until it
                                     # expires (kombu's default: 300 s, during which nothing is redelivered)
                                     "unacked_mutex_expire": max(5.0, min(60.0, w.visibility_timeout / 2)),
                                     "socket_connect_timeout": 10, "socket_timeout": 30},
        "redis_socket_connect_timeout": 10,
        "redis_socket_timeout": 30,
        "broker_connection_timeout": 10,
        "broker_heartbeat": 60,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "task_annotations": {name: {"max_retries": w.max_retries}
                             for name in (*TASK_NAMES, CRAWL_TASK)},
        "beat_schedule": {
            # A rescore nobody ran within one interval is superseded by the next one:
            # workers that were down do not come back to a pile of rescores.
            "rescore": {"task": "agora.rescore", "schedule": w.rescore_interval_s,
                        "options": {"expires": w.rescore_interval_s,
                                    "link": signature("agora.evaluate_alerts")}},
            # One crawl pass per scheduled source: built-in ones from listening.crawl_interval_s,
            # user-written ones from workers.crawls (the config keeps the two sets apart). A pass
            # nobody ran in time is superseded by the next one, which resumes from the same cursor;
            # the crawl lock makes an overlapping one return at once.
            **{f"crawl:{name}": {"task": CRAWL_TASK, "schedule": seconds, "args": (name,),
                                 "options": {"expires": seconds}}
               for name, seconds in {**config.listening.crawl_interval_s, **w.custom_crawls()}.items()},
            # Redis broker only: re-send imports lost between BRPOP and unacked (workers.reconcile).
            **reconcile.beat_entries(w.broker_url, w.visibility_timeout),
        },
    }


class _Resources:
    """Per-process config, graph store and model, created on first use (after the fork)."""

    def __init__(self, config: Config | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config
        self._store: Any = None
        self._model: Any = None
        self._redis: redis.Redis | None = None
        self._rescorer: Any = None
        _ALL_RESOURCES.add(self)

    def config(self) -> Config:
        if self._config is None:
            self._config = load_config()
        return self._config

    def store(self) -> Any:
        with self._lock:
            if self._store is None:
                from agora.connections import open_store

                self._store = open_store(self.config())
                if self.config().workers.serial_graph_writes:
                    self._store.write_guard = self._graph_write_turn
            return self._store

    def rescorer(self) -> Any:
        """This process's :class:`agora.pipeline.Rescorer`: its last rescore, which the next builds on."""
        with self._lock:
            if self._rescorer is None:
                from agora.pipeline import Rescorer

                self._rescorer = Rescorer()
            return self._rescorer

    @contextlib.contextmanager
    def _graph_write_turn(self) -> Iterator[None]:
        """Hold :data:`GRAPH_WRITE_LOCK` for one batch; its lease (120 s) frees it if the holder dies."""
        client = self.shared_redis()
        if client is None:
            yield
            return
        lock = client.lock(GRAPH_WRITE_LOCK, timeout=120)
        if not lock.acquire(blocking=True, blocking_timeout=self.config().workers.task_time_limit_s / 2):
            raise TimeoutError(f"no turn at {GRAPH_WRITE_LOCK} within half the task time limit")
        try:
            yield
        finally:
            with contextlib.suppress(redis.exceptions.LockError):  # a batch longer than the lease
                lock.release()

    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                from nlp.sentiment import load_model

                n = self.config().nlp
                self._model = load_model(n.model, batch_size=n.batch_size, max_length=n.max_length, device=n.device,
                                         backend=n.backend, cache_dir=n.cache_dir)
            return self._model

    def shared_redis(self) -> redis.Redis | None:
        """The Redis shared by all workers (the result backend's, else the broker's) for locks and
        budgets, or ``None`` when neither is a Redis URL."""
        w = self.config().workers
        with self._lock:
            if self._redis is None:
                url = shared_redis_url(w.broker_url, w.result_backend)
                if url is None:
                    return None
                self._redis = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
            return self._redis

    def redis(self) -> redis.Redis:
        """:meth:`shared_redis`, required (crawls keep their locks and rate-limit budgets there)."""
        client = self.shared_redis()
        if client is None:
            raise ValueError("workers.broker_url or workers.result_backend must be a redis:// URL for crawls "
                             "(their locks and rate-limit budgets live in Redis)")
        return client

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._redis is not None:
            self._redis.close()
            self._redis = None


_ALL_RESOURCES: weakref.WeakSet[_Resources] = weakref.WeakSet()


@worker_process_shutdown.connect
def _close_stores(**_: Any) -> None:
    from alerts.delivery import close_dispatchers

    close_dispatchers()  # deliveries in flight finish (bounded by their retries) while the store is open
    for res in list(_ALL_RESOURCES):
        res.close()


def _resources(task: Task) -> _Resources:
    return task.app.agora_resources  # type: ignore[no-any-return]


def _ingest_path(self: Task, path: str, fmt: str | None = None) -> dict[str, Any]:
    """Import a file or folder; returns the import report as a dict."""
    from agora.pipeline import import_path

    res = _resources(self)
    report = import_path(res.store(), Path(path), res.config(), fmt=fmt)
    observe.count_ingested(report.read, report.new)
    return {"path": report.path, "read": report.read, "new": report.new, "skipped": len(report.issues)}


def _classify(self: Task, _previous: Any = None) -> int:
    """Classify every message without a sentiment; returns how many."""
    from agora.pipeline import classify_pending

    res = _resources(self)
    return classify_pending(res.store(), res.config(), model=res.model())


def _rescore(self: Task, _previous: Any = None) -> dict[str, Any]:
    """Recompute communities and influence, one rescore at a time across all workers.

    A rescore waits for a running one rather than being dropped, so it still
    sees what was imported before it was sent. Each worker process keeps its
    last rescore in memory and reads only the messages written since
    (:class:`agora.pipeline.Rescorer`; a full rescore when it cannot).
    """
    from alerts.engine import snapshot

    res = _resources(self)
    w = res.config().workers
    # The lease outlives no holder: a worker killed at the hard time limit frees it then.
    with one_rescore_at_a_time(res.shared_redis(), lease_s=w.task_time_limit_s, wait_s=w.task_time_limit_s / 2):
        before = snapshot(res.store(), depth=100)  # for evaluate_alerts' new_influencer rule
        report = res.rescorer().rescore(res.store(), res.config())
    return {"people": len(report.result.people), "communities": len(report.result.communities),
            "interactions": report.edges, "seconds": round(report.seconds, 2), "mode": report.mode,
            "before": before.as_dict()}


def _evaluate_alerts(self: Task, previous: Any = None) -> dict[str, Any]:
    """Run the alert rules after a rescore (``previous`` is its result, with the snapshot
    taken before it) and hand new alerts to the notifiers on this process's delivery
    threads, with any a crash left undelivered: the task returns without waiting
    for them. Returns the new alert ids."""
    from alerts.delivery import process_dispatcher
    from alerts.engine import Snapshot, evaluate

    res = _resources(self)
    before = previous.get("before") if isinstance(previous, dict) else None
    raised = evaluate(res.store(), res.config(), Snapshot.from_dict(before) if before else None)
    dispatcher = process_dispatcher(res.store(), res.config().alerts)
    if dispatcher is not None:
        dispatcher.submit(raised)
        dispatcher.resume()
    return {"alerts": [a.id for a in raised]}


def _crawl(self: Task, source: str) -> dict[str, Any]:
    """One crawl pass of ``source`` (:func:`workers.crawl.crawl_once`), one at a time per source.

    A pass already running elsewhere makes this one return ``busy`` at once
    (the cursor is shared through the graph, so the next pass goes on from
    it). An exhausted budget, or a platform rate limit that needs a long wait,
    reschedules the task for when it can go on; what was read before it is
    stored and the cursor points at the first page not stored.
    """
    import time

    from listening.connectors import RateLimited
    from workers.crawl import crawl_once

    res = _resources(self)
    try:
        result = crawl_once(res.config(), source, res.store(), res.redis(),
                            on_page=lambda n: observe.count_ingested(n, 0))
    except BudgetExhausted as exc:
        raise self.retry(exc=exc, countdown=exc.retry_in)
    except RateLimited as exc:
        raise self.retry(exc=exc, countdown=max(exc.reset_at - time.time(), 1.0))
    return dataclasses.asdict(result)


def make_app(config: Config | None = None) -> Celery:
    """A Celery app with Agora's tasks, configured from ``config.workers``.

    With no ``config`` the app calls :func:`~agora.config.load_config` the
    first time it needs its settings (sending, or starting a worker), not now.
    """
    celery = Celery("agora")
    res = _Resources(config)
    celery.agora_resources = res  # type: ignore[attr-defined]
    if config is None:
        celery.add_defaults(lambda: _settings(res.config()))
    else:
        celery.conf.update(_settings(config))
    for name, fun in zip((*TASK_NAMES, CRAWL_TASK), (_ingest_path, _classify, _rescore, _evaluate_alerts, _crawl)):
        celery.task(name=name, bind=True, shared=False, **_RETRY)(fun)
    # Imports sent through this app are recorded in the Redis broker's ledger, and its workers sweep
    # it for ones lost in the BRPOP window (workers.reconcile; nothing on RabbitMQ).
    celery.amqp_cls = "workers.reconcile:LedgeredAMQP"
    celery.agora_reconcile = True  # type: ignore[attr-defined]
    celery.task(name=reconcile.RECONCILE_TASK, bind=True, shared=False)(reconcile.sweep_task)
    return celery


app = make_app()
_default_app = app
ingest_path: Task = Proxy(lambda: _default_app.tasks["agora.ingest_path"])
classify: Task = Proxy(lambda: _default_app.tasks["agora.classify"])
rescore: Task = Proxy(lambda: _default_app.tasks["agora.rescore"])
evaluate_alerts: Task = Proxy(lambda: _default_app.tasks["agora.evaluate_alerts"])
crawl: Task = Proxy(lambda: _default_app.tasks[CRAWL_TASK])


def ingest_chain(path: str | Path, fmt: str | None = None, *, app: Celery | None = None,
                 queue: str | None = None) -> Any:
    """ingest → classify → rescore → evaluate_alerts, as one Celery chain on ``app`` (this module's by default).

    ``queue`` routes every step to that queue (``chain.apply_async(queue=...)``
    would route only the first one; the rest would go to the default queue).
    """
    celery = _default_app if app is None else app
    options = {"queue": queue} if queue else {}
    return chain(celery.signature("agora.ingest_path", args=(str(path), fmt), immutable=True, options=options),
                 celery.signature("agora.classify", options=options),
                 celery.signature("agora.rescore", options=options),
                 celery.signature("agora.evaluate_alerts", options=options))
