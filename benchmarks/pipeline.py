"""End-to-end ingest through Celery workers, beside in-process import, and a kill -9 soak.

    .venv/bin/python -m benchmarks.pipeline            # 100k interactions, sentiment on 5k, 20 kill cycles
    .venv/bin/python -m benchmarks.pipeline --quick    # 20k interactions, sentiment on 1k, 5 kill cycles

Everything runs on real services: a graph server of its own (the embedded
ArcadeDB over Bolt), Redis at 127.0.0.1:6379 (database 10, flushed; with
``--own-redis`` a redis-server of its own, without persistence) and
RabbitMQ at 127.0.0.1:5672 (queues ``issue7-bench-…``, deleted afterwards).

* **Throughput**: a synthetic source (:func:`benchmarks.synthetic.write_source`,
  files of 2,000 interactions, one ``agora.ingest_path`` task per file) from an
  empty graph until every task is done, with 1 and 2 ``agora worker``
  processes (one pool process each), on Redis and on RabbitMQ. The baseline in
  the same run is the in-process import (what ``agora import`` does) on the
  same graph server. "taking turns" sets ``workers.serial_graph_writes``
  (one batch written at a time across workers). "with sentiment" adds ``agora.classify`` (the bundled
  model) after the ingest, on a smaller source (the model is ~100x slower
  than the graph). Each row checks the graph afterwards: counts exactly the
  source's.
* **Soak**: ``--kills`` cycles of kill -9 (alternately a pool process, whose
  task is re-queued at once, and a whole worker, whose task comes back after
  the Redis visibility timeout) while the import runs, then lost and doubled
  interactions and relationships counted against the source.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from agora.config import load_config
from agora.records import Interaction
from benchmarks.harness import (WorkerProcess, die_with_parent, expected_counts, free_port, graph_counts, start_worker,
                                wait_results, write_config)
from benchmarks.synthetic import write_source
from graph.server import EmbeddedServer
from graph.store import GraphStore, connect
from listening.importer import read_path
from workers.app import make_app

REDIS_URL = "redis://127.0.0.1:6379/10"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
PER_FILE = 2000


class Bench:
    """One graph server, one source, and the runs over them."""

    def __init__(self, folder: Path, n: int) -> None:
        self.folder = folder
        self.server = EmbeddedServer(folder / "graph", bolt_port=free_port(), http_port=free_port(), heap="1g")
        self.server.start(timeout_s=300)
        self.store: GraphStore = connect(self.server.bolt_uri, "root", self.server.password(),
                                         database=self.server.database, batch_size=PER_FILE)
        self.store.ensure_schema()
        self.files, self.expected, self.n = self.source(n, "src")

    def source(self, n: int, name: str) -> tuple[list[Path], dict[str, int], int]:
        files = write_source(self.folder / name, n, people=max(100, n // 20), files=max(1, n // PER_FILE), seed=1)
        items = [i for f in files for i in read_path(f, "jsonl") if isinstance(i, Interaction)]
        return files, expected_counts(items), len(items)

    def close(self) -> None:
        self.store.close()
        self.server.stop()

    def exact(self, expected: dict[str, int]) -> str:
        got = graph_counts(self.store, list(expected))
        return "exact" if got == expected else f"MISMATCH {got} != {expected}"

    def config(self, broker: str, **workers: Any) -> Path:
        return write_config(self.folder / f"cfg-{uuid.uuid4().hex[:6]}", graph_uri=self.server.bolt_uri,
                            database=self.server.database, broker=broker, backend=REDIS_URL, batch_size=PER_FILE,
                            **workers)

    def in_process(self) -> dict[str, Any]:
        from agora.pipeline import import_path

        self.store.clear()
        config = load_config(self.config(REDIS_URL), environ={})
        started = time.perf_counter()
        for f in self.files:
            import_path(self.store, f, config, fmt="jsonl")
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "check": self.exact(self.expected)}

    def through_workers(self, broker: str, workers: int, *, sentiment: bool = False, serial: bool = False,
                        files: list[Path] | None = None, expected: dict[str, int] | None = None) -> dict[str, Any]:
        files, expected = files or self.files, expected or self.expected
        self.store.clear()
        config_path = self.config(broker, serial_graph_writes=serial)
        app = make_app(load_config(config_path, environ={}))
        queue = f"issue7-bench-{uuid.uuid4().hex[:8]}"
        procs = [start_worker(config_path, self.server.password(), queue, self.folder / f"{queue}-{k}.log",
                              name=f"{queue}-{k}") for k in range(workers)]
        try:
            _ready(procs)
            started = time.perf_counter()
            results = [app.signature("agora.ingest_path", args=(str(f), "jsonl"), options={"queue": queue})
                       .apply_async() for f in files]
            wait_results(results, 3600, procs)
            if sentiment:
                classified = app.signature("agora.classify", options={"queue": queue}).apply_async()
                wait_results([classified], 3600, procs)
            seconds = time.perf_counter() - started
        finally:
            for w in procs:
                w.stop()
            if broker.startswith("amqp"):
                with app.connection_for_write() as conn:
                    conn.default_channel.queue_delete(queue)
                    conn.default_channel.exchange_delete(queue)
        check = self.exact(expected)
        if sentiment:
            left = self.store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL AND m.sentiment IS NULL "
                                    "RETURN count(m) AS n")[0]["n"]
            check += "" if left == 0 else f", {left} unclassified"
        return {"seconds": seconds, "check": check}

    def soak(self, kills: int, visibility_s: float = 30.0) -> dict[str, Any]:
        """Import while killing -9 ``kills`` times; returns lost and doubled counts."""
        self.store.clear()
        config_path = self.config(REDIS_URL, task_time_limit_s=visibility_s - 5, visibility_timeout_s=visibility_s)
        app = make_app(load_config(config_path, environ={}))
        queue = f"issue7-soak-{uuid.uuid4().hex[:8]}"
        log = self.folder / f"{queue}.log"
        w = start_worker(config_path, self.server.password(), queue, log)
        started = time.perf_counter()
        results = [app.signature("agora.ingest_path", args=(str(f), "jsonl"), options={"queue": queue})
                   .apply_async() for f in self.files]
        done_kills = 0
        try:
            stored = self.stored()
            while done_kills < kills and not all(r.ready() for r in results):
                # wait until this worker has written something of its batch, then kill it mid-batch
                target = stored + PER_FILE // 4
                while self.stored() < target and not all(r.ready() for r in results):
                    time.sleep(0.05)
                if all(r.ready() for r in results):
                    break
                if done_kills % 2 == 0:
                    w.kill9_child()
                else:
                    w.kill9_all()
                    w = start_worker(config_path, self.server.password(), queue, log)
                done_kills += 1
                stored = self.stored()
            wait_results(results, 3600, [w])
        finally:
            w.stop()
        seconds = time.perf_counter() - started
        ids = {r["id"] for r in self.store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN m.id AS id")}
        source = {f"synth:m{i}" for i in range(self.n)}
        got = graph_counts(self.store, list(self.expected))
        doubled = {k: got[k] - v for k, v in self.expected.items() if got[k] > v}
        return {"kills": done_kills, "seconds": seconds, "lost": len(source - ids),
                "doubled": got["stored"] - got["distinct_ids"], "extra": len(ids - source),
                "relationships_off": {k: got[k] - v for k, v in self.expected.items() if got[k] != v},
                "doubled_any": doubled,
                # imports lost in the Redis BRPOP window and sent again by workers.reconcile
                "resent": log.read_text(encoding="utf-8", errors="replace").count("lost by the broker")}

    def stored(self) -> int:
        return self.store.count("Message", stored_only=True)


def _ready(procs: list[WorkerProcess], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(" ready." in w.text() for w in procs):
        if time.monotonic() > deadline or not all(w.alive() for w in procs):
            raise RuntimeError("workers did not start:\n" + "\n".join(w.tail() for w in procs))
        time.sleep(0.2)


def _start_own_redis(timeout_s: float = 20.0) -> subprocess.Popen[bytes]:
    """Start a private ``redis-server`` (no persistence) on a free port and point :data:`REDIS_URL` at it."""
    global REDIS_URL
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--daemonize", "no"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    REDIS_URL = f"redis://127.0.0.1:{port}/10"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1).ping()
            return proc
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {port} did not start")
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k interactions, 1k with sentiment, 5 kills")
    parser.add_argument("--size", type=int, help="interactions (default 100,000; 20,000 with --quick)")
    parser.add_argument("--sentiment-size", type=int, help="interactions for the sentiment rows (5,000; 1,000)")
    parser.add_argument("--kills", type=int, help="kill -9 cycles in the soak (20; 5 with --quick)")
    parser.add_argument("--own-redis", action="store_true",
                        help="run a redis-server of its own (no persistence) instead of database 10 of the shared one, "
                             "so that it collides with no one else's tests or benchmark on a shared machine")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["baseline", "one", "two", "rabbitmq", "sentiment", "soak"],
                        help="leave these rows out")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the graph server and workers on the way out
    n = args.size or (20_000 if args.quick else 100_000)
    n_sent = args.sentiment_size or (1_000 if args.quick else 5_000)
    kills = args.kills if args.kills is not None else (5 if args.quick else 20)
    own_redis = _start_own_redis() if args.own_redis else None
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
    client.flushdb()
    folder = Path(tempfile.mkdtemp(prefix="agora-bench-pipeline-"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    bench = Bench(folder, n)
    rows: list[tuple[str, int, dict[str, Any]]] = []

    def show(label: str, size: int, r: dict[str, Any]) -> None:
        rows.append((label, size, r))
        print(f"{label:<42} {size:>8,} {r['seconds']:>8.1f} s {size / r['seconds']:>9,.0f}/s  {r['check']}",
              flush=True)

    try:
        print(f"{'run':<42} {'interact.':>8} {'time':>10} {'rate':>11}  graph check", flush=True)
        if "baseline" not in args.skip:
            show("baseline: in-process import (agora import)", bench.n, bench.in_process())
        brokers = [("redis", REDIS_URL)] + ([] if "rabbitmq" in args.skip else [("rabbitmq", RABBITMQ_URL)])
        for name, url in brokers:
            for workers in (1, 2):
                if (workers == 2 and "two" in args.skip) or (workers == 1 and "one" in args.skip):
                    continue
                show(f"{name}, {workers} worker(s), no sentiment", bench.n, bench.through_workers(url, workers))
            if "two" not in args.skip:
                show(f"{name}, 2 worker(s), taking turns to write", bench.n,
                     bench.through_workers(url, 2, serial=True))
        if "sentiment" not in args.skip:
            files, expected, size = bench.source(n_sent, "src-sentiment")
            for name, url in brokers[:1]:
                for workers in (1, 2):
                    show(f"{name}, {workers} worker(s), with sentiment", size,
                         bench.through_workers(url, workers, sentiment=True, files=files, expected=expected))
        if "soak" not in args.skip:
            s = bench.soak(kills)
            print(f"\nsoak: {s['kills']} kill -9 cycles over {bench.n:,} interactions in {s['seconds']:.0f} s: "
                  f"lost {s['lost']}, doubled {s['doubled']}, unexpected {s['extra']}, "
                  f"relationship counts off {s['relationships_off'] or 'none'}; "
                  f"re-sent by the reconciler {s['resent']}", flush=True)
    finally:
        bench.close()
        client.flushdb()
        shutil.rmtree(folder, ignore_errors=True)
        if own_redis is not None:
            own_redis.terminate()
            own_redis.wait(timeout=10)


if __name__ == "__main__":
    main()
