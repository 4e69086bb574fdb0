"""One crawl pass of a source, safe with many workers on many hosts.

:func:`crawl_once` is what the ``agora.crawl`` task runs. It takes the
source's crawl lock (a crawl already running elsewhere makes this one return
at once, so no page is fetched twice), then runs the one page loop,
:func:`listening.connectors.crawl`, spending one token of the source's shared
rate-limit budget before each page is fetched and renewing the lock's lease
after each page is stored and its cursor moved. A worker killed mid-pass loses
nothing: its lease expires, and the next pass refetches from the last stored
cursor; the pages stored twice are merged by id.

The connector of a source ``name`` is the built-in one of
:data:`listening.connectors.REGISTRY` (``twitter``, ``telegram``), or, for a
user-written one, the ``module:factory`` that ``workers.crawls.<name>.connector``
names; either factory is called with the config. The budget is
``workers.crawls.<name>.requests`` per ``per_s`` seconds (defaults without an
entry).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis

from agora.config import Config
from workers.limits import RateBudget, crawl_lock

if TYPE_CHECKING:
    from listening.connectors import CrawlReport

__all__ = ["crawl_once", "load_connector"]

log = logging.getLogger(__name__)


def load_connector(config: Config, name: str) -> Any:
    """The connector of source ``name``: ``workers.crawls.<name>.connector`` if set, else the built-in one.

    Raises ``ValueError`` naming the key when neither exists or the factory cannot be imported.
    """
    from listening.connectors import REGISTRY

    spec = config.workers.crawl(name).connector
    if spec is None:
        if name not in REGISTRY:
            custom = ", ".join(sorted(config.workers.crawls)) or "none"
            raise ValueError(f"crawl source {name!r}: not a built-in connector ({', '.join(sorted(REGISTRY))}) "
                             f"nor in workers.crawls (configured: {custom})")
        return REGISTRY[name](config)
    module_name, _, attr = spec.partition(":")
    try:
        factory: Callable[[Config], Any] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"workers.crawls.{name}.connector: cannot load {spec!r}: {exc}") from exc
    return factory(config)


def crawl_once(config: Config, name: str, store: Any, client: redis.Redis, *, connector: Any = None,
               on_page: Callable[[int], None] | None = None) -> CrawlReport:
    """Crawl ``name`` from its stored cursor to the end, under its lock and budget.

    Returns ``CrawlReport(busy=True)`` at once when another crawl of the same
    source holds the lock. ``on_page(n)`` is called after each stored page
    with its number of interactions (metrics). Raises
    :class:`~workers.limits.BudgetExhausted` when the budget has no token
    within a quarter of the task time limit, and the connector's
    :class:`~listening.connectors.RateLimited`; both leave the cursor at the
    first page not stored.
    """
    from listening.connectors import CrawlReport, crawl

    if connector is None:
        connector = load_connector(config, name)  # a bad name fails here, before any lock is taken
    if connector.name != name:  # the lock is keyed by ``name``, the cursor by ``connector.name``
        raise ValueError(f"workers.crawls.{name}.connector: makes a connector named {connector.name!r}; "
                         "the names must match")
    settings = config.workers.crawl(name)
    lock = crawl_lock(client, name, lease_s=config.workers.task_time_limit_s)
    if not lock.acquire(blocking=False):
        log.info("crawl of %s skipped: another worker is crawling it", name)
        return CrawlReport(name, busy=True)
    budget = RateBudget(client, name, settings.requests, settings.per_s)

    def after_page(n: int) -> None:
        lock.reacquire()  # a fresh lease per stored page: a long pass keeps its source
        if on_page is not None:
            on_page(n)

    try:
        report = crawl(connector, store, brand_accounts=config.brand_accounts,
                       before_fetch=lambda: budget.take(max_wait_s=config.workers.task_time_limit_s / 4),
                       after_page=after_page)
        return report
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # the lease ran out: another crawl may hold it now
            log.warning("crawl lock of %s expired before the pass ended", name)
