"""The connector seam: one small Protocol every live source implements, and the registry.

A connector separates fetching from mapping (like twarc and 4CAT):

* :meth:`Connector.fetch` talks to the platform and yields :class:`Page` objects,
  each a raw payload exactly as the API returned it plus the cursor to store
  once that payload is safely in the graph (``None``: do not move the cursor
  yet, e.g. an older page of a pass that is still running);
* :meth:`Connector.to_interactions` is pure: one raw payload in, the
  :class:`~agora.records.Interaction` records out, no I/O. It raises
  :class:`MappingError` for a payload it cannot read. A connector may also
  have a pure ``to_claims(raw)`` returning :class:`IdentityClaim` records
  (phones or e-mails the platform states for an account); :func:`crawl`
  hands them to identity resolution after the page's interactions are stored.

Push-only sources (WhatsApp, Meta) have nothing to fetch: their payloads come
through the webhook receivers (:mod:`api.webhooks`); their ``fetch`` yields
nothing. :func:`crawl` is the one loop that runs a pull connector and moves
its cursor only after the page it belongs to is stored, so a crash or a rate
limit never loses a page (it is fetched again, and stored once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agora.records import AccountRef, Interaction

__all__ = ["Page", "Connector", "PushConnector", "MappingError", "RateLimited", "CrawlReport", "REGISTRY", "register", "crawl",
           "cursor_key", "IdentityClaim"]

log = logging.getLogger(__name__)


class MappingError(ValueError):
    """A raw payload that cannot be read; ``str()`` says where and why in one line."""


class RateLimited(Exception):
    """The platform said "not before ``reset_at``" (epoch seconds) and waiting that long was not allowed.

    Nothing was lost: the cursor was not moved past the refused page. The
    caller reschedules the crawl at ``reset_at`` (the Celery task retries with
    that countdown).
    """

    def __init__(self, source: str, reset_at: float, detail: str = "") -> None:
        self.source, self.reset_at = source, reset_at
        super().__init__(f"{source}: rate limited until epoch {reset_at:.0f}{': ' + detail if detail else ''}")


@dataclass(frozen=True, slots=True)
class IdentityClaim:
    """A platform's own statement that ``account`` has this ``phone`` or ``email`` (``kind``), e.g. a
    Telegram user sharing their own contact card. ``value`` is as the platform gave it (normalised when
    stored, :func:`graph.identity.apply_claims`); ``evidence`` says where it was seen."""

    account: AccountRef
    kind: str
    value: str
    evidence: str


@dataclass(frozen=True, slots=True)
class Page:
    """One raw payload as the platform sent it, and the cursor to store once it is stored (or ``None``)."""

    raw: Any
    cursor: str | None = None


@runtime_checkable
class Connector(Protocol):
    """A live source. ``name`` is its registry name and the graph cursor's source key (``platform`` is
    the ``Interaction.platform`` it produces). ``push`` is true for webhook-only sources."""

    name: str
    platform: str
    push: bool

    def fetch(self, cursor: str | None) -> Iterator[Page]:
        """Pages after ``cursor`` (the last stored one, ``None`` on the first run), oldest cursor first."""
        ...

    def to_interactions(self, raw: Any) -> list[Interaction]:
        """Pure mapping of one raw payload; :class:`MappingError` if it cannot be read."""
        ...


class PushConnector:
    """Base of the webhook-only sources (WhatsApp, Meta): payloads arrive at
    ``POST /webhooks/<name>``, so :meth:`fetch` yields nothing; a subclass sets
    ``name`` and ``platform`` and gives the pure :meth:`to_interactions`."""

    name: str
    platform: str
    push = True

    def __init__(self, config: Any = None) -> None:
        self.config = config

    def fetch(self, cursor: str | None) -> Iterator[Page]:
        return iter(())

    def to_interactions(self, raw: Any) -> list[Interaction]:
        raise NotImplementedError


#: Registered connector factories by name: ``factory(config) -> Connector``.
REGISTRY: dict[str, Callable[[Any], Connector]] = {}


def register(name: str) -> Callable[[Callable[[Any], Connector]], Callable[[Any], Connector]]:
    """Class or function decorator adding a connector factory to :data:`REGISTRY` under ``name``."""
    def deco(factory: Callable[[Any], Connector]) -> Callable[[Any], Connector]:
        REGISTRY[name] = factory
        return factory
    return deco


def cursor_key(name: str) -> str:
    """The ``(:Cursor {source})`` key of a connector.

    >>> cursor_key("twitter")
    'connector:twitter'
    """
    return f"connector:{name}"


@dataclass
class CrawlReport:
    """What one crawl pass did; ``busy`` when it did nothing because another crawl of the
    same source held its lock (:func:`workers.crawl.crawl_once`)."""

    source: str
    pages: int = 0
    read: int = 0
    new: int = 0
    linked: int = 0
    cursor: str | None = None
    busy: bool = False


def crawl(connector: Connector, store: Any, *, brand_accounts: tuple[str, ...] | list[str] = (),
          before_fetch: Callable[[], None] | None = None,
          after_page: Callable[[int], None] | None = None) -> CrawlReport:
    """One pass of a pull connector: fetch from the stored cursor, store each page, then move the cursor.

    Idempotent: a page fetched twice is stored once (interaction ids are the
    platform's). A page whose payload cannot be mapped stops the pass with
    :class:`MappingError` before its cursor is stored.

    Hooks, for the workers (:mod:`workers.crawl`): ``before_fetch()`` runs
    before each request for a page, including the last one that finds no more
    (a rate-limit budget's ``take``; an exception it raises stops the pass with
    nothing lost); ``after_page(n)`` runs once a page of ``n`` interactions is
    stored and its cursor moved (a lock's lease renewal, metrics).

    >>> class Two:
    ...     name, platform, push = "two", "two", False
    ...     def fetch(self, cursor):
    ...         yield from (Page({"n": i}, cursor=str(i)) for i in range(2))
    ...     def to_interactions(self, raw):
    ...         return []
    >>> class Store:
    ...     cursors = {}
    ...     def get_cursor(self, key): return self.cursors.get(key)
    ...     def set_cursor(self, key, value): self.cursors[key] = value
    ...     def upsert_interactions(self, interactions, brand_accounts=()): return 0
    >>> calls = []
    >>> crawl(Two(), Store(), before_fetch=lambda: calls.append("fetch"),
    ...       after_page=lambda n: calls.append(f"stored {n}")).cursor
    '1'
    >>> calls
    ['fetch', 'stored 0', 'fetch', 'stored 0', 'fetch']
    """
    key = cursor_key(connector.name)
    report = CrawlReport(connector.name, cursor=store.get_cursor(key))
    pages = iter(connector.fetch(report.cursor))
    while True:
        if before_fetch is not None:
            before_fetch()
        page = next(pages, None)  # the request for the page happens here, after before_fetch
        if page is None:
            break
        interactions = connector.to_interactions(page.raw)
        report.pages += 1
        report.read += len(interactions)
        report.new += store.upsert_interactions(interactions, brand_accounts=brand_accounts)
        to_claims = getattr(connector, "to_claims", None)  # optional: phones/e-mails the platform states
        claims = to_claims(page.raw) if to_claims else []
        if claims:
            from graph.identity import apply_claims

            report.linked += apply_claims(store, claims).linked
        if page.cursor is not None and page.cursor != report.cursor:
            store.set_cursor(key, page.cursor)
            report.cursor = page.cursor
        if after_page is not None:
            after_page(len(interactions))
    log.info("crawl %s: %d pages, %d read, %d new, cursor %s", connector.name, report.pages, report.read,
             report.new, report.cursor)
    return report
