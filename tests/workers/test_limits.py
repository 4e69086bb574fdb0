"""Shared rate-limit budgets and crawl locks on the real Redis, with processes contending for them.

Redis traffic stays in database :data:`REDIS_DB` (flushed before and after).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from agora.config import load_config
from benchmarks.harness import REPO, start_worker, wait_results, write_config
from graph.server import EmbeddedServer
from graph.store import GraphStore
from tests.workers import fake_connector
from listening.connectors import cursor_key
from workers.app import CRAWL_TASK, make_app
from workers.crawl import crawl_once
from workers.limits import BudgetExhausted, RateBudget, budget_key, crawl_lock

REDIS_DB = 11
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
TOTAL = fake_connector.PAGES * fake_connector.PER_PAGE

_CONTEND = """
import sys, time, redis
from workers.limits import RateBudget
client = redis.Redis.from_url(sys.argv[1], socket_timeout=10)
budget = RateBudget(client, "contended", requests=10, per_s=1.0)
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
granted = 0
while time.time() < start + 1.5:
    if budget.try_take() == 0.0:
        granted += 1
print(granted)
"""


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
    c.flushdb()
    yield c
    c.flushdb()
    c.close()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update({"PYTHONPATH": str(REPO), **extra})
    return env


def test_budget_is_shared_by_processes(client: redis.Redis) -> None:
    """Two processes spending one budget (10 per second, burst 10) for 1.5 s get ~25 grants together, not 50."""
    start = time.time() + 1.0
    procs = [subprocess.Popen([sys.executable, "-c", _CONTEND, REDIS_URL, str(start)], cwd=REPO, env=_env(),
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    granted = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert 10 + 15 - 2 <= sum(granted) <= 10 + 15 + 1, granted  # burst + 1.5 s of refill, across both
    assert all(g > 0 for g in granted), granted  # both really contended


def test_budget_waits_then_gives_up(client: redis.Redis) -> None:
    budget = RateBudget(client, "slow", requests=2, per_s=1.0)
    assert budget.take() == 0.0 and budget.take() == 0.0  # the burst
    waited = budget.take(max_wait_s=2)
    assert 0.3 < waited <= 0.6  # one token every 0.5 s
    with pytest.raises(BudgetExhausted, match="'slow' exhausted; next request in"):
        budget.take(n=2, max_wait_s=0.1)
    assert client.ttl(budget_key("slow")) > 0  # an idle budget does not stay in Redis forever
    with pytest.raises(ValueError, match="requests must be >= 1"):
        RateBudget(client, "bad", requests=0, per_s=1.0)


def test_crawl_lock_is_exclusive_and_leased(client: redis.Redis) -> None:
    first = crawl_lock(client, "s", lease_s=0.5)
    assert first.acquire()
    assert not crawl_lock(client, "s", lease_s=0.5).acquire()
    time.sleep(0.7)  # the holder died without releasing: the lease runs out
    assert crawl_lock(client, "s", lease_s=0.5).acquire()


def _crawl_config(tmp_path: Path, graph_server: EmbeddedServer, **crawl: object) -> Path:
    return write_config(tmp_path / "cfg", graph_uri=graph_server.bolt_uri, database=graph_server.database,
                        broker=REDIS_URL, backend=REDIS_URL, batch_size=500, task_time_limit_s=60,
                        crawls={"fake": {"connector": "tests.workers.fake_connector:make", **crawl}})


def test_two_crawling_processes_never_fetch_a_page_twice(store: GraphStore, graph_server: EmbeddedServer,
                                                        client: redis.Redis, tmp_path: Path) -> None:
    """Two processes crawl the same source at once: one gets the lock and every page once, the other
    returns busy; a later pass resumes from the stored cursor and fetches nothing."""
    config = _crawl_config(tmp_path, graph_server)
    env = _env(FAKE_REDIS_URL=REDIS_URL, FAKE_FETCH_DELAY_S="0.2", AGORA_GRAPH__PASSWORD=graph_server.password())
    cmd = [sys.executable, "-m", "tests.workers.fake_connector", str(config), "fake"]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    results = sorted((json.loads(o[0].strip().splitlines()[-1]) for o in outs), key=lambda r: r["busy"])
    assert results[1] == {"source": "fake", "pages": 0, "read": 0, "new": 0, "linked": 0, "cursor": None,
                          "busy": True}
    assert results[0]["pages"] == fake_connector.PAGES and results[0]["new"] == TOTAL
    fetched = [e.decode() for e in client.lrange("issue7:fake:fetched", 0, -1)]
    pages = Counter(e.split(":")[1] for e in fetched)
    assert len({e.split(":")[0] for e in fetched}) == 1 and all(n == 1 for n in pages.values()), fetched
    assert store.count("Message", stored_only=True) == TOTAL
    assert store.get_cursor(cursor_key("fake")) == str(fake_connector.PAGES - 1)

    os.environ["FAKE_REDIS_URL"] = REDIS_URL
    try:
        again = crawl_once(load_config(config, environ={}), "fake", store, client, connector=fake_connector.make())
    finally:
        del os.environ["FAKE_REDIS_URL"]
    assert (again.pages, again.new, again.busy) == (0, 0, False)
    assert client.llen("issue7:fake:fetched") == fake_connector.PAGES
    assert not client.exists("agora:lock:crawl:fake"), "the lock was not released"


def test_crawl_respects_the_shared_budget(store: GraphStore, graph_server: EmbeddedServer, client: redis.Redis,
                                          tmp_path: Path) -> None:
    """A budget of 2 fetches per second with a burst of 2: six pages take at least two seconds."""
    config = load_config(_crawl_config(tmp_path, graph_server, requests=2, per_s=1.0), environ={})
    os.environ["FAKE_REDIS_URL"] = REDIS_URL
    try:
        started = time.monotonic()
        result = crawl_once(config, "fake", store, client, connector=fake_connector.make())
        elapsed = time.monotonic() - started
    finally:
        del os.environ["FAKE_REDIS_URL"]
    assert result.pages == fake_connector.PAGES
    assert elapsed >= (fake_connector.PAGES + 1 - 2) / 2 - 0.2, elapsed  # 2 at once, then one per 0.5 s


def test_unknown_source_and_connector_name_the_key(graph_server: EmbeddedServer, client: redis.Redis,
                                                   tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "c", graph_uri=graph_server.bolt_uri, database="agora",
                                      broker=REDIS_URL, backend=REDIS_URL,
                                      crawls={"x": {"connector": "no.such.module:make"}}), environ={})
    with pytest.raises(ValueError, match=r"crawl source 'y': not a built-in connector \(.*twitter.*\) "
                                         r"nor in workers.crawls \(configured: x\)"):
        crawl_once(config, "y", None, client)
    with pytest.raises(ValueError, match=r"workers.crawls.x.connector: cannot load 'no.such.module:make'"):
        crawl_once(config, "x", None, client)
    assert not client.exists("agora:lock:crawl:x")


@pytest.mark.slow
def test_crawl_task_on_two_pool_processes(store: GraphStore, graph_server: EmbeddedServer,
                                                client: redis.Redis, tmp_path: Path) -> None:
    """`agora.crawl` sent twice to a worker with two pool processes: one crawls, one is busy."""
    config_path = _crawl_config(tmp_path, graph_server)
    app = make_app(load_config(config_path, environ={}))
    queue = f"issue7-crawl-{os.getpid()}"
    w = start_worker(config_path, graph_server.password(), queue, tmp_path / "worker.log", concurrency=2,
                     env={"FAKE_REDIS_URL": REDIS_URL, "FAKE_FETCH_DELAY_S": "0.3"})
    try:
        results = [app.signature(CRAWL_TASK, args=("fake",), options={"queue": queue}).apply_async()
                   for _ in range(2)]
        done = wait_results(results, 120, [w])
    finally:
        w.stop()
    assert sorted(r["busy"] for r in done) == [False, True], done
    assert sum(r["new"] for r in done) == TOTAL
    assert client.llen("issue7:fake:fetched") == fake_connector.PAGES
    assert store.count("Message", stored_only=True) == TOTAL


def test_beat_schedule_has_one_crawl_per_source(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, graph_uri="bolt://127.0.0.1:7687", database="agora",
                                      broker=REDIS_URL, backend=REDIS_URL,
                                      crawls={"a": {"connector": "m:f"}, "b": {"connector": "m:f", "interval_s": 30},
                                              "twitter": {"requests": 10}}),
                         environ={})
    schedule = make_app(config).conf.beat_schedule
    assert schedule["crawl:a"] == {"task": CRAWL_TASK, "schedule": 300.0, "args": ("a",), "options": {"expires": 300.0}}
    assert schedule["crawl:b"]["schedule"] == 30.0 and schedule["crawl:b"]["args"] == ("b",)
    assert "rescore" in schedule
    # a built-in source's entry only sets its budget: it is scheduled by listening.crawl_interval_s (unset here)
    assert sorted(k for k in schedule if k.startswith("crawl")) == ["crawl:a", "crawl:b"]


def test_a_connector_named_otherwise_than_its_source_is_refused(graph_server: EmbeddedServer, client: redis.Redis,
                                                                 tmp_path: Path, monkeypatch) -> None:
    """The lock is keyed by the source's name and the cursor by the connector's: they must be the same."""
    monkeypatch.setenv("FAKE_REDIS_URL", REDIS_URL)
    config = load_config(write_config(tmp_path / "c", graph_uri=graph_server.bolt_uri, database="agora",
                                      broker=REDIS_URL, backend=REDIS_URL,
                                      crawls={"other": {"connector": "tests.workers.fake_connector:make"}}),
                         environ={})
    with pytest.raises(ValueError, match=r"workers.crawls.other.connector: makes a connector named 'fake'"):
        crawl_once(config, "other", None, client)
    assert not client.exists("agora:lock:crawl:other") and client.llen("issue7:fake:fetched") == 0
