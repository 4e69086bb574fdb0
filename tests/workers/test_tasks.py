"""The Celery tasks on the machine's real brokers, with a real worker process.

Every test talks to real servers: Redis and RabbitMQ on 127.0.0.1 (started
here with the CI commands when one is down), the session's ArcadeDB graph
server over Bolt, and a ``celery worker`` (or ``agora worker``) started as a
subprocess with its own ``config.yaml``. Redis traffic stays in database
:data:`REDIS_DB`, the only one flushed; RabbitMQ traffic in a queue of its own,
deleted afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from celery.result import AsyncResult
from kombu import Connection
from neo4j.exceptions import ServiceUnavailable

from agora.config import Config, load_config
from agora.sample import SampleManifest, generate_sample
from benchmarks.harness import die_with_parent, write_config
from graph.server import EmbeddedServer
from graph.store import GraphStore
from tests.conftest import REPO, free_port
from workers.app import RESCORE_LOCK, TASK_NAMES, ingest_chain, make_app

REDIS_DB = 14
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
               "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"]
RABBITMQ_START = ["rabbitmq-server", "-detached"]
CHAIN_TIMEOUT_S = 150  # first run: worker start, model load, ingest, classify, rescore


# -- services -----------------------------------------------------------------------------


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _ensure_service(name: str, port: int, start: list[str], url: str, timeout_s: float) -> None:
    """Start the service with the CI command if nothing listens on ``port``, then wait until it answers."""
    if not _port_open(port):
        subprocess.run(start, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=60)
    deadline = time.monotonic() + timeout_s
    while not _port_open(port):
        if time.monotonic() > deadline:
            pytest.fail(f"{name} did not open port {port} within {timeout_s:.0f} s of `{' '.join(start)}`")
        time.sleep(0.5)
    with Connection(url, connect_timeout=5) as conn:  # listening is not yet serving (RabbitMQ boots in steps)
        conn.ensure_connection(max_retries=int(timeout_s), interval_start=1, interval_step=0, interval_max=1)


@pytest.fixture(scope="session")
def redis_db() -> Iterator[redis.Redis]:
    """Redis up, and a client on the tests' own database, flushed before and after."""
    _ensure_service("Redis", 6379, REDIS_START, REDIS_URL, timeout_s=30)
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=10)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    _ensure_service("RabbitMQ", 5672, RABBITMQ_START, RABBITMQ_URL, timeout_s=120)
    return RABBITMQ_URL


# -- sample, config, worker ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    return generate_sample(tmp_path_factory.mktemp("sample") / "s", people=30)


class Worker:
    """A worker subprocess in a session (and process group) of its own, logging to ``log``."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path, name: str) -> None:
        self.proc, self.log, self.name = proc, log, name
        self.returncode: int | None = None
        self.stop_seconds: float | None = None

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for(self, result: AsyncResult, timeout_s: float) -> None:
        """Wait until ``result`` is ready, failing at once (with the log) if the worker died."""
        deadline = time.monotonic() + timeout_s
        while not result.ready():
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited with {self.proc.returncode} before the result came:\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no result within {timeout_s:.0f} s; worker log:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of the whole process group; never leaves a process behind."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # pool children, if any outlived their parent
        except ProcessLookupError:
            pass
        self.returncode = self.proc.wait(timeout=10)
        self.stop_seconds = time.monotonic() - started


@contextmanager
def worker(config: Path, password: str, queue: str, log: Path, *, via_cli: bool = False) -> Iterator[Worker]:
    """A prefork worker with one child consuming ``queue``, configured by ``config``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "CELERY_"))}
    env.update({
        "AGORA_CONFIG": str(config),
        "AGORA_GRAPH__PASSWORD": password,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",  # two shared cores: one for the worker, one for the graph server
        "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    name = f"{queue}@%h"
    options = ["--pool=prefork", "--concurrency=1", "-Q", queue, "-n", name, "--without-gossip",
               "--without-mingle", "--loglevel=INFO"]
    if via_cli:
        cmd = [sys.executable, "-m", "agora.cli", "worker", *options]
    else:
        cmd = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", *options]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
    w = Worker(proc, log, name)
    try:
        yield w
    finally:
        w.stop()


def _graph_config(tmp_path: Path, graph_server: EmbeddedServer, broker: str, manifest: SampleManifest) -> Path:
    return write_config(tmp_path / "cfg", graph_uri=graph_server.bolt_uri, database=graph_server.database,
                        broker=broker, backend=REDIS_URL, batch_size=500,
                        extra={"import": {"timezone": manifest.timezone},
                               "brand_accounts": list(manifest.brand_accounts)})


def _queue() -> str:
    return f"agora-test-{uuid.uuid4().hex[:10]}"


# -- the round trip -----------------------------------------------------------------------


def _scores(store: GraphStore) -> dict[str, Any]:
    """Global influence of every person not flagged as the brand."""
    rows = store.fetch("MATCH (p:Person) WHERE NOT coalesce(p.brand, false) RETURN p.id AS id, p.influence AS i")
    return {r["id"]: r["i"] for r in rows}


def _send_chain(app: Celery, w: Worker, path: Path, queue: str) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """Send ingest → classify → rescore → evaluate_alerts; return the first three results."""
    result = ingest_chain(path, app=app, queue=queue).apply_async()
    w.wait_for(result, CHAIN_TIMEOUT_S)
    assert isinstance(result.get(timeout=10)["alerts"], list)  # the alert rules ran after the rescore
    rescored = result.parent.get(timeout=10)
    classified = result.parent.parent.get(timeout=10)
    ingested = result.parent.parent.parent.get(timeout=10)
    return ingested, classified, rescored


def round_trip(store: GraphStore, config: Config, manifest: SampleManifest, w: Worker, queue: str) -> None:
    """The chain twice through a real worker: the graph is complete, then unchanged."""
    app = make_app(config)
    expected = manifest.interactions

    ingested, classified, rescored = _send_chain(app, w, manifest.directory, queue)
    assert ingested == {"path": str(manifest.directory), "read": expected, "new": expected, "skipped": 0}
    assert classified == expected
    assert store.count("Message", stored_only=True) == expected
    unclassified = store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL AND m.sentiment IS NULL RETURN count(m) AS n")
    assert unclassified[0]["n"] == 0
    labels = store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN DISTINCT m.sentiment AS s")
    assert {r["s"] for r in labels} <= {"negative", "neutral", "positive"}
    scores = _scores(store)  # one person per account: identity resolution is not part of the chain
    assert len(scores) == rescored["people"] >= manifest.people
    assert all(isinstance(v, float) and 0 <= v <= 100 for v in scores.values()), scores
    brand = store.fetch("MATCH (p:Person) WHERE p.brand RETURN p.influence AS i")
    assert brand and all(r["i"] is None for r in brand)  # brand_accounts reached the worker: left out of rankings
    assert rescored["communities"] >= 2 and store.count("Community") == rescored["communities"]
    first = store.counts()

    again = _send_chain(app, w, manifest.directory, queue)
    assert again[0] == {"path": str(manifest.directory), "read": expected, "new": 0, "skipped": 0}
    assert again[1] == 0
    assert again[2]["people"] == rescored["people"] and again[2]["interactions"] == rescored["interactions"]
    assert store.counts() == first
    assert _scores(store) == scores


@pytest.mark.slow
def test_chain_on_redis_through_agora_worker(store: GraphStore, graph_server: EmbeddedServer,
                                             sample: SampleManifest, redis_db: redis.Redis,
                                             tmp_path: Path) -> None:
    """`agora worker` on Redis: the chain fills the graph, a second one changes nothing, shutdown is clean."""
    config_path = _graph_config(tmp_path, graph_server, REDIS_URL, sample)
    config = load_config(config_path, environ={})
    queue = _queue()
    with worker(config_path, graph_server.password(), queue, tmp_path / "worker.log", via_cli=True) as w:
        round_trip(store, config, sample, w, queue)
    assert w.returncode == 0, w.tail()
    assert w.stop_seconds is not None and w.stop_seconds < 20, w.stop_seconds
    assert not redis_db.llen(queue), "a message was left in the queue"


@pytest.mark.slow
def test_chain_on_rabbitmq(store: GraphStore, graph_server: EmbeddedServer, sample: SampleManifest,
                           redis_db: redis.Redis, rabbitmq: str, tmp_path: Path) -> None:
    """`celery -A workers.app worker` on RabbitMQ (results in Redis): the same round trip, no message left."""
    config_path = _graph_config(tmp_path, graph_server, rabbitmq, sample)
    config = load_config(config_path, environ={})
    queue = _queue()
    app = make_app(config)
    try:
        with worker(config_path, graph_server.password(), queue, tmp_path / "worker.log") as w:
            round_trip(store, config, sample, w, queue)
        assert w.returncode == 0, w.tail()
        with app.connection_for_read() as conn:
            _, waiting, _ = conn.default_channel.queue_declare(queue, passive=True)
            assert waiting == 0
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
            conn.default_channel.exchange_delete(queue)


def test_graph_outage_is_retried_with_backoff_then_fails(graph_server: EmbeddedServer, redis_db: redis.Redis,
                                                         tmp_path: Path) -> None:
    """A graph that refuses connections: the task retries ``max_retries`` times, then fails (no endless loop)."""
    closed = f"bolt://127.0.0.1:{free_port()}"
    config_path = write_config(tmp_path / "cfg", graph_uri=closed, database=graph_server.database,
                               broker=REDIS_URL, backend=REDIS_URL, max_retries=2)
    queue = _queue()
    app = make_app(load_config(config_path, environ={}))
    with worker(config_path, "unused", queue, tmp_path / "worker.log") as w:
        result = app.signature("agora.rescore", options={"queue": queue}).apply_async()
        w.wait_for(result, 60)
    assert result.state == "FAILURE"
    assert isinstance(result.result, ServiceUnavailable), result.result
    log = w.log.read_text(encoding="utf-8", errors="replace")
    assert log.count("Retry in") == 2, w.tail()
    assert w.returncode == 0


def test_a_rescore_waits_for_the_running_one(store: GraphStore, graph_server: EmbeddedServer,
                                            redis_db: redis.Redis, tmp_path: Path) -> None:
    """Overlapping rescores would delete each other's communities: a worker waits for the shared lock."""
    config_path = write_config(tmp_path / "cfg", graph_uri=graph_server.bolt_uri, database=graph_server.database,
                               broker=REDIS_URL, backend=REDIS_URL)
    queue = _queue()
    app = make_app(load_config(config_path, environ={}))
    held = redis_db.lock(RESCORE_LOCK, timeout=120)  # another worker's rescore, as far as this one knows
    assert held.acquire(blocking=False)
    try:
        with worker(config_path, graph_server.password(), queue, tmp_path / "worker.log") as w:
            result = app.signature("agora.rescore", options={"queue": queue}).apply_async()
            deadline = time.monotonic() + 60
            while f"agora.rescore[{result.id}] received" not in w.tail(200):
                assert time.monotonic() < deadline and w.proc.poll() is None, w.tail()
                time.sleep(0.2)
            time.sleep(2)
            assert not result.ready(), "the rescore ran while another held the lock"
            held.release()
            w.wait_for(result, 30)
            assert result.successful(), result.traceback
    finally:
        if held.owned():
            held.release()
    assert not redis_db.exists(RESCORE_LOCK), "the worker did not release the lock"


# -- configuration ------------------------------------------------------------------------


@pytest.fixture
def worker_config(tmp_path: Path) -> Config:
    path = write_config(tmp_path, graph_uri="bolt://127.0.0.1:7687", database="agora", broker=REDIS_URL,
                        backend=REDIS_URL, rescore_interval_s=37.5, task_time_limit_s=600, max_retries=3)
    return load_config(path, environ={})


def test_beat_schedule_comes_from_config(worker_config: Config) -> None:
    app = make_app(worker_config)
    schedule = app.conf.beat_schedule
    assert schedule["rescore"]["task"] == "agora.rescore"
    assert schedule["rescore"]["schedule"] == 37.5
    assert schedule["rescore"]["options"]["expires"] == 37.5  # a missed rescore is superseded, not queued up
    assert "agora.rescore" in app.tasks


def test_agora_beat_sends_rescore_on_the_configured_interval(redis_db: redis.Redis, tmp_path: Path) -> None:
    """A real ``agora beat`` puts ``agora.rescore`` on the broker every ``workers.rescore_interval_s``."""
    config_path = write_config(tmp_path, graph_uri="bolt://127.0.0.1:7687", database="agora", broker=REDIS_URL,
                               backend=REDIS_URL, rescore_interval_s=1)
    redis_db.delete("celery")  # beat sends to the default queue; no test worker consumes it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "CELERY_"))}
    env.update({"AGORA_CONFIG": str(config_path), "PYTHONPATH": str(REPO)})
    cmd = [sys.executable, "-m", "agora.cli", "beat", "-s", str(tmp_path / "beat-schedule")]
    with open(tmp_path / "beat.log", "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
    beat = Worker(proc, tmp_path / "beat.log", "beat")
    try:
        deadline = time.monotonic() + 30
        while redis_db.llen("celery") < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
    finally:
        beat.stop()
    messages = [json.loads(m) for m in redis_db.lrange("celery", 0, -1)]
    redis_db.delete("celery")
    assert len(messages) >= 2, beat.tail()
    for m in messages:
        assert m["headers"]["task"] == "agora.rescore"
        assert m["headers"]["expires"] is not None  # superseded rather than piled up while workers are down
    assert beat.returncode == 0, beat.tail()


def test_task_options_match_the_docstring(worker_config: Config) -> None:
    app = make_app(worker_config)
    assert app.conf.broker_url == REDIS_URL and app.conf.result_backend == REDIS_URL
    assert app.conf.task_time_limit == 600 and 0 < app.conf.task_soft_time_limit < 600
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit
    for name in TASK_NAMES:
        task = app.tasks[name]
        assert task.acks_late is True, name
        assert task.reject_on_worker_lost is True, name
        assert task.max_retries == 3, name  # bounded, from workers.max_retries
        assert task.retry_backoff and task.retry_backoff_max == 120 and task.retry_jitter, name
        assert ServiceUnavailable in task.autoretry_for and ConnectionError in task.autoretry_for, name
        assert not task.ignore_result, name


def test_import_reads_no_config(tmp_path: Path) -> None:
    """Importing workers.app needs no config; the module's app reads $AGORA_CONFIG on first use."""
    config_path = write_config(tmp_path, graph_uri="bolt://127.0.0.1:7687", database="agora",
                               broker="redis://127.0.0.1:6379/13", backend=None, rescore_interval_s=11,
                               max_retries=4)
    code = ("import os, workers.app as w\n"
            "os.environ['AGORA_CONFIG'] = os.environ.pop('LATER_CONFIG')\n"
            "print(w.app.conf.broker_url, w.app.conf.beat_schedule['rescore']['schedule'], w.rescore.max_retries)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "CELERY_"))}
    env.update({"AGORA_CONFIG": str(tmp_path / "missing.yaml"), "LATER_CONFIG": str(config_path)})
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["redis://127.0.0.1:6379/13", "11.0", "4"]


def test_chain_routes_every_step_to_the_queue(worker_config: Config) -> None:
    app = make_app(worker_config)
    steps = ingest_chain(Path("/data/x"), "jsonl", app=app, queue="q1").tasks
    assert [s.task for s in steps] == list(TASK_NAMES)
    assert [s.options.get("queue") for s in steps] == ["q1"] * len(TASK_NAMES)
    assert steps[0].args == ("/data/x", "jsonl") and steps[0].immutable
    json.dumps([dict(s) for s in steps])  # the chain travels as JSON
