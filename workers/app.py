"""The Celery app: thin tasks over the pipeline functions, and the beat schedule.

Each task opens nothing itself: the worker process holds one graph store
(opened lazily after the fork, never inherited) and the sentiment model
(loaded once). Tasks are idempotent (the pipeline is), acknowledged late and
re-queued when a worker dies mid-task, and retried with exponential backoff
on graph or broker outages, a bounded number of times.

Start a worker with ``agora worker`` and the scheduler with ``agora beat``;
the config file is taken from ``$AGORA_CONFIG`` like every command.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from celery import Celery, chain
from celery.signals import worker_process_shutdown
from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

from agora.config import Config, load_config

__all__ = ["app", "make_app", "ingest_chain"]

log = logging.getLogger(__name__)

_RETRYABLE = (ServiceUnavailable, SessionExpired, TransientError, ConnectionError, TimeoutError)


def make_app(config: Config) -> Celery:
    """A Celery app configured from ``config.workers``."""
    w = config.workers
    celery = Celery("agora", broker=w.broker_url, backend=w.result_backend)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=w.task_time_limit_s,
        task_soft_time_limit=w.task_time_limit_s * 0.9,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": w.task_time_limit_s * 1.5},
        worker_send_task_events=True,
        task_send_sent_event=True,
        beat_schedule={
            "rescore": {"task": "agora.rescore", "schedule": w.rescore_interval_s},
        },
    )
    return celery


class _Resources:
    """Per-process graph store and model, created on first use after the fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: Config | None = None
        self._store: Any = None
        self._model: Any = None

    def config(self) -> Config:
        if self._config is None:
            self._config = load_config()
        return self._config

    def store(self) -> Any:
        with self._lock:
            if self._store is None:
                from agora.connections import open_store

                self._store = open_store(self.config())
            return self._store

    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                from nlp.sentiment import load_model

                n = self.config().nlp
                self._model = load_model(n.model, batch_size=n.batch_size, max_length=n.max_length, device=n.device)
            return self._model

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


resources = _Resources()
app = make_app(resources.config())


@worker_process_shutdown.connect
def _close_store(**_: Any) -> None:
    resources.close()


def _retry_options() -> dict[str, Any]:
    return {"autoretry_for": _RETRYABLE, "retry_backoff": True, "retry_backoff_max": 120, "retry_jitter": True,
            "max_retries": resources.config().workers.max_retries}


@app.task(name="agora.ingest_path", **_retry_options())
def ingest_path(path: str, fmt: str | None = None) -> dict[str, Any]:
    """Import a file or folder; returns the import report as a dict."""
    from agora.pipeline import import_path

    report = import_path(resources.store(), Path(path), resources.config(), fmt=fmt)
    return {"path": report.path, "read": report.read, "new": report.new, "skipped": len(report.issues)}


@app.task(name="agora.classify", **_retry_options())
def classify(_previous: Any = None) -> int:
    """Classify every message without a sentiment; returns how many."""
    from agora.pipeline import classify_pending

    return classify_pending(resources.store(), resources.config(), model=resources.model())


@app.task(name="agora.rescore", **_retry_options())
def rescore(_previous: Any = None) -> dict[str, Any]:
    """Recompute communities and influence."""
    from agora.pipeline import rescore as run_rescore

    report = run_rescore(resources.store(), resources.config())
    return {"people": len(report.result.people), "communities": len(report.result.communities),
            "interactions": report.edges, "seconds": round(report.seconds, 2)}


def ingest_chain(path: str, fmt: str | None = None) -> Any:
    """ingest → classify → rescore, as one Celery chain."""
    return chain(ingest_path.si(path, fmt), classify.s(), rescore.s())
