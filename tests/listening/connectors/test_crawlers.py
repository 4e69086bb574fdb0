"""The Twitter/X and Telegram crawlers against recorded API answers: paging, cursors, rate limits, errors."""

from __future__ import annotations

import json

import pytest
import responses

from agora.config import Config
from listening.connectors import RateLimited, crawl, cursor_key
from listening.connectors.telegram import TelegramConnector
from listening.connectors.twitter import EXPANSIONS, TwitterConnector
from tests.listening.connectors import replay

CONFIG = Config.model_validate({"listening": {"twitter": {"brand_user_ids": [replay.BRAND_ID],
                                                         "queries": ["caffe aurora"], "max_wait_s": 60}}})
T1, T0, T5 = "1861003000000000003", "1861001000000000001", "1861005000000000005"


class FakeTime:
    """A clock and a sleep that only advances it."""

    def __init__(self, now: float = 1_732_550_000.0) -> None:
        self.now, self.slept = now, []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def _tokens(monkeypatch):
    monkeypatch.setenv("AGORA_TWITTER_BEARER_TOKEN", "test-bearer")
    monkeypatch.setenv("AGORA_TELEGRAM_BOT_TOKEN", "123456:test-bot-token")


def test_twitter_pass_collects_mentions_search_and_threads(store):
    with responses.RequestsMock() as rsps:
        replay.add_twitter(rsps)
        report = crawl(TwitterConnector(CONFIG), store)
        calls = [c.request for c in rsps.calls]
    assert all(r.headers["Authorization"] == "Bearer test-bearer" for r in calls)
    first = calls[0]
    assert first.url.startswith(replay.MENTIONS_URL)
    assert set(first.params["expansions"].split(",")) == set(EXPANSIONS)
    assert "since_id" not in first.params
    assert calls[1].params["pagination_token"] == "7140dibdnow9c7btw4b0ou5dbddbk4i9yjnslfbqz4hm3"
    threads = sorted(r.params["query"] for r in calls if r.params.get("query", "").startswith("conversation_id:"))
    assert threads == [f"conversation_id:{c}" for c in (T0, T1, "1861004000000000004", T5)]
    # 3 mentions + 2 search results (t2 again via its thread is stored once)
    assert report.new == 5 and store.count("Message", stored_only=True) == 5
    state = json.loads(store.get_cursor(cursor_key("twitter")))
    assert state == {f"mentions:{replay.BRAND_ID}": {"since_id": T1}, "search:caffe aurora": {"since_id": T5}}
    rows = store.fetch("MATCH (a:Account)-[:POSTED]->(m:Message {id: 'twitter:1861004000000000004'})-[:ADDRESSES]->(b) "
                       "RETURN a.handle AS actor, m.kind AS kind, b.handle AS target")
    assert rows == [{"actor": "pietrob", "kind": "share", "target": "anna_beans"}]


def test_twitter_next_pass_asks_only_for_newer_tweets(store):
    with responses.RequestsMock() as rsps:
        replay.add_twitter(rsps)
        crawl(TwitterConnector(CONFIG), store)
        n = len(rsps.calls)
        again = crawl(TwitterConnector(CONFIG), store)
        later = [c.request for c in rsps.calls[n:]]
    assert again.new == 0
    assert later[0].params["since_id"] == T1 and later[1].params["since_id"] == T5


def _mentions_with_429(reset_in: float, clock: FakeTime):
    """Page 1, then a 429 on the first request for page 2, then page 2."""
    seen = {"page2": 0}

    def callback(request):
        if request.params.get("pagination_token"):
            seen["page2"] += 1
            if seen["page2"] == 1:
                headers = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0",
                           "x-rate-limit-reset": str(int(clock.now + reset_in))}
                return 429, headers, json.dumps(replay.body("twitter_429.json"))
            return 200, {}, json.dumps(replay.body("twitter_mentions_p2.json"))
        if request.params.get("since_id"):
            return 200, {}, json.dumps(replay.body("twitter_search_empty.json"))
        return 200, {}, json.dumps(replay.body("twitter_mentions_p1.json"))
    return callback, seen


def test_twitter_429_waits_for_the_reset_and_retries_the_same_page(store):
    fake = FakeTime()
    callback, seen = _mentions_with_429(30, fake)
    config = Config.model_validate({"listening": {"twitter": {"brand_user_ids": [replay.BRAND_ID], "threads": False,
                                                             "max_wait_s": 60}}})
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, replay.MENTIONS_URL, callback=callback)
        report = crawl(TwitterConnector(config, sleep=fake.sleep, clock=fake.clock), store)
    assert seen["page2"] == 2 and fake.slept == [31]
    assert report.new == 3  # page 2 (the conversation's first tweet) was not lost
    assert json.loads(store.get_cursor(cursor_key("twitter"))) == {f"mentions:{replay.BRAND_ID}": {"since_id": T1}}


def test_twitter_429_with_a_far_reset_reschedules_and_resumes_at_the_refused_page(store):
    fake = FakeTime()
    callback, seen = _mentions_with_429(3600, fake)
    config = Config.model_validate({"listening": {"twitter": {"brand_user_ids": [replay.BRAND_ID], "threads": False,
                                                             "max_wait_s": 60}}})
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, replay.MENTIONS_URL, callback=callback)
        with pytest.raises(RateLimited) as info:
            crawl(TwitterConnector(config, sleep=fake.sleep, clock=fake.clock), store)
        assert info.value.reset_at == int(fake.now + 3600) and fake.slept == []
        assert store.count("Message", stored_only=True) == 2  # page 1 stored
        state = json.loads(store.get_cursor(cursor_key("twitter")))
        assert state[f"mentions:{replay.BRAND_ID}"]["pending"]["token"] == "7140dibdnow9c7btw4b0ou5dbddbk4i9yjnslfbqz4hm3"
        n = len(rsps.calls)
        report = crawl(TwitterConnector(config, sleep=fake.sleep, clock=fake.clock), store)
        resumed = rsps.calls[n].request
    assert resumed.params["pagination_token"] == "7140dibdnow9c7btw4b0ou5dbddbk4i9yjnslfbqz4hm3"
    assert "since_id" not in resumed.params
    assert report.new == 1 and store.count("Message", stored_only=True) == 3
    assert json.loads(store.get_cursor(cursor_key("twitter"))) == {f"mentions:{replay.BRAND_ID}": {"since_id": T1}}


def test_twitter_server_errors_are_retried_with_backoff_then_raised(store):
    fake = FakeTime()
    config = Config.model_validate({"listening": {"twitter": {"brand_user_ids": [replay.BRAND_ID], "threads": False,
                                                             "max_retries": 2}}})
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, replay.MENTIONS_URL, status=503, json={"title": "Service Unavailable"})
        with pytest.raises(Exception, match="503"):
            crawl(TwitterConnector(config, sleep=fake.sleep, clock=fake.clock), store)
        assert len(rsps.calls) == 3
    assert fake.slept == [2.0, 4.0] and store.get_cursor(cursor_key("twitter")) is None


def test_telegram_polling_offsets(store):
    with responses.RequestsMock() as rsps:
        replay.add_telegram(rsps)
        report = crawl(TelegramConnector(CONFIG), store)
        bodies = [json.loads(c.request.body) for c in rsps.calls]
        assert "123456:test-bot-token" in rsps.calls[0].request.url
        again = crawl(TelegramConnector(CONFIG), store)
        later = json.loads(rsps.calls[-1].request.body)
    assert "offset" not in bodies[0] and bodies[1]["offset"] == 730419005
    assert report.cursor == "730419005" and store.get_cursor(cursor_key("telegram")) == "730419005"
    assert report.new == 2 and again.new == 0 and later["offset"] == 730419005
    [text] = store.fetch("MATCH (m:Message {id: 'telegram:1789012345:1201'}) RETURN m.text AS t")
    assert text["t"] == "Qualcuno ha già provato il nuovo macinino?"  # the edit won


def test_telegram_429_waits_retry_after_and_errors_back_off(store):
    fake = FakeTime()
    answers = iter([(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 5",
                           "parameters": {"retry_after": 5}}),
                    (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
                    (200, replay.body("telegram_getupdates.json")),
                    (200, {"ok": True, "result": []})])

    def callback(request):
        status, payload = next(answers)
        return status, {}, json.dumps(payload)

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, replay.TELEGRAM_URL, callback=callback)
        report = crawl(TelegramConnector(CONFIG, sleep=fake.sleep), store)
    assert fake.slept == [5.0, 1.0] and report.new == 2


def test_telegram_conflict_with_a_webhook_is_reported(store):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, replay.TELEGRAM_URL, status=409,
                 json={"ok": False, "error_code": 409,
                       "description": "Conflict: can't use getUpdates method while webhook is active"})
        with pytest.raises(RuntimeError, match="webhook is active"):
            crawl(TelegramConnector(CONFIG), store)
    assert store.get_cursor(cursor_key("telegram")) is None


def test_telegram_polling_applies_contact_card_claims(store):
    from agora.records import AccountRef, Interaction, Kind
    from datetime import datetime, timezone

    wa = AccountRef("whatsapp", "+393331234567", "Giulia")
    store.upsert_interactions([Interaction(id="whatsapp:wamid.x", platform="whatsapp", kind=Kind.MESSAGE, actor=wa,
                                           timestamp=datetime(2026, 11, 1, tzinfo=timezone.utc))])
    answers = iter([{"ok": True, "result": replay.body("telegram_contacts.json")}, {"ok": True, "result": []}])
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, replay.TELEGRAM_URL, callback=lambda r: (200, {}, json.dumps(next(answers))))
        report = crawl(TelegramConnector(CONFIG), store)
    assert report.new == 2 and report.linked == 1
    [row] = store.fetch("MATCH (:Account {key: 'telegram:user482731945'})-[:OF]->(p:Person) RETURN p.id AS id")
    assert row["id"] == wa.key
