"""The ``agora.crawl`` Celery task, run in-process (``apply``) on the session's graph, with recorded Twitter/X answers.

The per-source lock lives in Redis database :data:`REDIS_DB`.
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
from workers.app import CRAWL_LOCK, CRAWL_TASK, _settings, make_app

REDIS_DB = 9


@pytest.fixture
def celery_app(graph_server: EmbeddedServer, store, monkeypatch):
    monkeypatch.setenv("AGORA_TWITTER_BEARER_TOKEN", "test-bearer")
    config = Config.model_validate({
        "graph": {"uri": graph_server.bolt_uri, "user": "root", "password": graph_server.password(),
                  "database": graph_server.database},
        "workers": {"broker_url": "memory://", "result_backend": f"redis://127.0.0.1:6379/{REDIS_DB}"},
        "listening": {"twitter": {"brand_user_ids": [replay.BRAND_ID], "threads": False, "max_wait_s": 5},
                      "crawl_interval_s": {"twitter": 300}}})
    app = make_app(config)
    yield app, config
    app.agora_resources.close()


def test_beat_schedules_a_crawl_per_configured_source(celery_app):
    _, config = celery_app
    entry = _settings(config)["beat_schedule"]["crawl-twitter"]
    assert entry["task"] == CRAWL_TASK and entry["args"] == ("twitter",) and entry["schedule"] == 300


def test_crawl_task_stores_and_a_running_crawl_is_not_doubled(celery_app, store):
    app, _ = celery_app
    lock = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).lock(CRAWL_LOCK.format("twitter"), timeout=30)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        replay.add_twitter(rsps)
        assert lock.acquire(blocking=False)
        try:
            busy = app.tasks[CRAWL_TASK].apply(args=("twitter",)).get()
        finally:
            lock.release()
        assert busy["skipped"] and len(rsps.calls) == 0
        done = app.tasks[CRAWL_TASK].apply(args=("twitter",)).get()
    assert done == {"source": "twitter", "pages": 2, "read": 3, "new": 3}
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
