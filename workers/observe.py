"""What a worker tells the outside: structured logs and Prometheus metrics.

* Logs: ``workers.log_format: json`` makes every worker log line one JSON
  object (``ts``, ``level``, ``logger``, ``message``, and ``task``/``task_id``
  inside a task) for log shippers; ``text`` keeps Celery's format.
* Metrics (``agora worker --metrics-port N``): ``agora_tasks_total{task,state}``
  (``state``: succeeded, failed, retried), ``agora_interactions_ingested_total``
  and ``agora_interactions_new_total``, and ``agora_queue_lag_seconds{task}``,
  the time from a task being sent (or its ETA) to a worker starting it. With
  the prefork pool the pool processes write to files in
  ``$PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) and the
  worker's main process serves their sum; the CLI sets that folder up.
* Celery task events (``worker_send_task_events``, ``task_send_sent_event``)
  are on in :mod:`workers.app`, so Flower shows every task.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from celery._state import get_current_task
from celery.signals import (after_setup_logger, after_setup_task_logger, before_task_publish, task_failure,
                            task_prerun, task_retry, task_success, worker_init, worker_process_shutdown)
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

__all__ = ["JsonFormatter", "TASKS", "INGESTED", "NEW", "QUEUE_LAG", "SENT_HEADER", "METRICS_PORT_ENV",
           "count_ingested"]

log = logging.getLogger(__name__)

SENT_HEADER = "agora_sent_at"
"""Message header holding the epoch seconds at which a task was sent (for the queue lag)."""
METRICS_PORT_ENV = "AGORA_METRICS_PORT"
LOG_FORMAT_ENV = "AGORA_WORKERS__LOG_FORMAT"

TASKS = Counter("agora_tasks", "Agora tasks finished, by task name and state", ["task", "state"])
INGESTED = Counter("agora_interactions_ingested", "Interactions read and written to the graph by workers")
NEW = Counter("agora_interactions_new", "Interactions that were new to the graph")
QUEUE_LAG = Histogram("agora_queue_lag_seconds", "Seconds from a task's send (or ETA) to its start", ["task"],
                      buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts`` (UTC ISO), ``level``, ``logger``, ``message``, exception text if any,
    and the task name and id when logged inside a task.

    >>> rec = logging.LogRecord("agora", logging.INFO, __file__, 1, "read %d", (3,), None)
    >>> sorted(json.loads(JsonFormatter().format(rec)))
    ['level', 'logger', 'message', 'ts']
    """

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        task = get_current_task()  # what Celery's own TaskFormatter reads too
        if task is not None and task.request.id:
            out["task"], out["task_id"] = task.name, task.request.id
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def count_ingested(read: int, new: int) -> None:
    """Add one import's counts to the metrics."""
    INGESTED.inc(read)
    NEW.inc(new)


def _json_logs() -> bool:
    if os.environ.get(LOG_FORMAT_ENV):
        return os.environ[LOG_FORMAT_ENV].strip().lower() == "json"
    try:
        from agora.config import load_config

        return load_config().workers.log_format == "json"
    except Exception:  # a worker without a readable config fails later, with the config's own error
        return False


@after_setup_logger.connect
@after_setup_task_logger.connect
def _json_handlers(logger: logging.Logger, **_: Any) -> None:
    if _json_logs():
        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())


@before_task_publish.connect
def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers.setdefault(SENT_HEADER, time.time())


@task_prerun.connect
def _lag(task: Any = None, **_: Any) -> None:
    sent = getattr(task.request, SENT_HEADER, None) if task is not None else None
    if sent is None:
        return
    start = float(sent)
    eta = task.request.eta
    if eta:
        from datetime import datetime

        try:
            start = max(start, datetime.fromisoformat(str(eta)).timestamp())
        except ValueError:
            pass
    QUEUE_LAG.labels(task.name).observe(max(0.0, time.time() - start))


@task_success.connect
def _succeeded(sender: Any = None, **_: Any) -> None:
    TASKS.labels(getattr(sender, "name", "?"), "succeeded").inc()


@task_failure.connect
def _failed(sender: Any = None, **_: Any) -> None:
    TASKS.labels(getattr(sender, "name", "?"), "failed").inc()


@task_retry.connect
def _retried(sender: Any = None, **_: Any) -> None:
    TASKS.labels(getattr(sender, "name", "?"), "retried").inc()


@worker_init.connect
def _serve_metrics(**_: Any) -> None:
    port = os.environ.get(METRICS_PORT_ENV)
    if not port:
        return
    registry: CollectorRegistry | None = None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), addr=os.environ.get("AGORA_METRICS_ADDR", "127.0.0.1"),
                      **({"registry": registry} if registry is not None else {}))
    log.info("metrics on http://127.0.0.1:%s/metrics", port)


@worker_process_shutdown.connect
def _mark_dead(pid: int | None = None, **_: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
