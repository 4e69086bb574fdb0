"""Alert latency: from a message arriving to its alert reaching a webhook receiver.

    .venv/bin/python -m benchmarks.alerts                       # 100 messages/s for 20 s, both paths
    .venv/bin/python -m benchmarks.alerts --rate 100 --seconds 30 --json

What is timed, per alert: a message is handed to the entry point (the time
of arrival), it is mapped to an ``Interaction`` (:func:`listening.formats.generic.map_row`,
what a webhook receiver does with a payload), stored, classified by the
bundled sentiment model, the alert rules are evaluated, and the alert is
POSTed, HMAC-signed, by the webhook notifier to a local HTTP server (the time
of receipt, after the signature is checked). Messages arrive at ``--rate``
per second from a producer thread on a fixed schedule; the pipeline takes
whatever has arrived as one batch (micro-batching), so a slow step shows up as
bigger batches and longer waits, not as dropped messages.

The graph is seeded with ``--people`` people in communities of 100 and
about 8 interactions each over the previous 30 days, classified and scored.
One in twenty streamed messages (``--alerting-share``) are negative replies
by distinct influential people, each of which must raise one
``influencer_negative`` alert (window 1 day, one message); the rest are
ordinary chatter. Every enabled rule is evaluated on every batch.

Two paths, on the same graph and stream shape, one after the other:

* ``incremental`` (Agora's): ingest → classify → evaluate → notify per batch;
  influence scores are those of the last rescore (rescores run on their own
  schedule, ``workers.rescore_interval_s``);
* ``rescore-per-batch`` (the baseline): the same with a full rescore before
  every evaluation, i.e. evaluating alerts only as the last step of the
  ingest → classify → rescore chain.

Besides the end-to-end figures it prints the alert engine's share: from the
batch being stored and classified (and rescored) to the alert being received,
i.e. evaluating every rule, storing the alert and delivering it.

The entry point is :class:`InProcessEntry`; when the webhook receiver
(``api/webhooks.py``) lands, an entry that POSTs the same payloads to it can
be passed to :func:`run_path` instead, and nothing else changes.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import yaml

SECRET_ENV = "AGORA_BENCH_WEBHOOK_SECRET"
COMMUNITY = 100
# Texts the bundled model reads clearly (negative ones at polarity <= -0.9, chatter at >= -0.2).
NEGATIVE = ["Terrible service again, my order is late and nobody answers. Really disappointed.",
            "Il caffè è arrivato rotto e nessuno risponde. Vergognoso, non compro più.",
            "Worst experience ever, the app keeps failing and support ignores me. Awful."]
CHATTER = ["Ordered the new blend today, let's see.", "Grazie per la risposta veloce!",
           "What grind do you use for the moka?", "Buongiorno a tutti!"]


class Entry(Protocol):
    """Where a raw message payload (a generic JSON record) is handed in."""

    def submit(self, payload: dict[str, Any]) -> None: ...


class InProcessEntry:
    """Maps each payload to an ``Interaction`` and queues it for the pipeline loop."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[Any] = queue.Queue()

    def submit(self, payload: dict[str, Any]) -> None:
        from listening.formats.generic import map_row

        self.inbox.put(map_row(payload, source="bench"))


class Receiver:
    """A webhook receiver on 127.0.0.1: checks the signature and notes when each alert arrived."""

    def __init__(self, secret: bytes) -> None:
        self.arrivals: dict[str, tuple[float, dict[str, Any]]] = {}
        self.bad = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                from alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = time.time()
                if verify_signature(secret, body, self.headers.get(SIGNATURE_HEADER),
                                    self.headers.get(TIMESTAMP_HEADER)):
                    alert = json.loads(body)["alert"]
                    receiver.arrivals.setdefault(alert["id"], (at, alert))
                    self.send_response(204)
                else:
                    receiver.bad += 1
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/agora"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


_QUERIES: dict[str, tuple[int, float]] = {}


def _profile(store: Any) -> None:
    """Wrap the store's reads and writes to add up the time spent per query text."""
    def timed(fun: Callable[..., Any], key: Callable[..., str]) -> Callable[..., Any]:
        def inner(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fun(*a, **kw)
            finally:
                k = key(*a, **kw)
                n, took = _QUERIES.get(k, (0, 0.0))
                _QUERIES[k] = (n + 1, took + time.perf_counter() - t0)
        return inner

    store.fetch = timed(store.fetch, lambda cypher, **_: " ".join(cypher.split())[:90])
    store._write = timed(store._write, lambda work: getattr(work, "__qualname__", "write")[:90])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed_graph(store: Any, config: Any, people: int, now: datetime, rng: random.Random) -> list[str]:
    """Communities of 100 with a few clear leaders each, 30 days of replies with sentiment; scored.
    Returns the influential people (community percentile >= 90), shuffled."""
    from agora.pipeline import rescore
    from agora.records import AccountRef, Interaction, Kind, Sentiment

    accounts = [AccountRef("bench", f"u{i}", f"User {i}") for i in range(people)]
    items, polarity = [], {}
    for i, actor in enumerate(accounts):
        base = (i // COMMUNITY) * COMMUNITY
        size = min(COMMUNITY, people - base)
        for k in range(8):
            # Replies favour the first members of each community: they become its leaders.
            j = base + min(int(rng.paretovariate(1.2)) - 1, size - 1) if rng.random() < 0.6 else base + rng.randrange(size)
            if rng.random() < 0.05:
                j = rng.randrange(people)
            if j == i:
                continue
            mid = f"bench:s{i}-{k}"
            ts = now - timedelta(days=2 + rng.random() * 28)
            items.append(Interaction(mid, "bench", Kind.REPLY, actor, ts, rng.choice(CHATTER), targets=(accounts[j],)))
            polarity[mid] = rng.uniform(-0.2, 0.6)
    store.upsert_interactions(items)
    store.set_sentiments([(m, Sentiment("positive" if p > 0 else "negative", 0.9, p)) for m, p in polarity.items()],
                         model="seed")
    rescore(store, config)
    rows = store.fetch("MATCH (p:Person) WHERE p.community_influence >= 90 RETURN p.id AS id ORDER BY id")
    ids = [r["id"] for r in rows]
    rng.shuffle(ids)
    return ids


def run_path(name: str, store: Any, config: Any, model: Any, entry: InProcessEntry, receiver: Receiver,
             influencers: list[str], all_influential: list[str], people: int, *, rate: float, seconds: float, alerting_share: float,
             rescore_each_batch: bool, rng: random.Random) -> dict[str, Any]:
    """Stream ``rate * seconds`` messages through the pipeline; return latency figures for this path."""
    from agora.pipeline import classify_pending, rescore
    from alerts.delivery import Dispatcher, build_notifiers
    from alerts.engine import evaluate, snapshot

    total = int(rate * seconds)
    every = max(1, round(1 / alerting_share))
    arrived: dict[str, float] = {}
    expected: set[str] = set()
    done = threading.Event()

    # Chatter comes from people who are not influential: a cheerful message by an influencer
    # in the same window would (rightly) lift their mean above the alert threshold.
    ordinary = sorted({f"bench:u{i}" for i in range(people)} - set(all_influential))

    def produce() -> None:
        start = time.perf_counter()
        pool = iter(influencers)
        for n in range(total):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            mid = f"{name}-{n}"
            if n % every == 0:
                person = next(pool)
                text = rng.choice(NEGATIVE)
                expected.add(f"bench:{mid}")
            else:
                person = rng.choice(ordinary)
                text = rng.choice(CHATTER)
            actor = person.split(":", 1)[1]
            target = f"u{rng.randrange(people)}"
            payload = {"id": mid, "platform": "bench", "kind": "reply", "actor": actor, "target": target,
                       "timestamp": datetime.now(timezone.utc).isoformat(), "text": text}
            arrived[f"bench:{mid}"] = time.time()
            entry.submit(payload)
        done.set()

    dispatcher = Dispatcher(store, build_notifiers(config.alerts), threads=config.alerts.delivery_threads)
    producer = threading.Thread(target=produce, daemon=True)
    batches: list[int] = []
    step_s: list[float] = []
    stages: dict[str, float] = {}
    picked: dict[str, float] = {}   # message id -> its batch started (the wait before it is queueing)
    ready: dict[str, float] = {}    # message id -> stored, classified (and rescored): the alert engine's start
    producer.start()
    while not (done.is_set() and entry.inbox.empty()):
        try:
            batch = [entry.inbox.get(timeout=0.05)]
        except queue.Empty:
            continue
        while True:
            try:
                batch.append(entry.inbox.get_nowait())
            except queue.Empty:
                break
        t0 = time.perf_counter()
        started = time.time()
        store.upsert_interactions(batch)
        t1 = time.perf_counter()
        classify_pending(store, config, model=model)
        t2 = time.perf_counter()
        before = None
        if rescore_each_batch:
            before = snapshot(store)
            rescore(store, config)
        t3 = time.perf_counter()
        scored_at = time.time()
        for item in batch:
            picked[item.id] = started
            ready[item.id] = scored_at
        dispatcher.submit(evaluate(store, config, before))
        t4 = time.perf_counter()
        for stage, took in zip(("store", "classify", "rescore", "evaluate"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            stages[stage] = stages.get(stage, 0.0) + took
        batches.append(len(batch))
        step_s.append(t4 - t0)
    dispatcher.close()
    time.sleep(0.2)

    latencies, engine, waits = [], [], []
    for at, alert in receiver.arrivals.values():
        if alert["rule"] != "influencer_negative":
            continue
        causes = [e["message_id"] for e in alert["evidence"] if e["message_id"] in expected]
        if causes:
            cause = min(causes, key=lambda m: arrived[m])
            latencies.append(at - arrived[cause])
            engine.append(at - ready[cause])
            waits.append(picked[cause] - arrived[cause])
    latencies.sort()
    engine.sort()
    waits.sort()
    return {
        "path": name, "messages": total, "rate_per_s": rate, "alerting_messages": len(expected),
        "alerts_timed": len(latencies),
        "p50_s": round(_pct(latencies, 50), 3), "p95_s": round(_pct(latencies, 95), 3),
        "max_s": round(latencies[-1], 3) if latencies else None,
        "queue_wait_p50_s": round(_pct(waits, 50), 3),
        "alert_engine_p50_s": round(_pct(engine, 50), 3), "alert_engine_p95_s": round(_pct(engine, 95), 3),
        "batches": len(batches), "mean_batch": round(statistics.mean(batches), 1) if batches else 0,
        "mean_step_s": round(statistics.mean(step_s), 3) if step_s else 0,
        "stage_mean_s": {k: round(v / max(1, len(batches)), 3) for k, v in stages.items()},
    }


def _pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (nan when empty)."""
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.alerts", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second (default 100)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each path's stream (default 20)")
    parser.add_argument("--people", type=int, default=4000, help="people in the seeded graph (default 4000)")
    parser.add_argument("--alerting-share", type=float, default=0.05,
                        help="share of messages that must raise an alert (default 0.05)")
    parser.add_argument("--paths", default="incremental,rescore-per-batch", help="which paths to run, in order")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", action="store_true", help="also print the time spent in each graph query")
    args = parser.parse_args(argv)

    from agora.config import load_config
    from alerts.history import ensure_schema
    from graph.server import EmbeddedServer
    from graph.store import connect
    from nlp.sentiment import load_model

    rng = random.Random(args.seed)
    secret = os.urandom(16).hex()
    os.environ[SECRET_ENV] = secret
    receiver = Receiver(secret.encode())
    work = Path(tempfile.mkdtemp(prefix="agora-bench-alerts-"))
    server = EmbeddedServer(work / "graph", bolt_port=_free_port(), http_port=_free_port())
    server.start(timeout_s=180)
    results = []
    try:
        cfg_path = work / "config.yaml"
        cfg_path.write_text(yaml.safe_dump({
            "graph": {"uri": server.bolt_uri, "database": server.database},
            "alerts": {"influencer_negative": {"window_days": 1, "min_messages": 1, "min_influence": None},
                       "notifiers": [{"type": "webhook", "url": receiver.url, "secret_env": SECRET_ENV,
                                      "retries": 2, "backoff_s": 0.2, "timeout_s": 5}]},
        }))
        config = load_config(cfg_path, environ={**os.environ, "AGORA_GRAPH__PASSWORD": server.password()})
        store = connect(server.bolt_uri, "root", server.password(), database=server.database)
        if args.profile:
            _profile(store)
        store.ensure_schema()
        ensure_schema(store)
        t0 = time.perf_counter()
        influencers = seed_graph(store, config, args.people, datetime.now(timezone.utc), rng)
        seeded_s = time.perf_counter() - t0
        model = load_model(config.nlp.model, batch_size=config.nlp.batch_size, max_length=config.nlp.max_length)
        model.classify(["warm up", "riscaldamento"])
        paths = [p.strip() for p in args.paths.split(",") if p.strip()]
        per_path = int(args.rate * args.seconds / max(1, round(1 / args.alerting_share))) + 1
        if per_path * len(paths) > len(influencers):
            parser.error(f"{len(influencers)} influential people cannot raise {per_path} alerts on each of "
                         f"{len(paths)} paths: raise --people or lower --seconds")
        for i, name in enumerate(paths):
            results.append(run_path(name, store, config, model, InProcessEntry(), receiver,
                                    influencers[i * per_path:(i + 1) * per_path], influencers, args.people,
                                    rate=args.rate,
                                    seconds=args.seconds, alerting_share=args.alerting_share,
                                    rescore_each_batch=(name == "rescore-per-batch"), rng=rng))
        store.close()
    finally:
        load = os.getloadavg()
        server.stop()
        receiver.close()
    if args.profile:
        for query, (n, took) in sorted(_QUERIES.items(), key=lambda kv: -kv[1][1])[:12]:
            print(f"{took:8.2f} s {n:6d} x  {query}")
    if args.json:
        print(json.dumps({"people": args.people, "seed_s": round(seeded_s, 1), "load_average": load,
                          "results": results}, indent=2))
        return
    print(f"alert latency, message arriving -> alert received by a local webhook; {args.rate:g} messages/s for "
          f"{args.seconds:g} s per path; graph of {args.people} people (seeded and scored in {seeded_s:.0f} s); "
          f"load average {load[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'path':<20}{'alerts':>8}{'p50 s':>8}{'p95 s':>8}{'max s':>8}{'engine p50/p95 s':>18}{'batches':>9}"
          f"{'batch':>7}{'step s':>8}")
    for r in results:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stage_mean_s"].items())
        print(f"{r['path']:<20}{r['alerts_timed']:>4}/{r['alerting_messages']:<3}{r['p50_s']:>8.2f}{r['p95_s']:>8.2f}"
              f"{(r['max_s'] or float('nan')):>8.2f}{r['alert_engine_p50_s']:>10.2f}/{r['alert_engine_p95_s']:<7.2f}"
              f"{r['batches']:>9}{r['mean_batch']:>7.1f}{r['mean_step_s']:>8.2f}   ({stages})")
    print("p50/p95/max: message arriving -> alert received; engine: message stored and classified (and rescored) "
          "-> alert received; step: one batch through store, classify, (rescore,) evaluate, mean per stage")
    goal = next((r for r in results if r["path"] == "incremental"), None)
    if goal is not None:
        print(f"goal p95 <= 2 s: {'met' if goal['p95_s'] <= 2 else 'NOT met'} ({goal['p95_s']:.2f} s)")


if __name__ == "__main__":
    main()
