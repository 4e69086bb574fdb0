"""Delivering alerts: bounded retries with backoff, beside the pipeline, recorded in the graph.

* :func:`build_notifiers` turns ``alerts.notifiers`` into :class:`Route` s
  (a notifier, its retry policy and what it receives), reading the secrets
  from the environment; a missing one is a :class:`~agora.config.ConfigError`
  at start.
* :func:`deliver` sends one alert through one notifier, retrying with
  exponential backoff up to ``retries`` times (a :class:`PermanentError`,
  e.g. an HTTP 404, ends it at once). It never raises: it returns a
  :class:`Delivery` saying ``sent`` or ``failed``, with attempts and the last error.
* :func:`record_deliveries` stores each outcome as
  ``(:Alert)-[:DELIVERY]->(:Delivery {id: "<alert id>|<notifier>", notifier,
  status, attempts, error, at})``; a later outcome for the same pair
  replaces the earlier one (idempotent).
* Each delivery is claimed first (``status: pending`` with a claim token and
  time, one graph write), so two processes never send the same alert through
  the same notifier; a claim older than the notifier's whole retry budget is
  stale and may be taken over. :meth:`Dispatcher.resume` sends what a crash
  left undelivered (an alert stored but never claimed, or a stale claim)
  within the last :data:`REDELIVER_WITHIN`: delivery is at least once, and
  ``X-Agora-Delivery`` lets a receiver drop the rare repeat.
* :class:`Dispatcher` runs deliveries on a bounded thread pool so that a
  slow or dead endpoint never holds up ingest or scoring: ``submit`` returns
  at once. Why threads, not a Celery task per delivery: the same code path
  then serves ``agora run`` (no broker) and the workers; deliveries are few
  (alerts are de-duplicated) and I/O-bound; and the outcome is in the graph
  either way. A worker shutting down waits for deliveries in flight
  (bounded by their retry budget).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from agora.config import AlertsConfig, ConfigError, NotifierConfig
from alerts.http import PermanentError
from alerts.notify import NOTIFIERS, Notifier
from alerts.records import Alert
from graph.store import GraphStore

__all__ = ["RetryPolicy", "Route", "Delivery", "Dispatcher", "build_notifiers", "deliver", "record_deliveries",
           "list_deliveries", "env_value", "process_dispatcher", "close_dispatchers", "claim", "REDELIVER_WITHIN"]

log = logging.getLogger(__name__)

_SCHEMA = "CREATE CONSTRAINT delivery_id IF NOT EXISTS FOR (d:Delivery) REQUIRE d.id IS UNIQUE"
REDELIVER_WITHIN = timedelta(hours=24)

_CLAIM = """
MERGE (d:Delivery {id: $id})
ON CREATE SET d.alert = $alert, d.notifier = $notifier, d.status = 'pending', d.attempts = 0,
    d.claim = $claim, d.claimed_at = datetime($now)
WITH d
WHERE d.status = 'pending' AND (d.claim = $claim OR d.claimed_at < datetime($stale))
SET d.claim = $claim, d.claimed_at = datetime($now)
RETURN d.id AS id
"""
_CLAIM_LINK = "MATCH (a:Alert {id: $alert}), (d:Delivery {id: $id}) MERGE (a)-[:DELIVERY]->(d)"

_RECORD = """
UNWIND $rows AS r
MERGE (d:Delivery {id: r.id})
SET d.alert = r.alert, d.notifier = r.notifier, d.status = r.status, d.attempts = r.attempts,
    d.error = r.error, d.at = datetime(r.at)
WITH d, r
MATCH (a:Alert {id: r.alert})
MERGE (a)-[:DELIVERY]->(d)
"""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` attempts after the first; the n-th retry waits
    ``min(backoff_s * 2**(n-1), backoff_max_s)`` (or the server's
    ``Retry-After``, capped the same way), with ±20 % jitter.

    >>> [RetryPolicy(retries=4, backoff_s=1, backoff_max_s=5).delay(n, jitter=False) for n in (1, 2, 3, 4)]
    [1.0, 2.0, 4.0, 5.0]
    """

    retries: int = 3
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0

    def delay(self, retry: int, *, retry_after_s: float | None = None, jitter: bool = True) -> float:
        base = retry_after_s if retry_after_s is not None else self.backoff_s * 2 ** (retry - 1)
        base = min(base, self.backoff_max_s)
        return base * random.uniform(0.8, 1.2) if jitter else float(base)

    @classmethod
    def of(cls, settings: NotifierConfig) -> "RetryPolicy":
        return cls(settings.retries, settings.backoff_s, settings.backoff_max_s)


@dataclass(frozen=True, slots=True)
class Route:
    """A notifier, how hard to try it, and which alerts it receives."""

    notifier: Notifier
    policy: RetryPolicy
    accepts: Callable[[Alert], bool] = lambda alert: True


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of delivering one alert through one notifier."""

    alert_id: str
    notifier: str
    status: str          # "sent" or "failed"
    attempts: int
    error: str | None
    at: datetime

    @property
    def id(self) -> str:
        return f"{self.alert_id}|{self.notifier}"

    def as_dict(self) -> dict[str, Any]:
        return {"alert": self.alert_id, "notifier": self.notifier, "status": self.status, "attempts": self.attempts,
                "error": self.error, "at": self.at.isoformat()}


def env_value(settings: NotifierConfig, what: str, environ: Mapping[str, str]) -> str:
    """The notifier's ``what`` (``url``, ``secret``, ``password``): the literal
    setting if there is one, else the environment variable ``<what>_env`` names.
    Raises :class:`ConfigError` naming the variable when it is unset or empty."""
    literal = getattr(settings, what, None)
    if literal:
        return str(literal)
    var = getattr(settings, f"{what}_env")
    value = environ.get(var, "") if var else ""
    if not value:
        raise ConfigError("environment", f"alerts.notifiers.{settings.name}.{what}_env",
                          f"environment variable {var} is not set" if var else f"no {what} given")
    return value


def build_notifiers(settings: AlertsConfig, environ: Mapping[str, str] | None = None) -> list[Route]:
    """One :class:`Route` per entry of ``alerts.notifiers``, secrets read from ``environ`` (default: os.environ)."""
    import os

    env = os.environ if environ is None else environ
    routes = []
    for entry in settings.notifiers:
        notifier = NOTIFIERS[entry.type].from_settings(entry, env)
        routes.append(Route(notifier, RetryPolicy.of(entry),
                            lambda a, e=entry: e.accepts(a.rule, a.severity)))
    return routes


def deliver(alert: Alert, notifier: Notifier, policy: RetryPolicy, *,
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """Send ``alert`` through ``notifier``: up to ``1 + policy.retries``
    attempts, waiting :meth:`RetryPolicy.delay` between them; stop at the first
    success or :class:`PermanentError`. Never raises."""
    attempts, error = 0, None
    while True:
        attempts += 1
        try:
            notifier.send(alert)
            return Delivery(alert.id, notifier.name, "sent", attempts, None, datetime.now(timezone.utc))
        except Exception as exc:  # any failure of a channel is recorded, never raised into the pipeline
            error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, PermanentError) or attempts > policy.retries:
                break
            wait = policy.delay(attempts, retry_after_s=getattr(exc, "retry_after_s", None))
            log.info("notifier %s: %s failed (%s), attempt %d, retrying in %.1f s", notifier.name, alert.id, error,
                     attempts, wait)
            sleep(wait)
    log.error("notifier %s could not deliver %s after %d attempt(s): %s", notifier.name, alert.id, attempts, error)
    return Delivery(alert.id, notifier.name, "failed", attempts, error[:500], datetime.now(timezone.utc))


def record_deliveries(store: GraphStore, deliveries: Sequence[Delivery]) -> None:
    """Store outcomes on their alerts (see the module docstring). Idempotent."""
    if not deliveries:
        return
    _ensure_schema(store)
    rows = [{"id": d.id, **d.as_dict()} for d in deliveries]
    store._write(lambda tx: tx.run(_RECORD, rows=rows).consume())


def claim(store: GraphStore, alert_id: str, notifier: str, *, stale_after_s: float) -> bool:
    """Take the delivery of ``alert_id`` through ``notifier``: True when this
    caller should send it (nobody had it, or the holder's claim is older than
    ``stale_after_s``); False when it is done (sent, failed) or in flight elsewhere."""
    _ensure_schema(store)
    now = datetime.now(timezone.utc)
    params = {"id": f"{alert_id}|{notifier}", "alert": alert_id, "notifier": notifier, "claim": uuid.uuid4().hex,
              "now": now.isoformat(), "stale": (now - timedelta(seconds=stale_after_s)).isoformat()}

    def work(tx: Any) -> bool:
        taken = tx.run(_CLAIM, **params).single() is not None
        if taken:
            tx.run(_CLAIM_LINK, id=params["id"], alert=alert_id).consume()
        return taken

    return bool(store._write(work))


def list_deliveries(store: GraphStore, alert_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Recorded outcomes by alert id (alerts with none are absent)."""
    ids = sorted(set(alert_ids))
    if not ids:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for r in store.fetch("MATCH (d:Delivery) WHERE d.alert IN $ids RETURN d.alert AS alert, d.notifier AS notifier, "
                         "d.status AS status, d.attempts AS attempts, d.error AS error, d.at AS at "
                         "ORDER BY alert, notifier", ids=ids):
        at = r["at"].to_native() if hasattr(r["at"], "to_native") else r["at"]
        out.setdefault(r.pop("alert"), []).append({**r, "at": at})
    return out


_READY: "weakref.WeakSet[GraphStore]" = weakref.WeakSet()
_READY_LOCK = threading.Lock()


def _ensure_schema(store: GraphStore) -> None:
    with _READY_LOCK:
        if store in _READY:
            return
        store._write(lambda tx: tx.run(_SCHEMA).consume())
        _READY.add(store)


class Dispatcher:
    """Delivers alerts on at most ``threads`` background threads and records
    each outcome in ``store``.

    :meth:`submit` returns futures at once; :meth:`close` waits for what is in
    flight. Use as a context manager. Thread-safe.
    """

    def __init__(self, store: GraphStore, routes: Sequence[Route], *, threads: int = 4,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.routes, self._sleep = store, list(routes), sleep
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="agora-alerts")

    def __enter__(self) -> "Dispatcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, alerts: Iterable[Alert]) -> list[Future[Delivery | None]]:
        """Queue every (alert, notifier that accepts it) delivery; returns their futures
        (a future's result is None when the delivery was done or in flight elsewhere)."""
        futures = []
        for alert in alerts:
            for route in self.routes:
                if route.accepts(alert):
                    futures.append(self._pool.submit(self._one, alert, route))
        return futures

    def resume(self, within: timedelta = REDELIVER_WITHIN) -> list[Future[Delivery | None]]:
        """Queue the deliveries a crash left behind: alerts raised within ``within``
        with no finished (sent or failed) delivery through a notifier that accepts them."""
        from alerts.history import alert_from_row, list_alerts

        since = datetime.now(timezone.utc) - within
        futures = []
        for row in list_alerts(self.store, since=since, limit=10_000):
            finished = {d["notifier"] for d in row["deliveries"] if d["status"] in ("sent", "failed")}
            alert = None
            for route in self.routes:
                if route.notifier.name not in finished:
                    alert = alert or alert_from_row(row)
                    if route.accepts(alert):
                        futures.append(self._pool.submit(self._one, alert, route))
        return futures

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)

    def _one(self, alert: Alert, route: Route) -> Delivery | None:
        if not claim(self.store, alert.id, route.notifier.name, stale_after_s=_budget_s(route)):
            return None
        delivery = deliver(alert, route.notifier, route.policy, sleep=self._sleep)
        try:
            record_deliveries(self.store, [delivery])
        except Exception as exc:  # the graph being down must not lose the outcome from the log
            log.error("could not record delivery %s (%s): %s", delivery.id, delivery.status, exc)
        return delivery


def _budget_s(route: Route) -> float:
    """Longer than the longest a delivery through ``route`` can take: every attempt
    timing out and every wait at its cap, twice over, plus a minute."""
    p = route.policy
    timeout = float(getattr(route.notifier, "timeout_s", 10.0))
    return 2 * ((p.retries + 1) * timeout + p.retries * p.backoff_max_s * 1.2) + 60


_PROCESS: dict[int, Dispatcher] = {}
_PROCESS_LOCK = threading.Lock()


def process_dispatcher(store: GraphStore, settings: AlertsConfig,
                       environ: Mapping[str, str] | None = None) -> Dispatcher | None:
    """This process's dispatcher for ``store`` (made on first use, e.g. in a
    Celery worker after the fork), or None when no notifier is configured or
    alerts are off. :func:`close_dispatchers` waits for them at shutdown."""
    if not settings.enabled or not settings.notifiers:
        return None
    with _PROCESS_LOCK:
        found = _PROCESS.get(id(store))
        if found is None or found.store is not store:
            found = Dispatcher(store, build_notifiers(settings, environ), threads=settings.delivery_threads)
            _PROCESS[id(store)] = found
        return found


def close_dispatchers() -> None:
    """Wait for every process dispatcher's deliveries in flight, then drop them."""
    with _PROCESS_LOCK:
        found = list(_PROCESS.values())
        _PROCESS.clear()
    for dispatcher in found:
        dispatcher.close(wait=True)
