"""Webhook receiver throughput on loopback, with nothing lost: Agora's receiver beside a synchronous one.

    .venv/bin/python -m benchmarks.webhooks                       # 2000 payloads, 32 in flight
    .venv/bin/python -m benchmarks.webhooks -n 5000 --concurrency 64 --duplicates 0.1

Each of ``n`` signed WhatsApp Cloud API payloads carries one distinct message
(a fraction ``--duplicates`` is sent a second time, as Meta's at-least-once
delivery does). Each receiver runs as a uvicorn server in its own process
on 127.0.0.1 and write to the same kind of graph (a fresh embedded ArcadeDB):

* **agora (1 process)**: :func:`api.webhooks.create_webhook_app`: verify the signature,
  append the body to the Redis stream, answer 200; a thread in the same
  process stores the stream into the graph in batches.
* **agora (2 processes)**: the same receiver with ``process=False`` and a
  second process storing the stream (``agora listen --no-process`` beside
  ``agora listen --process-only``), so receiving and storing use both cores.
* **baseline (sync)**: the obvious receiver: verify, map and store the
  payload in the graph inside the request, then answer 200.

Reported: acknowledged requests per second (the figure Meta sees), the time
until the graph holds every message (end to end, "stored/s"), and the check
that the graph holds exactly ``n`` distinct messages with every request
answered 200. Redis traffic uses database 8, in a stream deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import Request  # module level: FastAPI resolves the handler's string annotations here

SECRET = "bench-app-secret"
REDIS_URL = "redis://127.0.0.1:6379/8"


def payload(i: int) -> bytes:
    """One WhatsApp Cloud API notification with one text message, distinct per ``i``."""
    phone = f"39333{i % 1_000_000:07d}"
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": f"Cliente {i}"}, "wa_id": phone}],
            "messages": [{"from": phone, "id": f"wamid.bench{i:08d}", "timestamp": str(1732550400 + i),
                          "type": "text", "text": {"body": f"messaggio numero {i}"}}]}}]}]}).encode()


def serve(mode: str, port: int, bolt_uri: str, password: str, database: str, stream: str) -> None:
    """The server process: ``agora`` or ``sync`` receiver on 127.0.0.1:``port``."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from agora.config import Config
    from api.webhooks import WebhookSecrets, create_webhook_app, sign
    from graph.store import connect
    from listening.connectors.whatsapp import map_payload
    from listening.inbox import Inbox

    store = connect(bolt_uri, "root", password, database=database)
    store.ensure_schema()
    config = Config.model_validate({"listening": {"webhooks": {"redis_url": REDIS_URL, "stream": stream}}})
    if mode == "process":
        import threading

        from listening.inbox import run_processor

        run_processor(Inbox.from_config(config), store, threading.Event())
        return
    if mode in ("agora", "split"):
        app = create_webhook_app(config, inbox=Inbox.from_config(config), store=store, process=mode == "agora",
                                 secrets=WebhookSecrets(whatsapp_app_secret=SECRET))
    else:
        import hmac

        app = FastAPI()

        @app.post("/webhooks/whatsapp")
        async def receive_sync(request: Request) -> Any:
            body = await request.body()
            if not hmac.compare_digest(request.headers.get("x-hub-signature-256", "").encode(), sign(body, SECRET).encode()):
                return JSONResponse({"ok": False}, status_code=403)
            interactions = map_payload(json.loads(body))
            await asyncio.to_thread(store.upsert_interactions, interactions)
            return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def fire(port: int, bodies: list[bytes], concurrency: int) -> tuple[float, int]:
    """Send every body signed, ``concurrency`` at a time; returns (seconds, how many got 200).

    A request refused or failing is not retried: it counts as not acknowledged."""
    import httpx

    from api.webhooks import SIGNATURE_HEADER, sign

    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    ok = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client:
        async def worker() -> None:
            nonlocal ok
            while not queue.empty():
                body = queue.get_nowait()
                r = await client.post("/webhooks/whatsapp", content=body,
                                      headers={SIGNATURE_HEADER: sign(body, SECRET), "Content-Type": "application/json"})
                ok += r.status_code == 200
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, ok


def run_one(mode: str, n: int, duplicates: float, concurrency: int, server: Any, free_port: Any) -> dict[str, Any]:
    import httpx
    import redis

    from graph.store import connect

    store = connect(server.bolt_uri, "root", server.password(), database=server.database)
    store.ensure_schema()
    store.clear()
    stream = f"agora:bench:{uuid.uuid4().hex}"
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.webhooks", "--serve", "{}", str(port), server.bolt_uri, server.password(),
            server.database, stream]
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([a.format(mode) for a in argv], cwd=root)
    # split: the receiver only queues; a second process (`agora listen --process-only`) stores
    processor = subprocess.Popen([a.format("process") for a in argv], cwd=root) if mode == "split" else None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(f"http://127.0.0.1:{port}/webhooks/whatsapp", content=b"{}", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{mode} server did not start")
                time.sleep(0.2)
        bodies = [payload(i) for i in range(n)]
        bodies += bodies[: int(n * duplicates)]
        started = time.perf_counter()
        seconds, ok = asyncio.run(fire(port, bodies, concurrency))
        # wait until every message is stored, or nothing more arrived for 15 s (a receiver that failed requests)
        last, last_change = -1, time.monotonic()
        while (count := store.count("Message", stored_only=True)) < n and time.monotonic() - last_change < 15:
            if count != last:
                last, last_change = count, time.monotonic()
                e2e = time.perf_counter() - started
            time.sleep(0.05)
        if count >= n:
            e2e = time.perf_counter() - started
        time.sleep(1.0)  # anything late (a duplicate stored twice would show here)
        stored = store.count("Message", stored_only=True)
    finally:
        for p in (proc, processor):
            if p is not None:
                p.terminate()
                p.wait(timeout=30)
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(stream, f"{stream}:dead")
        client.close()
        store.close()
    return {"mode": mode, "requests": len(bodies), "acked": ok, "ack_s": seconds, "distinct_stored": stored,
            "expected": n, "lost": n - stored, "e2e_s": e2e}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="distinct payloads (default 2000)")
    parser.add_argument("--duplicates", type=float, default=0.1, help="fraction sent twice (default 0.1)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--serve", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        mode, port, uri, password, database, stream = args.serve
        serve(mode, int(port), uri, password, database, stream)
        return
    from graph.server import EmbeddedServer
    from tests.conftest import free_port

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp), bolt_port=free_port(), http_port=free_port())
        server.start(timeout_s=120)
        try:
            rows = []
            for mode in ("agora", "split", "sync"):
                rows.append(run_one(mode, args.n, args.duplicates, args.concurrency, server, free_port))
        finally:
            server.stop()
    print(f"{'receiver':<20}{'requests':>9}{'acked':>7}{'ack req/s':>11}{'stored':>8}{'lost':>6}{'all stored s':>14}"
          f"{'stored req/s':>14}")
    for r in rows:
        name = {"agora": "agora (1 process)", "split": "agora (2 processes)", "sync": "baseline (sync)"}[r["mode"]]
        print(f"{name:<20}{r['requests']:>9}{r['acked']:>7}{r['requests'] / r['ack_s']:>11.0f}{r['distinct_stored']:>8}"
              f"{r['lost']:>6}{r['e2e_s']:>14.1f}{r['requests'] / r['e2e_s']:>14.0f}")
    print(f"(n={args.n} distinct, {args.duplicates:.0%} redelivered, {args.concurrency} in flight, loopback, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; 'all stored' runs from the first request "
          "until the graph holds all n)")
    if any(r["lost"] or r["acked"] != r["requests"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
