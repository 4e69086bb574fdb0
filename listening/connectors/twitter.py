"""Twitter/X API v2 through ``tweepy.Client``: brand mentions, recent search, conversation threads.

**What it collects** (``listening.twitter`` in ``config.yaml``), in this order:

1. ``mentions:<id>``: ``GET /2/users/:id/mentions`` for each of ``brand_user_ids``;
2. ``search:<query>``: ``GET /2/tweets/search/recent`` for each of ``queries``;
3. ``thread:<conversation_id>``: with ``threads: true``, a recent search for
   ``conversation_id:<id>`` of each conversation met in 1-2 during this pass
   (at most ``max_threads``), so whole reply threads land in the graph.

Every request asks for the expansions that carry the accounts: ``author_id``,
``in_reply_to_user_id``, ``referenced_tweets.id``, ``referenced_tweets.id.author_id``,
``entities.mentions.username``; pages are mapped with the archive reader's
pure :func:`listening.formats.twitter.flatten` and :func:`~listening.formats.twitter.map_tweet_v2`.

**Cursor**: one ``(:Cursor)`` in the graph holding, per stream, the
``since_id`` (newest tweet id stored) and, while a pass is under way, the
``pending`` ``next_token`` with the newest id of that pass. Each page is a
:class:`~listening.connectors.base.Page` whose cursor already records its
next token, so a pass cut short (crash, ``max_pages``, rate limit) resumes at
the following page, and ``since_id`` moves only when the pass has reached the
old ``since_id``: no page is skipped, none is stored twice.

**Rate limits**: a 429 carries ``x-rate-limit-reset`` (epoch seconds). When the
wait is at most ``max_wait_s`` the same request (same token) is sent again
after it; otherwise :class:`~listening.connectors.base.RateLimited` is raised
and the crawl is rescheduled for the reset time (the cursor already points at
the refused page). 5xx answers and network errors are retried with
exponential backoff, ``max_retries`` times, then raised.

The bearer token comes from ``$AGORA_TWITTER_BEARER_TOKEN`` only.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import tweepy

from agora.records import Interaction
from listening.connectors.base import MappingError, Page, RateLimited, register
from listening.formats.twitter import flatten, map_tweet_v2

__all__ = ["TwitterConnector", "map_page", "TOKEN_ENV", "EXPANSIONS", "TWEET_FIELDS", "USER_FIELDS"]

log = logging.getLogger(__name__)
TOKEN_ENV = "AGORA_TWITTER_BEARER_TOKEN"
EXPANSIONS = ["author_id", "in_reply_to_user_id", "referenced_tweets.id", "referenced_tweets.id.author_id",
              "entities.mentions.username"]
TWEET_FIELDS = ["created_at", "author_id", "conversation_id", "in_reply_to_user_id", "referenced_tweets",
                "entities", "lang", "note_tweet"]
USER_FIELDS = ["username", "name"]


def map_page(page: Any) -> list[Interaction]:
    """Every tweet of one v2 response page (``data`` + ``includes``) as interactions (pure).

    Included tweets (``includes.tweets``) give authors and text to the tweets
    that reference them; they are not emitted themselves.
    """
    if not isinstance(page, dict):
        raise MappingError(f"page is a {type(page).__name__}, expected a v2 response object")
    out = []
    for k, tweet in enumerate(flatten(page)):
        try:
            out.append(map_tweet_v2(tweet, source="twitter-api-v2"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MappingError(f"data[{k}]: {exc}") from None
    return out


@register("twitter")
class TwitterConnector:
    """The Twitter/X crawler (see the module docstring)."""

    name = "twitter"
    platform = "twitter"
    push = False

    def __init__(self, config: Any = None, *, client: tweepy.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        s = getattr(getattr(config, "listening", None), "twitter", None)
        self.brand_user_ids: list[str] = [str(x) for x in getattr(s, "brand_user_ids", [])]
        self.queries: list[str] = list(getattr(s, "queries", []))
        self.threads: bool = getattr(s, "threads", True)
        self.max_pages: int = getattr(s, "max_pages", 5)
        self.max_results: int = getattr(s, "max_results", 100)
        self.max_threads: int = getattr(s, "max_threads", 20)
        self.max_wait_s: float = getattr(s, "max_wait_s", 900.0)
        self.max_retries: int = getattr(s, "max_retries", 4)
        self._client = client
        self.sleep, self.clock = sleep, clock

    @property
    def client(self) -> tweepy.Client:
        if self._client is None:
            token = os.environ.get(TOKEN_ENV)
            if not token:
                raise RuntimeError(f"twitter: no bearer token; set ${TOKEN_ENV}")
            self._client = tweepy.Client(bearer_token=token, return_type=dict, wait_on_rate_limit=False)
        return self._client

    # -- requests -----------------------------------------------------------------------------

    def _get(self, stream: str, params: dict[str, Any]) -> dict[str, Any]:
        """One page of ``stream``; waits out short rate limits, retries server errors."""
        common = dict(expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS,
                      max_results=self.max_results, **{k: v for k, v in params.items() if v is not None})
        kind, _, arg = stream.partition(":")
        delay = 2.0
        for attempt in range(self.max_retries + 1):
            try:
                if kind == "mentions":
                    return self.client.get_users_mentions(arg, **common)  # type: ignore[return-value]
                query = f"conversation_id:{arg}" if kind == "thread" else arg
                return self.client.search_recent_tweets(query, **common)  # type: ignore[return-value]
            except tweepy.TooManyRequests as exc:
                reset = exc.reset_time or int(self.clock()) + 60
                wait = max(reset - self.clock() + 1, 1.0)
                if wait > self.max_wait_s:
                    raise RateLimited(f"twitter {stream}", float(reset), "x-rate-limit-reset") from None
                log.warning("twitter %s: rate limited, waiting %.0f s for the reset", stream, wait)
                self.sleep(wait)
            except (tweepy.TwitterServerError, requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self.max_retries:
                    raise
                log.warning("twitter %s: %s; retry %d/%d in %.0f s", stream, exc, attempt + 1, self.max_retries, delay)
                self.sleep(delay)
                delay = min(delay * 2, 120.0)
        raise RuntimeError(f"twitter {stream}: still rate limited after {self.max_retries + 1} attempts")

    # -- paging ---------------------------------------------------------------------------------

    def _stream(self, stream: str, state: dict[str, Any], conversations: set[str]) -> Iterator[Page]:
        """Pages of one stream; each page's cursor is ``state`` after it (the caller's dict, updated)."""
        mine = dict(state.get(stream) or {})
        pending = mine.get("pending") or {}
        token, newest = pending.get("token"), pending.get("newest")
        for _ in range(self.max_pages):
            page = self._get(stream, {"since_id": mine.get("since_id"), "pagination_token" if stream.startswith(
                "mentions") else "next_token": token})
            meta = page.get("meta") or {}
            newest = newest or meta.get("newest_id")
            token = meta.get("next_token")
            if token:
                mine["pending"] = {"token": token, "newest": newest}
            else:
                mine.pop("pending", None)
                if newest:
                    mine["since_id"] = newest
            state[stream] = mine
            for tweet in page.get("data") or []:
                if isinstance(tweet, dict) and tweet.get("conversation_id"):
                    conversations.add(str(tweet["conversation_id"]))
            yield Page(page, json.dumps(state, sort_keys=True))
            if not token:
                return

    def fetch(self, cursor: str | None) -> Iterator[Page]:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        conversations: set[str] = set()
        streams = [f"mentions:{u}" for u in self.brand_user_ids] + [f"search:{q}" for q in self.queries]
        for stream in streams:
            yield from self._stream(stream, state, conversations)
        if self.threads:
            for conv in sorted(conversations)[: self.max_threads]:
                # A thread is read whole each time it is met (stored once); it keeps no cursor of its own.
                scratch: dict[str, Any] = {}
                for page in self._stream(f"thread:{conv}", scratch, set()):
                    yield Page(page.raw, json.dumps(state, sort_keys=True))

    def to_interactions(self, raw: Any) -> list[Interaction]:
        return map_page(raw)
