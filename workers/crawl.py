"""One crawl pass of a configured source, safe with many workers on many hosts.

:func:`crawl_once` is what the ``agora.crawl_source`` task runs. It takes the
source's crawl lock (a crawl already running elsewhere makes this one return
at once, so no page is fetched twice), reads the stored cursor, then fetches
page by page, spending one token of the source's shared rate-limit budget per
page, stores each page's interactions and only then moves the cursor. A worker
killed mid-pass loses nothing: its lock lease expires, and the next pass
refetches from the last stored cursor; the pages stored twice are merged by id.

A connector follows the seam of ``listening.connectors``: ``name``,
``fetch(cursor)`` yielding pages (``.raw``, ``.cursor``; ``cursor`` ``None``
keeps the stored one) and a pure ``to_interactions(raw)``. It is made by the
``module:factory`` that ``workers.crawls.<name>.connector`` names, called
with the config.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from agora.config import Config, CrawlConfig
from workers.limits import RateBudget, crawl_lock

__all__ = ["CrawlResult", "crawl_once", "load_connector", "cursor_key"]

log = logging.getLogger(__name__)


def cursor_key(name: str) -> str:
    """The ``(:Cursor {source})`` key of a connector (the same as ``listening.connectors``).

    >>> cursor_key("twitter")
    'connector:twitter'
    """
    return f"connector:{name}"


@dataclass(frozen=True)
class CrawlResult:
    """What one pass did; ``busy`` when another worker held the source's lock (nothing fetched)."""

    source: str
    pages: int = 0
    read: int = 0
    new: int = 0
    cursor: str | None = None
    busy: bool = False


def load_connector(config: Config, name: str) -> Any:
    """The connector ``workers.crawls.<name>.connector`` names, built with ``config``."""
    crawl = _crawl_config(config, name)
    module_name, _, attr = crawl.connector.partition(":")
    try:
        factory: Callable[[Config], Any] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"workers.crawls.{name}.connector: cannot load {crawl.connector!r}: {exc}") from exc
    return factory(config)


def _crawl_config(config: Config, name: str) -> CrawlConfig:
    crawl = config.workers.crawls.get(name)
    if crawl is None:
        known = ", ".join(sorted(config.workers.crawls)) or "none"
        raise ValueError(f"workers.crawls: no source {name!r} (configured: {known})")
    return crawl


def crawl_once(config: Config, name: str, store: Any, client: redis.Redis, *, connector: Any = None,
               on_page: Callable[[int], None] | None = None) -> CrawlResult:
    """Crawl ``name`` from its stored cursor to the end, under its lock and budget.

    Returns ``CrawlResult(busy=True)`` at once when another crawl of the same
    source holds the lock. ``on_page(n)`` is called after each stored page
    with its number of interactions (metrics).
    """
    crawl = _crawl_config(config, name)
    lock = crawl_lock(client, name, lease_s=config.workers.task_time_limit_s)
    if not lock.acquire(blocking=False):
        log.info("crawl of %s skipped: another worker is crawling it", name)
        return CrawlResult(name, busy=True)
    try:
        connector = connector if connector is not None else load_connector(config, name)
        budget = RateBudget(client, name, crawl.requests, crawl.per_s)
        key = cursor_key(name)
        cursor = store.get_cursor(key)
        pages = read = new = 0
        fetched = iter(connector.fetch(cursor))
        while True:
            budget.take(max_wait_s=config.workers.task_time_limit_s / 4)
            page = next(fetched, None)  # the fetch (one request) happens here, inside the budget
            if page is None:
                break
            interactions = connector.to_interactions(page.raw)
            new += store.upsert_interactions(interactions, brand_accounts=config.brand_accounts)
            if page.cursor is not None:
                store.set_cursor(key, page.cursor)
                cursor = page.cursor
            lock.reacquire()  # a fresh lease per stored page: a long pass keeps its source
            pages += 1
            read += len(interactions)
            if on_page:
                on_page(len(interactions))
        log.info("crawled %s: %d pages, %d read, %d new, cursor %s", name, pages, read, new, cursor)
        return CrawlResult(name, pages, read, new, cursor)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # the lease ran out: another crawl may hold it now
            log.warning("crawl lock of %s expired before the pass ended", name)
