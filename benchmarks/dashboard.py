"""Dashboard page load time in headless Chromium, with the sample and with 10,000 people.

    .venv/bin/python -m benchmarks.dashboard                       # 240 and 10,000 people
    .venv/bin/python -m benchmarks.dashboard --people 240 --repeat 5
    .venv/bin/python -m benchmarks.dashboard --url http://127.0.0.1:8000 --key KEY   # a running `agora serve`

For each size it starts its own embedded graph server (a temporary folder,
free ports), fills it with the generated sample community
(:func:`api.demo_data.fill_sample_graph`: import, seeded sentiment, scoring,
alerts), serves the app with uvicorn and opens each dashboard page in Debian's
Chromium (``/usr/bin/chromium`` through playwright). A page's time runs from
navigation start to the moment its data is drawn (``performance.now()`` when
the page sets ``<body data-ready>``); the first load and the median of
``--repeat`` loads are shown (the API caches its aggregate reads for 30 s).

Beyond 2,000 people the graph comes from :mod:`benchmarks.synthetic`
(planted communities of ~100 people, 4 interactions a person) instead: the
sample generator slows down superlinearly at that size.

Baseline, measured in the same run: the map unaggregated, drawing every
person (``#/map/all``, up to the API's cap of 5,000) instead of the top
``api.map_people`` (300).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

PAGES = [("map", "map (top 300 people)"), ("map/all", "baseline: map, every person (cap 5,000)"),
         ("influencers", "influencer table"), ("trends", "sentiment trends"), ("alerts", "alert feed"),
         ("person", "person page")]
KEY = "bench-key"
SAMPLE_MAX = 2000  # beyond this many people: planted communities instead of the sample generator
SYNTHETIC_PER_PERSON = 4
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_pages(url: str, key: str, top: str, repeat: int, shots: Path, prefix: str) -> dict[str, float]:
    """Median time from navigation start to data drawn of each page of the dashboard at ``url``, in ms."""
    from playwright.sync_api import sync_playwright

    results: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/dashboard/?key={key}#/alerts")  # signs in, warms the server
        page.wait_for_selector("body[data-ready]", timeout=120_000)
        for route, _ in PAGES:
            target = f"person/{top}" if route == "person" else route
            times = []
            for _ in range(repeat):
                page.goto("about:blank")
                page.goto(f"{url}/dashboard/#/{target}")
                page.wait_for_selector("body[data-ready]", timeout=300_000)
                times.append(page.evaluate("window.agoraReadyAt"))
            results[route] = statistics.median(times)
            results[route + " cold"] = times[0]  # the first load fills the API's 30 s cache of aggregates
            page.screenshot(path=str(shots / f"{prefix}-{route.replace('/', '-')}.png"), full_page=True)
        browser.close()
    return results


def fill_synthetic(store, config, people: int, n: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Planted communities of ~100 people (:mod:`benchmarks.synthetic`), stored as interactions,
    with seeded sentiment, scored, alerts raised. The sample generator grows superlinearly
    beyond a few thousand people; this does not."""
    from datetime import timedelta

    from agora.pipeline import rescore
    from agora.records import AccountRef, Interaction, Kind, Sentiment
    from alerts.engine import evaluate, snapshot
    from api.demo_data import seeded_polarity
    from benchmarks.synthetic import interactions

    events = list(interactions(n, people, seed=3))
    newest = max(e.timestamp for e in events)

    def account(pid: str) -> AccountRef:
        return AccountRef("tw", pid, f"user_{pid[1:]}")

    def records():  # type: ignore[no-untyped-def]
        for e in events:
            kind = Kind(e.kind)
            target = (account(e.target),)
            yield Interaction(f"tw:{e.message_id}", "tw", kind, account(e.source), e.timestamp,
                              f"{kind.value} {e.message_id} to @user_{e.target[1:]}",
                              targets=() if kind is Kind.MENTION else target,
                              mentions=target if kind is Kind.MENTION else ())
    store.upsert_interactions(records())
    week_ago = newest - timedelta(days=7)
    results = []
    for e in events:
        p = seeded_polarity(e.message_id, e.timestamp > week_ago)
        results.append((f"tw:{e.message_id}", Sentiment("positive" if p > 0.2 else "negative" if p < -0.2 else "neutral",
                                                        0.9, p)))
    store.set_sentiments(results, model="seeded-rule")
    before = snapshot(store)
    rescore(store, config)
    return {"interactions": n, "alerts": len(evaluate(store, config, before))}


def measure(people: int, scale: float, repeat: int, shots: Path) -> dict[str, float]:
    import uvicorn

    from agora.config import load_config
    from api.app import create_app
    from api.auth import hash_key
    from api.demo_data import fill_sample_graph
    from graph.server import EmbeddedServer
    from graph.store import connect

    work = Path(tempfile.mkdtemp(prefix=f"agora-bench-{people}-"))
    server = EmbeddedServer(work / "graph", bolt_port=_free_port(), http_port=_free_port(), heap="2g")
    server.start(timeout_s=180)
    try:
        cfg_path = work / "config.yaml"
        cfg_path.write_text(f"graph:\n  uri: {server.bolt_uri}\n  database: {server.database}\n"
                            f"api:\n  keys_sha256: [{hash_key(KEY)}]\n")
        config = load_config(cfg_path, environ={"AGORA_GRAPH__PASSWORD": server.password()})
        t0 = time.perf_counter()
        with connect(server.bolt_uri, "root", server.password(), database=server.database) as store:
            store.ensure_schema()
            if people <= SAMPLE_MAX:
                filled = fill_sample_graph(store, config, work / "sample", people=people, scale=scale)
            else:
                filled = fill_synthetic(store, config, people, people * SYNTHETIC_PER_PERSON)
            total_people = store.count("Person")
            top = store.fetch("MATCH (p:Person) WHERE p.influence IS NOT NULL AND coalesce(p.brand, false) = false "
                              "RETURN p.id AS id ORDER BY p.influence DESC LIMIT 1")[0]["id"]
        print(f"  {people} people asked: {total_people} people, {filled['interactions']} interactions, "
              f"{filled['alerts']} alerts; graph filled in {time.perf_counter() - t0:.0f} s", flush=True)
        port = _free_port()
        web = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=web.run, daemon=True)
        thread.start()
        while not web.started:
            time.sleep(0.05)
        results = load_pages(f"http://127.0.0.1:{port}", KEY, top, repeat, shots, str(people))
        web.should_exit = True
        thread.join(timeout=15)
        return results
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[240, 10_000])
    parser.add_argument("--scale", type=float, default=0.5, help="Sample talkativeness (1.0: ~12 interactions a person).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "agora-bench-shots")
    parser.add_argument("--url", help="Measure a running `agora serve` instead (e.g. after `agora run`); needs --key.")
    parser.add_argument("--key", help="An API key of that server.")
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    if args.url:
        import httpx

        top = httpx.get(f"{args.url}/api/people?limit=1", headers={"X-API-Key": args.key}).json()["items"][0]["id"]
        times = load_pages(args.url.rstrip("/"), args.key, top, args.repeat, args.shots, "served")
        print(f"page load at {args.url}, navigation start to data drawn (median of {args.repeat}, ms); "
              f"screenshots in {args.shots}")
        for route, label in PAGES:
            print(f"{label:<44}{times[route + ' cold']:>8.0f} / {times[route]:>6.0f}   "
                  f"{args.shots / ('served-' + route.replace('/', '-') + '.png')}")
        return
    table = {}
    for n in args.people:
        print(f"filling and measuring {n} people ...", flush=True)
        table[n] = measure(n, args.scale, args.repeat, args.shots)
    print(f"\npage load, navigation start to data drawn (median of {args.repeat}, ms); screenshots in {args.shots}")
    print(f"{'page':<44}" + "".join(f"{f'{n} people':>22}" for n in args.people))
    print(f"{'':<44}" + "".join(f"{'first load / median':>22}" for _ in args.people))
    for route, label in PAGES:
        print(f"{label:<44}" + "".join(f"{table[n][route + ' cold']:>13.0f} / {table[n][route]:>6.0f}"
                                       for n in args.people))


if __name__ == "__main__":
    main()
