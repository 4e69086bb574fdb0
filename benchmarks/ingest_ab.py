"""Ingest variants side by side on one graph server, interleaved, with server and client CPU.

    .venv/bin/python -m benchmarks.ingest_ab --size 20000 --reps 4 --variants current addr-prop addr-indexed
    .venv/bin/python -m benchmarks.ingest_ab --variants current no-metrics hiperf     # server flags
    .venv/bin/python -m benchmarks.ingest_ab --breakdown --reps 2                     # time per statement
    .venv/bin/python -m benchmarks.ingest_ab --readers --size 100000                  # what ADDRESSES readers pay

On a shared machine absolute rates swing with the neighbours' load; running
the variants round-robin (ABBA) on the same source, after untimed warm-up
runs (the JVM compiles the write path during the first ones), and counting
the graph server's CPU (``/proc/PID/stat``, all its threads) and this
process's CPU besides wall time, keeps the comparison fair. By default the
source is parsed once, before timing (``parse`` is reported alone), so the
rows time :meth:`GraphStore.upsert_interactions` alone; ``--source files``
parses inside the timing as ``benchmarks.pipeline``'s baseline does.

A variant patches :mod:`graph.store` for the duration of its runs
(:func:`variant`), or runs today's code on a server of its own started with
other ArcadeDB settings (:func:`server_variant`). ``addr-prop``,
``addr-indexed``, ``addr-lookup-only`` and ``posted-only`` write a graph
without (some) ADDRESSES edges: the check after each run says MISMATCH for
them by design, and the readers of the graph would need changing to go with
them (``--readers`` measures what that costs them).
"""

from __future__ import annotations

import argparse
import atexit
import collections
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import graph.store as gs
from agora.records import Interaction
from benchmarks.harness import expected_counts, free_port, graph_counts
from benchmarks.synthetic import write_source
from graph.server import EmbeddedServer
from graph.store import connect
from listening.importer import read_path

PER_FILE = 2000
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime, all threads


@contextlib.contextmanager
def _current() -> Iterator[None]:
    yield


VARIANTS: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {"current": _current}
#: Variants that need a graph server of their own: extra JVM flags (``-Darcadedb.x=y``) for it.
SERVER_FLAGS: dict[str, str] = {}


def variant(name: str, jvm: str = "") -> Callable[[Callable[[], Iterator[None]]], Callable[[], Iterator[None]]]:
    def deco(fn: Callable[[], Iterator[None]]) -> Callable[[], Iterator[None]]:
        VARIANTS[name] = contextlib.contextmanager(fn)
        if jvm:
            SERVER_FLAGS[name] = jvm
        return fn
    return deco


def server_variant(name: str, jvm: str) -> None:
    """A variant with today's store code on a server started with ``jvm`` flags."""
    VARIANTS[name] = _current
    SERVER_FLAGS[name] = jvm


@contextlib.contextmanager
def _patched(**attrs: Any) -> Iterator[None]:
    old = {k: getattr(gs, k) for k in attrs}
    for k, v in attrs.items():
        setattr(gs, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(gs, k, v)


_ADDR_LINE = "FOREACH (k IN r.targets | MERGE (b:Account {key: k}) CREATE (m)-[:ADDRESSES]->(b))\n"


@variant("addr-prop")
def _addr_prop() -> Iterator[None]:
    """No ADDRESSES edges: the addressed account keys as a list property ``m.targets``."""
    q = gs._CREATE_MESSAGES.replace(_ADDR_LINE, "").replace("lang: r.lang}", "lang: r.lang, targets: r.targets}")
    assert q != gs._CREATE_MESSAGES
    with _patched(_CREATE_MESSAGES=q):
        yield


#: The store a variant runs against (set before its context is entered), for variants that need schema.
CURRENT: dict[str, gs.GraphStore] = {}


@variant("addr-indexed")
def _addr_indexed() -> Iterator[None]:
    """The first addressed account as an indexed scalar ``m.to``, ADDRESSES edges for any further ones."""
    CURRENT["store"]._write(lambda tx: tx.run(
        "CREATE INDEX message_to IF NOT EXISTS FOR (m:Message) ON (m.to)").consume())
    q = gs._CREATE_MESSAGES.replace(_ADDR_LINE, "FOREACH (k IN r.targets[1..] | MERGE (b:Account {key: k}) "
                                                "CREATE (m)-[:ADDRESSES]->(b))\n")
    q = q.replace("lang: r.lang}", "lang: r.lang, to: r.targets[0]}")
    with _patched(_CREATE_MESSAGES=q):
        yield


@variant("addr-lookup-only")
def _addr_lookup_only() -> Iterator[None]:
    """The addressed accounts looked up (MERGE) as today but no ADDRESSES edge created: lookup vs edge cost."""
    q = gs._CREATE_MESSAGES.replace(_ADDR_LINE, "FOREACH (k IN r.targets | MERGE (b:Account {key: k}))\n")
    assert q != gs._CREATE_MESSAGES
    with _patched(_CREATE_MESSAGES=q):
        yield


@variant("posted-only")
def _posted_only() -> Iterator[None]:
    """Lower bound: the message node and its POSTED edge only (the graph check fails, by design)."""
    q = "\n".join(line for line in gs._CREATE_MESSAGES.splitlines() if not line.startswith("FOREACH"))
    with _patched(_CREATE_MESSAGES=q, _CREATE_PARENT_LINKS="UNWIND $rows AS r RETURN 1"):
        yield


server_variant("no-metrics", "-Darcadedb.serverMetrics=false")
server_variant("hiperf", "-Darcadedb.profile=high-performance")
server_variant("no-slotmerge", "-Darcadedb.txPageSlotMerge=false -Darcadedb.graph.edgeAppendMerge=false")
server_variant("chunk256", "-Darcadedb.graph.edgeListInitialChunkSize=256")
server_variant("no-stale", "-Darcadedb.txStaleReadCheck=false")


_STATEMENTS: collections.Counter[str] = collections.Counter()


def _time_statements() -> None:
    """Time every statement (to its last record) and commit; printed at exit. Uses the driver's internals."""
    from neo4j._sync.work.transaction import TransactionBase

    run, commit = TransactionBase.run, TransactionBase._commit

    def timed_run(self: Any, query: Any, *a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        result = run(self, query, *a, **k)
        result._buffer_all()
        _STATEMENTS[" ".join(str(query).split())[:70]] += time.perf_counter() - t
        return result

    def timed_commit(self: Any, *a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        out = commit(self, *a, **k)
        _STATEMENTS["COMMIT"] += time.perf_counter() - t
        return out

    TransactionBase.run, TransactionBase._commit = timed_run, timed_commit  # type: ignore[method-assign]

    def show() -> None:
        total = sum(_STATEMENTS.values())
        print("\nwall time by statement (all runs, warm-up and clears included):")
        for key, seconds in _STATEMENTS.most_common():
            print(f"  {seconds:8.2f} s {seconds / total * 100:5.1f}%  {key}")

    atexit.register(show)


def _readers(store: gs.GraphStore, parsed: list[list[Interaction]]) -> None:
    """The readers of ADDRESSES on the edges and on a list property ``m.targets`` (both held by one graph)."""
    store.clear()
    for part in parsed:
        store.upsert_interactions(part)
    store._write(lambda tx: tx.run("MATCH (m:Message)-[:ADDRESSES]->(b:Account) WITH m, collect(b.key) AS ks "
                                   "SET m.targets = ks").consume())
    top = store.fetch("MATCH (b:Account)<-[:ADDRESSES]-(m) WITH b, count(m) AS c ORDER BY c DESC LIMIT 1 "
                      "MATCH (b)-[:OF]->(p:Person) RETURN p.id AS id")[0]["id"]
    print(f"{store.count('Message'):,} messages; load {os.getloadavg()}", flush=True)

    def best(label: str, cypher: str, reps: int = 3, **params: Any) -> None:
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            rows = store.fetch(cypher, **params)
            times.append(time.perf_counter() - t)
        print(f"  {min(times) * 1000:9.1f} ms  {label}  {rows[:1]}", flush=True)

    best("received by the most addressed person (explain, alerts), edges",
         "MATCH (:Person {id: $id})<-[:OF]-(:Account)<-[:ADDRESSES]-(m:Message) RETURN count(m) AS n", id=top)
    best("received by the most addressed person, property (a scan of every message)",
         "MATCH (:Person {id: $id})<-[:OF]-(a:Account) MATCH (m:Message) WHERE a.key IN m.targets "
         "RETURN count(m) AS n", id=top)
    best("scoring read (edge_rows without MENTIONS), edges",
         "MATCH (a:Account)-[:POSTED]->(m:Message)-[:ADDRESSES]->(b:Account) "
         "MATCH (a)-[:OF]->(p:Person), (b)-[:OF]->(q:Person) RETURN count(*) AS n", reps=2)
    best("scoring read, property, accounts looked up in Cypher",
         "MATCH (a:Account)-[:POSTED]->(m:Message) WHERE m.targets IS NOT NULL UNWIND m.targets AS k "
         "MATCH (b:Account {key: k}) MATCH (a)-[:OF]->(p:Person), (b)-[:OF]->(q:Person) RETURN count(*) AS n",
         reps=2)
    best("scoring read, property, keys returned (person of each key mapped by the client)",
         "MATCH (a:Account)-[:POSTED]->(m:Message) WHERE m.targets IS NOT NULL MATCH (a)-[:OF]->(p:Person) "
         "RETURN count(m.targets) AS n", reps=2)


def _ingest(store: gs.GraphStore, source: str, parsed: list[list[Interaction]], files: list[Path]) -> None:
    def read(path: Path) -> Iterator[Interaction]:
        return (i for i in read_path(path, "jsonl") if isinstance(i, Interaction))

    if source == "parsed":
        for part in parsed:
            store.upsert_interactions(part)
    elif source == "files":
        for f in files:
            store.upsert_interactions(read(f))
    else:
        store.upsert_interactions(read(files[0].parent))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest_ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=["current"])
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of the first variant first (JIT)")
    parser.add_argument("--source", choices=["parsed", "files", "folder"], default="parsed",
                        help="parsed: the source parsed before timing, one call per file; files: parsed inside "
                             "the timing, one call per file (as benchmarks.pipeline's baseline); folder: one call "
                             "over the whole folder (as `agora import DIR`)")
    parser.add_argument("--no-check", action="store_true", help="skip the graph count check after each run")
    parser.add_argument("--breakdown", action="store_true",
                        help="print the wall time spent in each statement and commit (one writer: ~ server time)")
    parser.add_argument("--readers", action="store_true",
                        help="instead of timing ingest: time the readers of ADDRESSES on edges vs a property")
    args = parser.parse_args(argv)
    if args.breakdown:
        _time_statements()
    folder = Path(tempfile.mkdtemp(prefix="agora-ingest-ab-"))
    flag_sets = sorted({SERVER_FLAGS.get(v, "") for v in args.variants})
    servers = {f: EmbeddedServer(folder / f"graph-{k}", bolt_port=free_port(), http_port=free_port(), heap=args.heap)
               for k, f in enumerate(flag_sets)}
    stores = {}
    try:
        base_env = os.environ.get("ARCADEDB_JVM_ARGS", "")
        for flags, server in servers.items():
            os.environ["ARCADEDB_JVM_ARGS"] = f"{base_env} {flags}".strip()
            server.start(timeout_s=300)
            stores[flags] = connect(server.bolt_uri, "root", server.password(), database=server.database,
                                    batch_size=PER_FILE)
            stores[flags].ensure_schema()
        os.environ["ARCADEDB_JVM_ARGS"] = base_env
        n = args.size
        files = write_source(folder / "src", n, people=max(100, n // 20), files=max(1, n // PER_FILE), seed=1)
        t = time.perf_counter()
        parsed = [[i for i in read_path(f, "jsonl") if isinstance(i, Interaction)] for f in files]
        parse_s = time.perf_counter() - t
        expected = expected_counts([i for p in parsed for i in p])
        if args.readers:
            _readers(next(iter(stores.values())), parsed)
            return
        print(f"load {os.getloadavg()}; {n:,} interactions; parse {parse_s:.2f} s ({n / parse_s:,.0f}/s)", flush=True)
        results: dict[str, list[tuple[float, float, float]]] = {v: [] for v in args.variants}
        for _ in range(args.warmup):  # the JVM compiles the hot paths during the first runs
            for name in args.variants:
                store = CURRENT["store"] = stores[SERVER_FLAGS.get(name, "")]
                store.clear()
                with VARIANTS[name]():
                    _ingest(store, args.source, parsed, files)
        for rep in range(args.reps):
            for name in args.variants if rep % 2 == 0 else args.variants[::-1]:  # ABBA: drift cancels
                flags = SERVER_FLAGS.get(name, "")
                store, spid = stores[flags], servers[flags].status().pid
                CURRENT["store"] = store
                store.clear()
                with VARIANTS[name]():
                    s0, c0, t0 = _cpu(spid), time.process_time(), time.perf_counter()
                    _ingest(store, args.source, parsed, files)
                    wall, client, srv = time.perf_counter() - t0, time.process_time() - c0, _cpu(spid) - s0
                check = ""
                if not args.no_check:
                    got = graph_counts(store, list(expected))
                    want = {k: v for k, v in expected.items() if k in got}
                    extra = {k: got[k] for k in got if k not in expected}
                    check = "exact" if {k: got[k] for k in want} == want else f"MISMATCH {got} != {expected}"
                    if extra:
                        check += f" (+{extra})"
                results[name].append((wall, client, srv))
                print(f"rep {rep} {name:<16} {n / wall:>8,.0f}/s  wall {wall:6.2f} s  server {srv / n * 1e6:6.1f} "
                      f"µs/int  client {client / n * 1e6:6.1f} µs/int  load {os.getloadavg()[0]:.2f}  {check}",
                      flush=True)
        print("\nmedian over reps:")
        for name, rs in results.items():
            wall = statistics.median(r[0] for r in rs)
            server = statistics.median(r[2] for r in rs)
            print(f"  {name:<16} {n / wall:>8,.0f}/s  server {server / n * 1e6:6.1f} µs/int"
                  f"  client {statistics.median(r[1] for r in rs) / n * 1e6:6.1f} µs/int")
    finally:
        for store in stores.values():
            store.close()
        for server in servers.values():
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
