"""The contract every registered connector keeps, walked over the whole registry.

For each connector: the Protocol's attributes, a pure and deterministic
mapping of its recorded payloads, a one-line :class:`MappingError` for junk,
and, for pull connectors, a crawl of recorded API answers into a real graph
that moves the cursor and adds nothing when repeated.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from agora.config import Config
from agora.records import Interaction
from listening.connectors import REGISTRY, Connector, MappingError, crawl, cursor_key
from tests.listening.connectors import replay

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = {
    "twitter": ["twitter_mentions_p1.json", "twitter_mentions_p2.json", "twitter_search.json", "twitter_thread.json"],
    "telegram": ["telegram_update.json"],
    "whatsapp": ["whatsapp_messages.json", "whatsapp_statuses.json"],
    "meta": ["meta_page_feed.json", "meta_messenger.json", "instagram_comments.json", "instagram_messaging.json"],
}
CONFIG = Config.model_validate({"listening": {"twitter": {"brand_user_ids": [replay.BRAND_ID], "queries": ["caffe aurora"]}}})


def test_every_connector_has_recorded_payloads():
    assert set(REGISTRY) == set(RECORDED)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_connector_protocol_and_pure_mapping(name):
    connector = REGISTRY[name](CONFIG)
    assert isinstance(connector, Connector)
    assert connector.name == name and isinstance(connector.platform, str) and isinstance(connector.push, bool)
    total = 0
    for fixture in RECORDED[name]:
        raw = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
        first = connector.to_interactions(raw)
        assert connector.to_interactions(raw) == first, "mapping must be deterministic"
        assert json.loads((FIXTURES / fixture).read_text(encoding="utf-8")) == raw, "mapping must not modify its input"
        for it in first:
            assert isinstance(it, Interaction)
            assert it.id.startswith(f"{it.platform}:") and it.source
            assert it.timestamp.tzinfo is not None and it.text != ""
        total += len(first)
    assert total > 0
    for junk in ("junk", 42, [{"no": "thing"}]):
        with pytest.raises(MappingError):
            connector.to_interactions(junk)
    if connector.push:
        assert list(connector.fetch(None)) == []


@pytest.mark.parametrize("name", sorted(n for n in REGISTRY if not REGISTRY[n](CONFIG).push))
def test_pull_connector_crawls_recorded_answers_idempotently(name, store, monkeypatch):
    monkeypatch.setenv("AGORA_TWITTER_BEARER_TOKEN", "test-bearer")
    monkeypatch.setenv("AGORA_TELEGRAM_BOT_TOKEN", "123456:test-bot-token")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        replay.add_twitter(rsps)
        replay.add_telegram(rsps)
        connector = REGISTRY[name](CONFIG)
        first = crawl(connector, store)
        assert first.pages > 0 and first.new > 0
        cursor = store.get_cursor(cursor_key(name))
        assert cursor is not None and cursor == first.cursor
        counts = store.counts()
        again = crawl(REGISTRY[name](CONFIG), store)
        assert again.new == 0 and store.counts() == counts
        for call in rsps.calls:
            assert "test-bearer" not in call.request.url
