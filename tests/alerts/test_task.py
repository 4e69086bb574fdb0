"""The ``agora.evaluate_alerts`` Celery task and ``agora run`` hand new alerts to the notifiers.

The task runs in-process (``Task.apply``: the task's own code, no broker) on the
session's real graph server; alerts go to a real local webhook endpoint.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from agora.config import load_config
from alerts.delivery import close_dispatchers
from alerts.engine import snapshot
from alerts.history import list_alerts
from alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from graph.server import EmbeddedServer
from graph.store import GraphStore
from workers.app import TASK_NAMES, ingest_chain, make_app

from .conftest import Endpoint
from .test_engine import GIULIA, Graph, T


def write_config(tmp_path: Path, server: EmbeddedServer, endpoint: Endpoint) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "graph": {"uri": server.bolt_uri, "database": server.database, "batch_size": 500},
        "workers": {"broker_url": "memory://", "result_backend": None},
        "alerts": {"notifiers": [{"type": "webhook", "url": endpoint.url, "secret_env": "T_AGORA_HOOK",
                                  "retries": 1, "backoff_s": 0.05}]},
    }))
    return path


def test_evaluate_alerts_task_after_a_rescore_delivers_and_records(store: GraphStore, graph_server: EmbeddedServer,
                                                                  endpoint: Endpoint, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_AGORA_HOOK", "hook-secret")
    config = load_config(write_config(tmp_path, graph_server, endpoint),
                         environ={"AGORA_GRAPH__PASSWORD": graph_server.password()})
    app = make_app(config)
    assert TASK_NAMES[-1] == "agora.evaluate_alerts"
    assert [s.task for s in ingest_chain("/x", app=app).tasks][-2:] == ["agora.rescore", "agora.evaluate_alerts"]
    assert app.conf.beat_schedule["rescore"]["options"]["link"]["task"] == "agora.evaluate_alerts"

    g = Graph()
    g.circles()
    for d in (1, 2, 3):
        g.add(GIULIA, T - timedelta(days=d), -0.7, text=f"Ennesimo ordine in ritardo ({d})")
    g.write(store)
    rescored = app.tasks["agora.rescore"].apply().get()
    assert rescored["before"]["communities"] == []  # the snapshot taken before this first scoring
    try:
        result = app.tasks["agora.evaluate_alerts"].apply(args=(rescored,)).get()
    finally:
        close_dispatchers()  # what a worker does at shutdown: wait for deliveries in flight
        app.agora_resources.close()
    [alert_id] = result["alerts"]
    assert alert_id.startswith("influencer_negative:tw:giulia:")
    [got] = endpoint.received
    assert verify_signature(b"hook-secret", got.body, got.headers[SIGNATURE_HEADER], got.headers[TIMESTAMP_HEADER])
    assert json.loads(got.body)["alert"]["id"] == alert_id
    [listed] = list_alerts(store)
    assert [(d["notifier"], d["status"], d["attempts"]) for d in listed["deliveries"]] == [("webhook", "sent", 1)]

    # Run again (a retried task): nothing new is raised, nothing is sent twice.
    again = app.tasks["agora.evaluate_alerts"].apply(args=({"before": snapshot(store).as_dict()},)).get()
    close_dispatchers()
    app.agora_resources.close()
    assert again == {"alerts": []} and len(endpoint.received) == 1


def test_a_dead_endpoint_is_recorded_and_the_task_returns(store: GraphStore, graph_server: EmbeddedServer,
                                                          endpoint: Endpoint, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_AGORA_HOOK", "hook-secret")
    endpoint.fail(10, 503)
    config = load_config(write_config(tmp_path, graph_server, endpoint),
                         environ={"AGORA_GRAPH__PASSWORD": graph_server.password()})
    app = make_app(config)
    g = Graph()
    g.circles()
    for d in (1, 2):
        g.add(GIULIA, T - timedelta(days=d), -0.9)
    g.write(store)
    app.tasks["agora.rescore"].apply().get()
    try:
        result = app.tasks["agora.evaluate_alerts"].apply().get()  # no snapshot: new_influencer skipped
    finally:
        close_dispatchers()
        app.agora_resources.close()
    assert len(result["alerts"]) == 1
    assert len(endpoint.received) == 2  # the first attempt and one retry
    [listed] = list_alerts(store)
    [delivery] = listed["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("failed", 2) and "HTTP 503" in delivery["error"]


def test_agora_run_stops_at_start_when_a_notifier_secret_is_missing(tmp_path: Path, graph_server: EmbeddedServer,
                                                                    endpoint: Endpoint, store: GraphStore) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    path = write_config(tmp_path, graph_server, endpoint)
    env = {k: v for k, v in os.environ.items() if k != "T_AGORA_HOOK"}
    done = subprocess.run([sys.executable, "-m", "agora.cli", "--config", str(path), "run"], capture_output=True,
                          text=True, timeout=300, cwd=REPO,
                          env={**env, "AGORA_GRAPH__PASSWORD": graph_server.password(), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("agora: config error: environment: alerts.notifiers.webhook.secret_env: "
                                   "environment variable T_AGORA_HOOK is not set")
    assert store.count("Message") == 0  # stopped before importing anything


@pytest.mark.slow
def test_agora_run_sends_every_new_alert_once(tmp_path: Path, graph_server: EmbeddedServer, endpoint: Endpoint,
                                              store: GraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from agora.report import run_pipeline

    monkeypatch.setenv("T_AGORA_HOOK", "hook-secret")
    path = write_config(tmp_path, graph_server, endpoint)
    data = yaml.safe_load(path.read_text())
    data["sample"] = {"dir": "sample", "people": 60}
    data["output"] = {"dir": "out"}
    path.write_text(yaml.safe_dump(data))
    config = load_config(path, environ={"AGORA_GRAPH__PASSWORD": graph_server.password()})
    summary = run_pipeline(store, config)
    assert summary["alerts"], "the sample community raises alerts"
    sent = {d["alert"] for d in summary["deliveries"]}
    assert sent == {a["id"] for a in summary["alerts"]}
    assert {d["status"] for d in summary["deliveries"]} == {"sent"}
    assert sorted(json.loads(r.body)["alert"]["id"] for r in endpoint.received) == sorted(sent)
    assert run_pipeline(store, config)["deliveries"] == [] and len(endpoint.received) == len(sent)
