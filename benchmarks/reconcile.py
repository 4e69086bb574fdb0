"""Imports lost in Redis's BRPOP window, without and with the reconciler (:mod:`workers.reconcile`).

    .venv/bin/python -m benchmarks.reconcile              # 20k interactions (10 files), 3 messages lost
    .venv/bin/python -m benchmarks.reconcile --pops 5 --size 40000

One ``agora worker`` imports a synthetic source (one ``agora.ingest_path`` task
per file of 2,000 interactions) on real services: a graph server of its own
(the embedded ArcadeDB over Bolt) and a private ``redis-server`` as broker and
result backend (nothing shared is touched). While it runs, ``--pops`` task
messages are taken off the queue list at even steps of the import, exactly
what the ``BRPOP`` of a worker killed before kombu records the message in
``unacked`` does. Two rows, same source, same pops:

* **baseline**: the tasks are sent without the ledger (Celery's own send, as
  before the reconciler), so the popped imports are gone: after the others are
  done it waits as long as the reconciler would need, then counts.
* **reconciler**: the tasks are sent as Agora sends them (recorded in the
  ledger); the worker's sweeper re-sends the lost ones.

Each row prints the interactions lost and doubled against the source (from the
graph), the re-sends, and the seconds until the graph was complete (or the wait
ran out: the baseline's popped imports never come). The Redis visibility
timeout is 24 s (time limit 20 s), so a lost import is looked for 29 s after
it was sent, by a sweep every 6 s, and re-sent 2 s later. An in-process import
of the same source runs first (it warms the graph server up, so a cold first
batch does not run into the time limit).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis
from kombu.utils.json import loads

from agora.config import load_config
from benchmarks.harness import PrivateRedis, start_worker, write_config
from benchmarks.pipeline import PER_FILE, Bench, _ready
from workers import reconcile
from workers.app import make_app

TIME_LIMIT_S, VISIBILITY_S = 20, 24


def run(bench: Bench, broker: PrivateRedis, pops: int, *, ledgered: bool) -> dict[str, Any]:
    """Import the bench's source with ``pops`` messages taken off the queue mid-import; lost/doubled counts."""
    bench.store.clear()
    client = redis.Redis.from_url(broker.url, socket_timeout=10)
    client.flushdb()
    config_path = write_config(bench.folder / f"cfg-{uuid.uuid4().hex[:6]}", graph_uri=bench.server.bolt_uri,
                               database=bench.server.database, broker=broker.url, backend=broker.url,
                               batch_size=PER_FILE, task_time_limit_s=TIME_LIMIT_S, visibility_timeout_s=VISIBILITY_S)
    app = make_app(load_config(config_path, environ={}))
    if not ledgered:
        app.amqp_cls = "celery.app.amqp:AMQP"  # Celery's own send: nothing recorded
    settings = reconcile.settings_for(app)
    queue = f"reconcile-bench-{uuid.uuid4().hex[:8]}"
    log = bench.folder / f"{queue}.log"
    worker = start_worker(config_path, bench.server.password(), queue, log)
    popped: list[str] = []
    try:
        _ready([worker])
        started = time.perf_counter()
        results = [app.signature("agora.ingest_path", args=(str(f), "jsonl"), options={"queue": queue})
                   .apply_async() for f in bench.files]
        # even steps over what the worker will import (the popped files are not), so the queue still holds some
        steps = [(bench.n - pops * PER_FILE) * (k + 1) // (pops + 1) for k in range(pops)]
        for step in steps:  # pop the next message to be consumed once the import has reached each step
            while bench.stored() < step and client.llen(queue):
                time.sleep(0.05)
            raw = client.rpop(queue)
            if raw is not None:
                popped.append(loads(raw)["headers"]["id"])
        # the others, then as long as the reconciler needs for a lost one (its age, a sweep, the confirmation)
        others = [r for r in results if r.id not in popped]
        patience = settings.min_age_s + settings.interval_s + settings.confirm_s + 30
        for wanted, wait_s in ((others, 600.0), (results, patience)):
            deadline = time.monotonic() + wait_s
            while not all(r.ready() for r in wanted) and time.monotonic() < deadline:
                if not worker.alive():
                    raise RuntimeError(worker.tail())
                time.sleep(0.2)
        seconds = time.perf_counter() - started
    finally:
        worker.stop()
    ids = {r["id"] for r in bench.store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN m.id AS id")}
    stored = bench.stored()
    source = {f"synth:m{i}" for i in range(bench.n)}
    left = client.keys("agora:reconcile:*")
    client.close()
    return {"popped": len(popped), "lost": len(source - ids), "doubled": stored - len(ids),
            "resent": log.read_text(encoding="utf-8", errors="replace").count("lost by the broker"),
            "complete": all(r.ready() for r in results), "seconds": seconds,
            "failed": [f"{r.id[:8]}: {r.result!r}" for r in results if r.failed()],
            "never_done": [r.id[:8] + ("" if r.id in popped else " (not popped)") for r in results if not r.ready()],
            "exact": bench.exact(bench.expected),
            "ledger_left": sorted(k.decode() for k in left if k != b"agora:reconcile:dead")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reconcile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20_000, help="interactions (files of 2,000)")
    parser.add_argument("--pops", type=int, default=3, help="messages taken off the queue mid-import")
    args = parser.parse_args(argv)
    if args.pops * PER_FILE >= args.size:
        parser.error(f"--pops must leave files to import: at most {args.size // PER_FILE - 1} for --size {args.size}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    folder = Path(tempfile.mkdtemp(prefix="agora-bench-reconcile-"))
    broker = PrivateRedis(folder / "redis")
    broker.start()
    bench = Bench(folder, args.size)
    try:
        print(f"{args.size:,} interactions in {len(bench.files)} files, {args.pops} messages popped mid-import "
              f"(load {os.getloadavg()[0]:.2f})", flush=True)
        print(f"{'run':<28} {'popped':>6} {'lost':>7} {'doubled':>7} {'re-sent':>7} {'time':>8}  graph", flush=True)
        warm = bench.in_process()
        print(f"{'in-process import (warm-up)':<28} {'':>6} {'':>7} {'':>7} {'':>7} {warm['seconds']:>7.1f}s  "
              f"{warm['check'][:40]}", flush=True)
        for label, ledgered in (("baseline: no ledger", False), ("reconciler", True)):
            r = run(bench, broker, args.pops, ledgered=ledgered)
            print(f"{label:<28} {r['popped']:>6} {r['lost']:>7,} {r['doubled']:>7,} {r['resent']:>7} "
                  f"{r['seconds']:>7.1f}s  {r['exact'][:40]}"
                  f"{'; ledger left: ' + ', '.join(r['ledger_left']) if r['ledger_left'] else ''}"
                  f"{'; failed: ' + ', '.join(r['failed']) if r['failed'] else ''}"
                  f"{'; never done: ' + ', '.join(r['never_done']) if r['never_done'] else ''}", flush=True)
        print(f"(load {os.getloadavg()[0]:.2f})", flush=True)
    finally:
        bench.close()
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
