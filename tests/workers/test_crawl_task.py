"""The ``agora.crawl`` Celery task, run in-process (``apply``) on the session's graph, with recorded Twitter/X answers.

The per-source lock and rate-limit budget live in Redis database :data:`REDIS_DB` (their keys are
deleted before and after each test).
"""

from __future__ import annotations

import json
import time

import pytest
import redis
import responses
from celery.exceptions import Retry

from agora.config import Config
from graph.server import EmbeddedServer
from tests.listening.connectors import replay
from workers.app import CRAWL_TASK, _settings, make_app
from workers.limits import budget_key, lock_key

REDIS_DB = 10


def _make_app(graph_server: EmbeddedServer, **workers):
    config = Config.model_validate({
        "graph": {"uri": graph_server.bolt_uri, "user": "root", "password": graph_server.password(),
                  "database": graph_server.database},
        "workers": {"broker_url": "memory://", "result_backend": f"redis://127.0.0.1:6379/{REDIS_DB}", **workers},
        "listening": {"twitter": {"brand_user_ids": [replay.BRAND_ID], "threads": False, "max_wait_s": 5},
                      "crawl_interval_s": {"twitter": 300}}})
    return make_app(config), config


@pytest.fixture
def redis_keys():
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.delete(lock_key("twitter"), budget_key("twitter"))
    yield client
    client.delete(lock_key("twitter"), budget_key("twitter"))
    client.close()


@pytest.fixture
def celery_app(graph_server: EmbeddedServer, store, monkeypatch, redis_keys):
    monkeypatch.setenv("AGORA_TWITTER_BEARER_TOKEN", "test-bearer")
    app, config = _make_app(graph_server)
    yield app, config
    app.agora_resources.close()


def test_beat_schedules_a_crawl_per_configured_source(celery_app):
    _, config = celery_app
    schedule = _settings(config)["beat_schedule"]
    entry = schedule["crawl:twitter"]
    assert entry["task"] == CRAWL_TASK and entry["args"] == ("twitter",) and entry["schedule"] == 300
    assert [k for k in schedule if k.startswith("crawl")] == ["crawl:twitter"]  # one entry per source


def test_crawl_task_stores_and_a_running_crawl_is_not_doubled(celery_app, store):
    app, _ = celery_app
    lock = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).lock(lock_key("twitter"), timeout=30)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        replay.add_twitter(rsps)
        assert lock.acquire(blocking=False)
        try:
            busy = app.tasks[CRAWL_TASK].apply(args=("twitter",)).get()
        finally:
            lock.release()
        assert busy["busy"] and busy["pages"] == 0 and len(rsps.calls) == 0
        done = app.tasks[CRAWL_TASK].apply(args=("twitter",)).get()
    assert {k: done[k] for k in ("source", "pages", "read", "new", "busy")} == \
        {"source": "twitter", "pages": 2, "read": 3, "new": 3, "busy": False}
    assert done["cursor"] is not None and done["cursor"] == store.get_cursor("connector:twitter")
    assert store.count("Message", stored_only=True) == 3


def test_a_long_rate_limit_reschedules_the_task_for_the_reset(celery_app, store):
    app, _ = celery_app
    reset = int(time.time()) + 600
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, replay.MENTIONS_URL, status=429, json=replay.body("twitter_429.json"),
                 headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"})
        task = app.tasks[CRAWL_TASK]
        seen = {}

        def fake_retry(*, exc, countdown, **_):
            seen["countdown"] = countdown
            return Retry(exc=exc, when=countdown)

        task.retry = fake_retry  # the eager apply cannot sleep 600 s; check what would be scheduled
        try:
            with pytest.raises(Retry):
                task.run("twitter")
        finally:
            del task.retry
    assert 590 <= seen["countdown"] <= 601
    assert store.get_cursor("connector:twitter") is None


def test_an_exhausted_budget_reschedules_the_task_and_keeps_what_was_stored(graph_server, store, monkeypatch,
                                                                            redis_keys):
    """A budget of one request per 600 s: the first page is fetched and stored, the second request waits for
    the budget longer than the task may (a quarter of its time limit), so the task is retried when it refills."""
    monkeypatch.setenv("AGORA_TWITTER_BEARER_TOKEN", "test-bearer")
    app, _ = _make_app(graph_server, crawls={"twitter": {"requests": 1, "per_s": 600}})
    task = app.tasks[CRAWL_TASK]
    seen = {}

    def fake_retry(*, exc, countdown, **_):
        seen["exc"], seen["countdown"] = exc, countdown
        return Retry(exc=exc, when=countdown)

    task.retry = fake_retry
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            replay.add_twitter(rsps)
            with pytest.raises(Retry):
                task.run("twitter")
            assert len(rsps.calls) == 1, [c.request.url for c in rsps.calls]
    finally:
        del task.retry
        app.agora_resources.close()
    assert type(seen["exc"]).__name__ == "BudgetExhausted" and 590 <= seen["countdown"] <= 600
    assert store.count("Message", stored_only=True) == len(replay.body("twitter_mentions_p1.json")["data"])
    assert not redis_keys.exists(lock_key("twitter")), "the lock was not released"
