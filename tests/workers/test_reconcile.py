"""The reconciler on the real Redis (and RabbitMQ), with real ``agora worker`` processes and the session's graph.

The loss it repairs is simulated as it happens: the test pops a task message off
the Celery queue list itself (``RPOP``, what the ``BRPOP`` of a worker that dies
before recording it in ``unacked`` does), so the message is in no list, no hash,
no worker. Redis traffic stays in database :data:`REDIS_DB` (no other test uses
it; flushed before and after); queues are named ``reconcile-…``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from kombu import Connection
from kombu.utils.json import dumps, loads
from prometheus_client import REGISTRY

from agora.config import load_config
from agora.records import Interaction
from benchmarks.harness import WorkerProcess, expected_counts, graph_counts, start_worker, wait_results, write_config
from benchmarks.synthetic import write_source
from graph.server import EmbeddedServer
from graph.store import GraphStore
from listening.importer import read_path
from workers import reconcile
from workers.app import GRAPH_WRITE_LOCK, ingest_chain, make_app

REDIS_DB = 7
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
N, FILES = 2000, 5
# visibility 12 s: entries older than 17 s are looked at, every 5 s, confirmed 2 s later
TIME_LIMIT_S, VISIBILITY_S = 10, 12


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Interaction]]:
    files = write_source(tmp_path_factory.mktemp("source"), N, people=80, files=FILES, seed=3)
    items = [i for f in files for i in read_path(f, "jsonl") if isinstance(i, Interaction)]
    assert len(items) == N
    return files, items


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=10)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis at 127.0.0.1:6379 is down; start it with the command in the README")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _queue() -> str:
    return f"reconcile-{uuid.uuid4().hex[:10]}"


def _app(folder: Path, broker: str = REDIS_URL, graph: EmbeddedServer | None = None, **workers: object) -> Celery:
    return make_app(load_config(_config(folder, broker, graph, **workers), environ={}))


def _config(folder: Path, broker: str, graph: EmbeddedServer | None, **workers: object) -> Path:
    workers = {"task_time_limit_s": TIME_LIMIT_S, "visibility_timeout_s": VISIBILITY_S, **workers}
    return write_config(folder, graph_uri=graph.bolt_uri if graph else "bolt://127.0.0.1:1",
                        database=graph.database if graph else "x", broker=broker, backend=REDIS_URL, batch_size=200,
                        **workers)


def _send(app: Celery, paths: list[Path], queue: str) -> list:
    return [app.signature("agora.ingest_path", args=(str(p), "jsonl"), options={"queue": queue}).apply_async()
            for p in paths]


def _sweep(app: Celery, **kw: float) -> reconcile.SweepReport:
    """A sweep, waiting out one a worker's sweeper is running at the same moment."""
    for _ in range(100):
        report = reconcile.sweep(app, **kw)
        if not report.busy:
            return report
        time.sleep(0.1)
    raise AssertionError("the reconcile lock stayed held")


def _assert_exact(store: GraphStore, items: list[Interaction]) -> None:
    expected = expected_counts(items)
    assert graph_counts(store, list(expected)) == expected
    stored = {r["id"] for r in store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN m.id AS id")}
    assert stored == {i.id for i in items}


def _resent_lines(*workers: WorkerProcess) -> list[str]:
    return [line for w in workers for line in w.text().splitlines() if "lost by the broker" in line]


def _counter(name: str, task: str = "agora.ingest_path") -> float:
    return REGISTRY.get_sample_value(name, {"task": task}) or 0.0


# -- the window, end to end ---------------------------------------------------------------


@pytest.mark.slow
def test_a_message_popped_by_a_dying_worker_is_sent_again_and_the_graph_is_exact(
        store: GraphStore, graph_server: EmbeddedServer, redis_db: redis.Redis,
        source: tuple[list[Path], list[Interaction]], tmp_path: Path) -> None:
    files, items = source
    config = _config(tmp_path / "cfg", REDIS_URL, graph_server)
    app = make_app(load_config(config, environ={}))
    queue = _queue()
    results = _send(app, files, queue)
    assert redis_db.llen(queue) == FILES and reconcile.ledger_for(app).pending() == FILES
    # what BRPOP hands a worker killed before kombu records the message in ``unacked``
    popped = loads(redis_db.rpop(queue))["headers"]["id"]
    assert popped == results[0].id and redis_db.llen(queue) == FILES - 1
    worker = start_worker(config, graph_server.password(), queue, tmp_path / "worker.log")
    try:
        # no beat runs: the worker's own sweeper finds the lost task (older than 17 s, in no queue, held by no
        # worker) and sends it again
        reports = wait_results(results, timeout_s=VISIBILITY_S + 120, workers=[worker])
        sweep = app.signature(reconcile.RECONCILE_TASK, options={"queue": queue}).apply_async().get(timeout=60)
    finally:
        worker.stop()
    assert "sweeping every 5 s" in worker.text(), worker.tail()
    resent = _resent_lines(worker)
    assert len(resent) == 1 and popped in resent[0], worker.tail()
    assert sum(r["read"] for r in reports) == N
    _assert_exact(store, items)
    ledger = reconcile.ledger_for(app)
    assert ledger.pending() == 0 and ledger.dead() == []
    assert not redis_db.llen(queue)
    assert sweep["enabled"] and sweep["resent"] == []  # (or busy: the worker's own sweeper was at it)


# -- what must not be re-sent -------------------------------------------------------------


@pytest.mark.slow
def test_a_slow_running_task_and_a_queued_one_are_not_sent_again(
        store: GraphStore, graph_server: EmbeddedServer, redis_db: redis.Redis,
        source: tuple[list[Path], list[Interaction]], tmp_path: Path) -> None:
    """A task blocked mid-run (waiting for the graph-write turn the test holds) is held by its worker, one behind
    it waits in the queue: however old the sweep takes them to be, neither is lost, and neither is re-sent."""
    files, items = source
    config = _config(tmp_path / "cfg", REDIS_URL, graph_server, task_time_limit_s=60, visibility_timeout_s=70,
                     serial_graph_writes=True)
    app = make_app(load_config(config, environ={}))
    ledger = reconcile.ledger_for(app)
    queue = _queue()
    turn = redis_db.lock(GRAPH_WRITE_LOCK, timeout=120)
    assert turn.acquire(blocking=False)
    worker = start_worker(config, graph_server.password(), queue, tmp_path / "worker.log")
    try:
        results = _send(app, files[:2], queue)
        running, queued = results[0].id, results[1].id
        deadline = time.monotonic() + 90
        while ledger._held({running}) != {running}:
            assert time.monotonic() < deadline and worker.alive(), worker.tail()
            time.sleep(0.2)
        time.sleep(1)  # inside the task now, waiting for its turn
        assert redis_db.llen(queue) == 1
        report = _sweep(app, min_age_s=0, confirm_s=1)
        assert (report.checked, report.present, report.resent, report.dead) == (2, 2, (), ())
        assert ledger.pending() == 2 and redis_db.llen(queue) == 1
        turn.release()
        wait_results(results, timeout_s=120, workers=[worker])
    finally:
        worker.stop()
        if turn.owned():
            turn.release()
    assert not _resent_lines(worker), worker.tail()
    _assert_exact(store, [i for f in files[:2] for i in read_path(f, "jsonl") if isinstance(i, Interaction)])


@pytest.mark.slow
def test_a_finished_task_is_never_sent_again_and_a_failed_or_revoked_one_is_dead_lettered(
        store: GraphStore, graph_server: EmbeddedServer, redis_db: redis.Redis,
        source: tuple[list[Path], list[Interaction]], tmp_path: Path) -> None:
    files, items = source
    config = _config(tmp_path / "cfg", REDIS_URL, graph_server)
    app = make_app(load_config(config, environ={}))
    ledger = reconcile.ledger_for(app)
    queue = _queue()
    worker = start_worker(config, graph_server.password(), queue, tmp_path / "worker.log")
    missing = tmp_path / "no-such-file.jsonl"
    revoked = str(uuid.uuid4())
    try:
        deadline = time.monotonic() + 90
        while " ready." not in worker.text():
            assert time.monotonic() < deadline and worker.alive(), worker.tail()
            time.sleep(0.2)
        app.control.revoke(revoked)
        time.sleep(1)
        app.signature("agora.ingest_path", args=(str(files[2]), "jsonl"),
                      options={"queue": queue, "task_id": revoked}).apply_async()
        done = _send(app, files[:2], queue)
        failed = _send(app, [missing], queue)[0]
        wait_results(done, timeout_s=120, workers=[worker])
        deadline = time.monotonic() + 60
        while not failed.ready() or len(ledger.dead()) < 2:
            assert time.monotonic() < deadline, worker.tail()
            time.sleep(0.2)
        assert failed.failed()
        # however old: nothing is pending, nothing is re-sent, now or by the worker's next sweeps
        assert ledger.pending() == 0
        report = _sweep(app, min_age_s=0, confirm_s=0)
        assert (report.checked, report.resent, report.dead) == (0, (), ())
        time.sleep(reconcile.settings_for(app).interval_s + 1)
    finally:
        worker.stop()
    assert not _resent_lines(worker) and not redis_db.llen(queue)
    dead = {d["id"]: d for d in ledger.dead()}
    assert set(dead) == {failed.id, revoked}
    assert dead[failed.id]["args"] == [str(missing), "jsonl"]
    assert dead[failed.id]["reason"].startswith("failed: FileNotFoundError"), dead
    assert dead[revoked]["reason"] == "revoked" and dead[revoked]["args"] == [str(files[2]), "jsonl"]
    _assert_exact(store, [i for f in files[:2] for i in read_path(f, "jsonl") if isinstance(i, Interaction)])


# -- the sweep itself, no worker ----------------------------------------------------------


def test_a_lost_task_is_sent_again_as_it_was_then_dead_lettered_after_max_attempts(redis_db: redis.Redis,
                                                                                   tmp_path: Path) -> None:
    app = _app(tmp_path)
    ledger = reconcile.ledger_for(app)
    queue = _queue()
    ingest_chain("/data/export.jsonl", "jsonl", app=app, queue=queue).apply_async()
    original = loads(redis_db.lindex(queue, 0))
    task_id = original["headers"]["id"]
    assert original["headers"]["task"] == "agora.ingest_path" and ledger.pending() == 1
    resent_before, dead_before = _counter("agora_tasks_resent_total"), _counter("agora_tasks_dead_lettered_total")

    young = _sweep(app, confirm_s=0)  # default age: younger than the visibility timeout, not looked at
    assert (young.checked, young.resent) == (0, ())
    queued = _sweep(app, min_age_s=0, confirm_s=0)
    assert (queued.checked, queued.present, queued.resent) == (1, 1, ())
    for attempt in (1, 2):
        redis_db.rpop(queue)
        report = _sweep(app, min_age_s=0, confirm_s=0, max_attempts=2)
        assert report.resent == (task_id,) and report.dead == ()
        again = loads(redis_db.lindex(queue, 0))
        assert redis_db.llen(queue) == 1
        # the same message: same id, same args, the same chain behind it
        assert again["headers"]["id"] == task_id and again["headers"]["argsrepr"] == original["headers"]["argsrepr"]
        assert int(redis_db.hget(reconcile.ATTEMPTS_KEY, task_id)) == attempt
    redis_db.rpop(queue)
    report = _sweep(app, min_age_s=0, confirm_s=0, max_attempts=2)
    assert report.resent == () and report.dead == (task_id,) and not redis_db.llen(queue)
    [dead] = ledger.dead()
    assert dead["id"] == task_id and dead["args"] == ["/data/export.jsonl", "jsonl"] and dead["attempts"] == 2
    assert "lost 3 times" in dead["reason"]
    assert ledger.pending() == 0 and not redis_db.exists(reconcile.ATTEMPTS_KEY)
    assert _counter("agora_tasks_resent_total") - resent_before == 2
    assert _counter("agora_tasks_dead_lettered_total") - dead_before == 1


def test_the_resent_message_carries_the_chain(redis_db: redis.Redis, tmp_path: Path) -> None:
    app = _app(tmp_path)
    queue = _queue()
    ingest_chain("/data/export.jsonl", "jsonl", app=app, queue=queue).apply_async()
    before = redis_db.rpop(queue)
    assert _sweep(app, min_age_s=0, confirm_s=0).resent
    after = redis_db.rpop(queue)
    body_before, body_after = (_body(loads(m)) for m in (before, after))
    assert body_after == body_before
    assert [s["task"] for s in body_after[2]["chain"]] == ["agora.evaluate_alerts", "agora.rescore", "agora.classify"]


def _body(message: dict) -> list:
    import base64

    raw = message["body"]
    if message["properties"].get("body_encoding") == "base64":
        raw = base64.b64decode(raw)
    return loads(raw)


def test_a_message_a_live_worker_is_recording_is_not_taken_for_lost(redis_db: redis.Redis, tmp_path: Path) -> None:
    """The suspect is looked for again ``confirm_s`` later: a worker that popped the message and records it in
    ``unacked`` within that time (as kombu does, a moment after BRPOP) keeps it."""
    app = _app(tmp_path)
    queue = _queue()
    _send(app, [Path("/data/a.jsonl")], queue)
    raw = redis_db.rpop(queue)
    message = loads(raw)

    def record_as_kombu_does() -> None:
        time.sleep(0.3)
        tag = message["properties"]["delivery_tag"]
        redis_db.pipeline().zadd("unacked_index", {tag: time.time()}).hset(
            "unacked", tag, dumps([message, "", queue])).execute()

    recorder = threading.Thread(target=record_as_kombu_does)
    recorder.start()
    report = _sweep(app, min_age_s=0, confirm_s=1.5)
    recorder.join()
    assert (report.checked, report.present, report.resent) == (1, 1, ())
    assert not redis_db.llen(queue)


def test_the_sweep_is_one_at_a_time(redis_db: redis.Redis, tmp_path: Path) -> None:
    app = _app(tmp_path)
    held = redis_db.lock(reconcile.LOCK_KEY, timeout=30)
    assert held.acquire(blocking=False)
    try:
        assert reconcile.sweep(app, min_age_s=0).busy
    finally:
        held.release()
    assert not reconcile.sweep(app, min_age_s=0).busy


# -- RabbitMQ: no window, nothing to do ---------------------------------------------------


def test_beat_sweeps_on_redis_only(tmp_path: Path) -> None:
    on_redis = _app(tmp_path / "r").conf.beat_schedule["reconcile"]
    assert on_redis["task"] == reconcile.RECONCILE_TASK and on_redis["schedule"] == 5.0
    assert "reconcile" not in _app(tmp_path / "a", broker=RABBITMQ_URL).conf.beat_schedule


@pytest.mark.slow
def test_with_rabbitmq_the_reconciler_is_harmless(store: GraphStore, graph_server: EmbeddedServer,
                                                  redis_db: redis.Redis,
                                                  source: tuple[list[Path], list[Interaction]],
                                                  tmp_path: Path) -> None:
    """No ledger, no sweep, no beat entry; the import runs as before and Redis (the result backend) holds
    nothing of the reconciler's."""
    files, _ = source
    config = _config(tmp_path / "cfg", RABBITMQ_URL, graph_server)
    app = make_app(load_config(config, environ={}))
    assert reconcile.ledger_for(app) is None and not reconcile.sweep(app, min_age_s=0).enabled
    queue = _queue()
    worker = start_worker(config, graph_server.password(), queue, tmp_path / "worker.log")
    try:
        reports = wait_results(_send(app, files[:1], queue), timeout_s=120, workers=[worker])
    finally:
        worker.stop()
        with Connection(RABBITMQ_URL, connect_timeout=10) as conn:
            conn.default_channel.queue_delete(queue)
    assert reports[0]["read"] == N // FILES
    assert not redis_db.keys("agora:reconcile:*") and not redis_db.exists(reconcile.LOCK_KEY)
    assert "sweeping every" not in worker.text() and "reconcile: sweep failed" not in worker.text()
