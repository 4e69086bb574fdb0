"""Replays of recorded Twitter/X API v2 and Telegram Bot API answers with ``responses`` (no live calls).

The recorded bodies are in ``fixtures/``; they carry no credentials (the
requests' ``Authorization`` header and the bot token in the URL are checked,
never stored).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import responses

FIXTURES = Path(__file__).parent / "fixtures"
BRAND_ID = "1456789012345678901"
MENTIONS_URL = f"https://api.twitter.com/2/users/{BRAND_ID}/mentions"
SEARCH_URL = "https://api.twitter.com/2/tweets/search/recent"
TELEGRAM_URL = re.compile(r"https://api\.telegram\.org/bot[^/]+/getUpdates")


def body(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def twitter_search(request: Any) -> tuple[int, dict[str, str], str]:
    """Recent search: the recorded query page, a recorded thread, or nothing new after ``since_id``."""
    query = request.params.get("query", "")
    if query.startswith("conversation_id:"):
        page = body("twitter_thread.json") if query.endswith("1861001000000000001") else body("twitter_search_empty.json")
    elif request.params.get("since_id"):
        page = body("twitter_search_empty.json")
    else:
        page = body("twitter_search.json")
    return 200, {"x-rate-limit-remaining": "449"}, json.dumps(page)


def twitter_mentions(request: Any) -> tuple[int, dict[str, str], str]:
    """Mentions: page 1, then page 2 for its ``pagination_token``; nothing new after ``since_id``."""
    if request.params.get("pagination_token"):
        return 200, {}, json.dumps(body("twitter_mentions_p2.json"))
    if request.params.get("since_id"):
        return 200, {}, json.dumps(body("twitter_search_empty.json"))
    return 200, {}, json.dumps(body("twitter_mentions_p1.json"))


def add_twitter(rsps: responses.RequestsMock) -> None:
    rsps.add_callback(responses.GET, MENTIONS_URL, callback=twitter_mentions)
    rsps.add_callback(responses.GET, SEARCH_URL, callback=twitter_search)


def add_telegram(rsps: responses.RequestsMock) -> None:
    """getUpdates: the recorded batch, then nothing once the offset is past it."""
    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        offset = json.loads(request.body or b"{}").get("offset")
        if offset and offset > 730419004:
            return 200, {}, json.dumps({"ok": True, "result": []})
        return 200, {}, json.dumps(body("telegram_getupdates.json"))
    rsps.add_callback(responses.POST, TELEGRAM_URL, callback=callback)
