"""Worker observability on real services: the Prometheus endpoint scraped, JSON logs, task events."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from agora.config import load_config
from benchmarks.harness import free_port, start_worker, wait_results, write_config
from benchmarks.synthetic import write_source
from graph.server import EmbeddedServer
from graph.store import GraphStore
from workers.app import make_app

REDIS_DB = 11
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
    c.flushdb()
    yield c
    c.flushdb()
    c.close()


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.slow
def test_metrics_endpoint_and_json_logs(store: GraphStore, graph_server: EmbeddedServer, client: redis.Redis,
                                        tmp_path: Path) -> None:
    """Two pool processes: one import succeeds, one fails; the main process serves both counts, the
    interactions ingested and the queue lag; every log line is JSON; task events are on for Flower."""
    files = write_source(tmp_path / "src", 300, people=40, files=1)
    config_path = write_config(tmp_path / "cfg", graph_uri=graph_server.bolt_uri, database=graph_server.database,
                               broker=REDIS_URL, backend=REDIS_URL, log_format="json", max_retries=0)
    app = make_app(load_config(config_path, environ={}))
    assert app.conf.worker_send_task_events and app.conf.task_send_sent_event
    queue, port = f"issue7-metrics-{free_port()}", free_port()
    w = start_worker(config_path, graph_server.password(), queue, tmp_path / "worker.log", concurrency=2,
                     metrics_port=port)
    try:
        good = app.signature("agora.ingest_path", args=(str(files[0]), "jsonl"), options={"queue": queue})
        bad = app.signature("agora.ingest_path", args=(str(tmp_path / "missing.jsonl"), None),
                            options={"queue": queue})
        results = [good.apply_async(), bad.apply_async()]
        with pytest.raises(FileNotFoundError):
            wait_results(results, 120, [w])
        deadline = time.monotonic() + 30
        while not all(r.ready() for r in results) and time.monotonic() < deadline:
            time.sleep(0.2)
        metrics = _scrape(port)
    finally:
        w.stop()
    ingest = (("task", "agora.ingest_path"),)
    assert metrics[("agora_tasks_total", (("state", "succeeded"), ("task", "agora.ingest_path")))] == 1
    assert metrics[("agora_tasks_total", (("state", "failed"), ("task", "agora.ingest_path")))] == 1
    assert metrics[("agora_interactions_ingested_total", ())] == 300
    assert metrics[("agora_interactions_new_total", ())] == 300
    assert metrics[("agora_queue_lag_seconds_count", ingest)] == 2
    assert 0 <= metrics[("agora_queue_lag_seconds_sum", ingest)] < 60
    lines = [line for line in w.text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert any(r.get("task") == "agora.ingest_path" and r.get("task_id") for r in records), lines[-5:]
    done = [r for r in records if "succeeded in" in r["message"]]
    assert done and {"ts", "level", "logger", "message"} <= set(done[0])
