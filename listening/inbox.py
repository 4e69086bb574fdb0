"""The webhook inbox: a durable Redis stream between the receivers and the graph.

A receiver appends the raw, verified body with :meth:`Inbox.put` *before* it
answers 200, so a payload Meta or Telegram saw acknowledged is on disk-backed
Redis, not in a process's memory. :meth:`Inbox.process` reads the stream with
a consumer group, maps each payload with its connector's pure mapping, stores
the interactions (idempotent: Meta's redeliveries are stored once) and only
then acknowledges the entries (``XACK``). Each interaction's ``source`` is
``<stream>#<entry id>``, the reference of the raw payload it came from. A processor that dies mid-batch
leaves its entries pending: it reads them again on restart, and another
processor claims them after ``claim_idle_ms``. A payload that cannot be
mapped is copied, with the reason, to the dead-letter stream ``<stream>:dead``
and logged; it never blocks the ones behind it. Processed entries stay in the
stream as the raw archive, trimmed to about ``keep_raw`` entries (keep it well
above any backlog the processor may build up: trimming does not look at
whether an entry was processed).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import redis

from agora.records import AccountRef, Interaction, Kind
from listening.connectors import meta, telegram, whatsapp
from listening.connectors.base import IdentityClaim, MappingError

__all__ = ["Inbox", "ProcessReport", "Mapped", "MAPPERS", "GROUP", "run_processor", "address_parent_authors"]

log = logging.getLogger(__name__)
GROUP = "agora-ingest"


@dataclass(frozen=True)
class Mapped:
    """What one payload holds: interactions, delivery receipts, identity claims, and why events were skipped."""

    interactions: list[Interaction]
    receipts: list[whatsapp.Receipt] = field(default_factory=list)
    claims: list[IdentityClaim] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


#: source name → pure mapping of one decoded payload.
MAPPERS: dict[str, Callable[[Any], Mapped]] = {
    "whatsapp": lambda p: Mapped(whatsapp.map_payload(p), receipts=whatsapp.map_statuses(p)),
    "meta": lambda p: Mapped(meta.map_payload(p), skipped=meta.skipped(p)),
    "telegram": lambda p: Mapped(telegram.map_updates(p), claims=telegram.map_claims(p)),
}

_RECEIPTS = """
UNWIND $rows AS r
MATCH (m:Message {id: r.id})
WHERE m.delivery_at IS NULL OR m.delivery_at <= datetime(r.at)
SET m.delivery_status = r.status, m.delivery_at = datetime(r.at)
"""


@dataclass
class ProcessReport:
    """What one :meth:`Inbox.process` call did."""

    entries: int = 0
    interactions: int = 0
    new: int = 0
    receipts: int = 0
    linked: int = 0
    dead: int = 0
    skipped: list[str] = field(default_factory=list)


class Inbox:
    """The stream ``stream`` on ``client`` (a ``redis.Redis`` with ``decode_responses=False``)."""

    def __init__(self, client: redis.Redis, stream: str = "agora:webhooks", *, keep_raw: int = 1_000_000,
                 consumer: str | None = None, claim_idle_ms: int = 60_000) -> None:
        self.redis, self.stream, self.keep_raw = client, stream, keep_raw
        self.dead_stream = f"{stream}:dead"
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.claim_idle_ms = claim_idle_ms
        self._group_ready = False

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> "Inbox":
        w = config.listening.webhooks
        client = redis.Redis.from_url(w.redis_url, socket_timeout=30, socket_connect_timeout=10)
        return cls(client, w.stream, keep_raw=w.keep_raw, **kwargs)

    def put(self, source: str, body: bytes) -> str:
        """Append one verified raw body; returns the entry id. Raises ``redis.RedisError`` if not stored."""
        entry = self.redis.xadd(self.stream, {"source": source, "body": body, "at": f"{time.time():.3f}"},
                                maxlen=self.keep_raw, approximate=True)
        return entry.decode() if isinstance(entry, bytes) else str(entry)

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _read(self, count: int, block_ms: int | None) -> list[tuple[bytes, dict[bytes, bytes]]]:
        # 1. our own pending entries (a previous run of this consumer died or the graph failed),
        # 2. entries another consumer left pending for claim_idle_ms, 3. new entries.
        own = self.redis.xreadgroup(GROUP, self.consumer, {self.stream: "0"}, count=count)
        entries = [e for e in (own[0][1] if own else []) if e[1]]
        if entries:
            return entries
        claimed = self.redis.xautoclaim(self.stream, GROUP, self.consumer, self.claim_idle_ms, "0-0", count=count)
        if claimed and claimed[1]:
            return [e for e in claimed[1] if e[1]]
        new = self.redis.xreadgroup(GROUP, self.consumer, {self.stream: ">"}, count=count, block=block_ms)
        return new[0][1] if new else []

    def process(self, store: Any, *, count: int = 500, block_ms: int | None = None,
                brand_accounts: list[str] | tuple[str, ...] = ()) -> ProcessReport:
        """Map and store up to ``count`` entries, then acknowledge them; waits ``block_ms`` for new ones.

        A graph failure propagates with nothing acknowledged (the entries are read again next time).
        """
        self._ensure_group()
        report = ProcessReport()
        entries = self._read(count, block_ms)
        if not entries:
            return report
        interactions: list[Interaction] = []
        receipts: list[whatsapp.Receipt] = []
        claims: list[IdentityClaim] = []
        dead: list[tuple[bytes, dict[bytes, bytes], str]] = []
        for entry_id, fields in entries:
            source = fields.get(b"source", b"?").decode()
            try:
                mapper = MAPPERS.get(source)
                if mapper is None:
                    raise MappingError(f"unknown source {source!r}")
                mapped = mapper(json.loads(fields[b"body"]))
            except (MappingError, ValueError, KeyError) as exc:
                dead.append((entry_id, fields, f"{type(exc).__name__}: {exc}"))
                continue
            # the raw payload reference: the stream entry that holds the body
            interactions += [replace(it, source=f"{self.stream}#{entry_id.decode()}") for it in mapped.interactions]
            receipts += mapped.receipts
            claims += mapped.claims
            report.skipped.extend(f"{source} {entry_id.decode()}: {w}" for w in mapped.skipped)
        report.entries, report.interactions, report.receipts = len(entries), len(interactions), len(receipts)
        interactions = address_parent_authors(store, interactions)
        if interactions:
            report.new = store.upsert_interactions(interactions, brand_accounts=brand_accounts)
        if receipts:
            rows = [{"id": r.message_id, "status": r.status, "at": r.timestamp.isoformat()} for r in receipts]
            store._write(lambda tx: tx.run(_RECEIPTS, rows=rows).consume())  # noqa: SLF001 (one small query)
        if claims:
            from graph.identity import apply_claims

            found = apply_claims(store, claims)
            report.linked = found.linked
            for line in [*found.conflicts, *found.pinned, *(str(i) for i in found.issues)]:
                log.warning("webhook identity claim: %s", line)
        for entry_id, fields, reason in dead:
            log.error("webhook %s %s not mappable, moved to %s: %s", fields.get(b"source", b"?").decode(),
                      entry_id.decode(), self.dead_stream, reason)
            self.redis.xadd(self.dead_stream, {**fields, "entry": entry_id, "reason": reason})
        for reason in report.skipped:
            log.info("webhook event kept raw, not mapped: %s", reason)
        report.dead = len(dead)
        self.redis.xack(self.stream, GROUP, *[e[0] for e in entries])
        return report

    def pending(self) -> int:
        """Entries not yet acknowledged (read or not)."""
        self._ensure_group()
        groups = [{(k.decode() if isinstance(k, bytes) else k): v for k, v in g.items()}
                  for g in self.redis.xinfo_groups(self.stream)]
        info = next((g for g in groups if _text(g.get("name")) == GROUP), None)
        lag = info.get("lag") if info else None
        return int(info["pending"]) + int(lag or 0) if info else 0


_PARENT_AUTHORS = """
UNWIND $ids AS id
MATCH (a:Account)-[:POSTED]->(m:Message {id: id})
RETURN id, a.platform AS platform, a.native_id AS native_id, a.handle AS handle
"""


def address_parent_authors(store: Any, interactions: list[Interaction]) -> list[Interaction]:
    """Replies whose payload names no addressee (a comment on a comment: Meta sends only the parent's
    id) get the parent's author as target, from the same batch or the graph; others are returned as
    they are. A parent not seen yet leaves the reply without a target (its ``parent_id`` is kept)."""
    missing = {it.parent_id for it in interactions if not it.targets and it.parent_id and it.kind is Kind.REPLY}
    if not missing:
        return interactions
    authors = {it.id: it.actor for it in interactions if it.id in missing}
    for row in store.fetch(_PARENT_AUTHORS, ids=sorted(missing - set(authors))):
        authors[row["id"]] = AccountRef(row["platform"], row["native_id"], row["handle"])
    out = []
    for it in interactions:
        author = authors.get(it.parent_id) if not it.targets and it.kind is Kind.REPLY else None
        out.append(replace(it, targets=(author,)) if author is not None and author != it.actor else it)
    return out


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def run_processor(inbox: Inbox, store: Any, stop: Any, *, brand_accounts: list[str] | tuple[str, ...] = (),
                  block_ms: int = 500, max_backoff_s: float = 60.0) -> None:
    """Process ``inbox`` into ``store`` until ``stop`` (a ``threading.Event``) is set.

    A failure (graph or Redis down) is logged and retried with exponential
    backoff up to ``max_backoff_s``; nothing is acknowledged until stored.
    """
    delay = 0.5
    while not stop.is_set():
        try:
            report = inbox.process(store, block_ms=block_ms, brand_accounts=brand_accounts)
            delay = 0.5
            if report.entries:
                log.info("webhooks: %d payloads, %d interactions (%d new), %d receipts, %d dead",
                         report.entries, report.interactions, report.new, report.receipts, report.dead)
        except Exception as exc:  # noqa: BLE001 (reported and retried: the loop must survive outages)
            log.error("webhooks: processing failed (%s: %s); retrying in %.1f s", type(exc).__name__, exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, max_backoff_s)
