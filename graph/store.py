"""The graph store: Agora's property graph behind the official ``neo4j`` driver.

One class, :class:`GraphStore`, talks Cypher for Neo4j 5 over Bolt, to a Neo4j
server or to the embedded ArcadeDB server (:mod:`graph.server`) alike.

Every write is a batched ``UNWIND $rows ... MERGE`` inside a managed
transaction, so a batch lands whole or not at all and can be retried: the
driver retries transient errors itself, and this module retries the
``ConstraintError`` that two concurrent MERGEs of the same node raise, and a
server that went away, with a bounded backoff. Re-running any write adds
nothing: messages are keyed by interaction id, accounts by
``platform:native_id``, and the person-to-person projection is *set* from the
messages, never incremented. A batch first writes the nodes other batches
share (accounts, parents it points to) in a short transaction, then its
messages with all their edges in one: messages the graph does not hold yet
are CREATEd with their edges, in one statement (which ids exist is read in that
transaction), messages already stored are MERGEd, so a stored message always
has its edges. The store remembers the accounts it has written and does not
read them back in later batches; the writes count what they found, and a batch
that finds a remembered account gone is rolled back and written again without
trusting the memory.

Each message keeps two times of the graph server's clock (``timestamp()``,
epoch ms): ``stored_at``, when it was first stored, and ``changed``, when it
was last written (stored again, classified; indexed). A worker's rescore
reads only the messages changed since its last one
(:meth:`GraphStore.changed_messages`); merges, splits and erasures set the
``scoring:run`` cursor stale so that its next rescore is a full one.

Schema (see DESIGN.md): ``(:Account)-[:OF]->(:Person)``,
``(:Account)-[:POSTED]->(:Message)``, ``(:Message)-[:ADDRESSES]->(:Account)``
for the accounts a message responds to, ``(:Message)-[:MENTIONS]->(:Account)``,
``(:Message)-[:REPLIES_TO|QUOTES|SHARES]->(:Message)``,
``(:Person)-[:INTERACTS]->(:Person)``, ``(:Person)-[:MEMBER_OF]->(:Community)``,
``(:Cursor {source, position})``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ContextManager, TypeVar

from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import AuthError, ConstraintError, ServiceUnavailable, SessionExpired, TransientError

from agora.records import Interaction, Kind, Sentiment
from graph.cypher_guard import WriteQueryError, check_read_only
from graph.messages import MessageRow

__all__ = ["GraphStore", "EdgeRow", "WriteQueryError", "connect", "SCORING_RUN"]

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA = (
    "CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE",
    "CREATE CONSTRAINT account_key IF NOT EXISTS FOR (a:Account) REQUIRE a.key IS UNIQUE",
    "CREATE CONSTRAINT message_id IF NOT EXISTS FOR (m:Message) REQUIRE m.id IS UNIQUE",
    "CREATE CONSTRAINT community_id IF NOT EXISTS FOR (c:Community) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT cursor_source IF NOT EXISTS FOR (c:Cursor) REQUIRE c.source IS UNIQUE",
    "CREATE INDEX message_changed IF NOT EXISTS FOR (m:Message) ON (m.changed)",
)

# A new account gets a person of its own (id = the account key); an account
# already linked to a person (by identity resolution) keeps it.
_UPSERT_ACCOUNTS = """
UNWIND $rows AS a
MERGE (acc:Account {key: a.key})
ON CREATE SET acc.platform = a.platform, acc.native_id = a.native_id
SET acc.handle = coalesce(a.handle, acc.handle), acc.brand = a.brand
WITH acc, a
OPTIONAL MATCH (acc)-[:OF]->(owner:Person)
WITH acc, a, owner WHERE owner IS NULL
MERGE (p:Person {id: a.key})
ON CREATE SET p.name = coalesce(a.handle, a.native_id)
SET p.brand = a.brand
MERGE (acc)-[:OF]->(p)
"""

_UPSERT_MESSAGES = """
UNWIND $rows AS r
MERGE (m:Message {id: r.id})
WITH m, r, m.ts IS NULL AS fresh
SET m.stored_at = CASE WHEN fresh THEN timestamp() ELSE coalesce(m.stored_at, 0) END, m.changed = timestamp(),
    m.platform = r.platform, m.kind = r.kind, m.ts = datetime({epochSeconds: r.s, nanosecond: r.ns}), m.text = r.text,
    m.conversation = r.conversation, m.parent_id = r.parent_id, m.source = r.source,
    m.lang = coalesce(m.lang, r.lang)
WITH m, r
MATCH (a:Account {key: r.actor})
MERGE (a)-[:POSTED]->(m)
RETURN count(*) AS n
"""

_LINK_ACCOUNTS = """
UNWIND $rows AS r
MATCH (m:Message {id: r.message})
MATCH (b:Account {key: r.account})
MERGE (m)-[:{rel}]->(b)
RETURN count(*) AS n
"""

_LINK_PARENTS = """
UNWIND $rows AS r
MATCH (m:Message {id: r.message})
MERGE (p:Message {id: r.parent})
MERGE (m)-[:{rel}]->(p)
"""

_PARENT_REL = {Kind.REPLY: "REPLIES_TO", Kind.QUOTE: "QUOTES", Kind.SHARE: "SHARES"}
_NO_PARENT: dict[str, list[str]] = {rel: [] for rel in _PARENT_REL.values()}

# The fast path for messages the graph does not hold yet (most of an import). Which
# ids exist is read first, in the same transaction; a message and all its edges are
# written in one transaction, so a message that exists with a timestamp has them
# all, and a new one can CREATE its edges instead of MERGE-ing them (a MERGE of a
# relationship scans the node's edges). Messages already stored take the MERGE path.
_KNOWN_MESSAGES = """
UNWIND $ids AS id
MATCH (m:Message {id: id})
RETURN m.id AS id, m.ts IS NOT NULL AS stored
"""

_KNOWN_ACCOUNTS = """
UNWIND $keys AS k
MATCH (a:Account {key: k})
OPTIONAL MATCH (a)-[:OF]->(p:Person)
RETURN a.key AS key, a.handle AS handle, a.brand AS brand, count(p) AS owners
"""

# A new message with all its edges in one statement: one pass over the rows instead of
# one per relationship type (ArcadeDB's Cypher engine spends most of an import's time
# per statement and per row lookup). The accounts and the parents outside the batch
# exist (``shared`` wrote them first), so the MERGEs only find them; a row's parent
# lists are empty when its parent is new in the same batch (see below).
_CREATE_MESSAGES = """
UNWIND $rows AS r
MATCH (a:Account {key: r.actor})
CREATE (a)-[:POSTED]->(m:Message {id: r.id, platform: r.platform, kind: r.kind,
                                  ts: datetime({epochSeconds: r.s, nanosecond: r.ns}), text: r.text,
                                  conversation: r.conversation, parent_id: r.parent_id, source: r.source,
                                  lang: r.lang, stored_at: timestamp(), changed: timestamp()})
FOREACH (k IN r.targets | MERGE (b:Account {key: k}) CREATE (m)-[:ADDRESSES]->(b))
FOREACH (k IN r.mentions | MERGE (b:Account {key: k}) CREATE (m)-[:MENTIONS]->(b))
FOREACH (k IN r.REPLIES_TO | MERGE (p:Message {id: k}) CREATE (m)-[:REPLIES_TO]->(p))
FOREACH (k IN r.QUOTES | MERGE (p:Message {id: k}) CREATE (m)-[:QUOTES]->(p))
FOREACH (k IN r.SHARES | MERGE (p:Message {id: k}) CREATE (m)-[:SHARES]->(p))
RETURN count(*) AS n
"""

# The parent edges of new messages whose parent is new in the same batch, every type in
# one statement: such a parent exists only once the statement above has run.
_CREATE_PARENT_LINKS = """
UNWIND $rows AS r
MATCH (m:Message {id: r.message})
MERGE (p:Message {id: r.parent})
FOREACH (_ IN CASE WHEN r.rel = 'REPLIES_TO' THEN [1] ELSE [] END | CREATE (m)-[:REPLIES_TO]->(p))
FOREACH (_ IN CASE WHEN r.rel = 'QUOTES' THEN [1] ELSE [] END | CREATE (m)-[:QUOTES]->(p))
FOREACH (_ IN CASE WHEN r.rel = 'SHARES' THEN [1] ELSE [] END | CREATE (m)-[:SHARES]->(p))
"""

# Person-level interaction events for scoring: one row per message and target
# account; a mention of an account the message also addresses is dropped later.
_EDGE_EVENTS = """
MATCH (a:Account)-[:POSTED]->(m:Message)-[r:ADDRESSES|MENTIONS]->(b:Account)
MATCH (a)-[:OF]->(p:Person), (b)-[:OF]->(q:Person)
RETURN p.id AS source, q.id AS target, type(r) AS rel, m.kind AS kind, m.ts AS ts,
       m.polarity AS polarity, m.id AS message
"""

# The same for some messages only (the incremental rescore's new ones), walked from each message:
# ArcadeDB plans the pattern above from its start even with ``m`` bound (100 of 10k messages: 6 s, this 0.2 s).
# (Self-interactions, which the pattern above leaves out, are dropped by edge_rows.)
_EDGE_EVENTS_OF = """
UNWIND $ids AS id MATCH (m:Message {id: id})
MATCH (m)<-[:POSTED]-(a:Account)-[:OF]->(p:Person)
MATCH (m)-[r:ADDRESSES|MENTIONS]->(b:Account)-[:OF]->(q:Person)
RETURN p.id AS source, q.id AS target, type(r) AS rel, m.kind AS kind, m.ts AS ts,
       m.polarity AS polarity, m.id AS message
"""

# Messages written (stored, classified, stored again) since a time of the server's clock, with when they
# were first stored: what an incremental rescore reads.
_CHANGED_MESSAGES = """
MATCH (m:Message) WHERE m.changed >= $since AND m.ts IS NOT NULL
MATCH (a:Account)-[:POSTED]->(m), (a)-[:OF]->(p:Person)
RETURN p.id AS person, m.id AS id, m.ts AS ts, m.polarity AS polarity, coalesce(m.stored_at, 0) AS stored_at,
       m.changed AS changed
"""

SCORING_RUN = "scoring:run"  # the cursor naming the last rescore written, or "stale:..." after identity changes


@dataclass(frozen=True, slots=True)
class EdgeRow:
    """One person-to-person interaction read back from the graph."""

    source: str
    target: str
    kind: str
    timestamp: datetime
    polarity: float | None
    message_id: str


class GraphStore:
    """A connection to one graph database. One per process; thread-safe
    (each call opens its own session). Use as a context manager or ``close()``."""

    def __init__(self, driver: Driver, *, database: str | None = None, batch_size: int = 2000,
                 max_attempts: int = 6) -> None:
        self.driver = driver
        self.database = database
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        #: Held around each ingest batch's writes when set (``workers.serial_graph_writes``): a
        #: server with optimistic page-level concurrency (ArcadeDB) makes parallel writers
        #: abort each other (on the edge lists of the accounts both batches link to: "Edge list
        #: IN head chunk ... not visible yet"); taking turns is faster there. ``None``: no guard.
        self.write_guard: Callable[[], ContextManager[Any]] | None = None
        #: Accounts this store wrote or found with a person, as ``key → (handle, brand)``: a batch
        #: skips reading them back. A stale entry (the account was deleted since, by a reset or an
        #: erasure elsewhere) is caught by the batch's CREATE, which then creates a node too many
        #: or a message too few; the batch is rolled back and written again without the cache.
        self._accounts_seen: dict[str, tuple[str | None, bool]] = {}

    # -- plumbing ---------------------------------------------------------

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> "GraphStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, work: Callable[[ManagedTransaction], T]) -> T:
        """Run ``work`` in a managed write transaction, retrying what is safe to retry."""
        delay = 0.2
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.driver.session(database=self.database) as session:
                    return session.execute_write(work)
            except (ConstraintError, TransientError, ServiceUnavailable, SessionExpired, AuthError) as exc:
                # A server shutting down tells its open connections that their credentials
                # "are no longer valid" (ArcadeDB): a restart, not a wrong password.
                if attempt == self.max_attempts or (isinstance(exc, AuthError) and not _dropped(exc)):
                    raise
                log.warning("graph write failed (%s: %s); retry %d/%d in %.1f s", type(exc).__name__,
                            str(exc).splitlines()[0][:200], attempt, self.max_attempts - 1, delay)
                time.sleep(delay * random.uniform(0.5, 1.5))  # jitter: contending writers drift apart
                delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")

    def fetch(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        """Run trusted (Agora's own) read Cypher; for user Cypher use :meth:`read_query`."""
        with self.driver.session(database=self.database) as session:
            return session.execute_read(lambda tx: tx.run(cypher, **params).data())

    def _batches(self, rows: Sequence[T]) -> Iterator[Sequence[T]]:
        for start in range(0, len(rows), self.batch_size):
            yield rows[start:start + self.batch_size]

    def ensure_schema(self) -> None:
        """Create the uniqueness constraints (named, ``IF NOT EXISTS``)."""
        for statement in SCHEMA:
            self._write(lambda tx, s=statement: tx.run(s).consume())

    def clear(self) -> None:
        """Delete every node and relationship (tests and ``agora graph reset``)."""
        self._accounts_seen.clear()
        while True:
            deleted = self._write(lambda tx: tx.run(
                "MATCH (n) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS n").single()["n"])
            if not deleted:
                return

    # -- ingest -----------------------------------------------------------

    def upsert_interactions(self, interactions: Iterable[Interaction], *, brand_accounts: Iterable[str] = (),
                            progress: Callable[[int], None] | None = None) -> int:
        """Store interactions, batch by batch; returns how many were new.

        Idempotent: an interaction already stored (same id) is updated in
        place, and its edges are merged, never duplicated. "New" is what each
        batch's transaction found not stored yet (read in that transaction), so
        the count costs no scan of the graph and a message another writer
        stores at the same time counts once, for whichever stored it.
        """
        brand = set(brand_accounts)
        new = 0
        batch: dict[str, Interaction] = {}
        for interaction in interactions:
            batch[interaction.id] = interaction
            if len(batch) >= self.batch_size:
                new += self._write_batch(list(batch.values()), brand)
                if progress:
                    progress(len(batch))
                batch = {}
        if batch:
            new += self._write_batch(list(batch.values()), brand)
            if progress:
                progress(len(batch))
        return new

    def _write_batch(self, batch: list[Interaction], brand: set[str], *, trust_cache: bool = True) -> int:
        """Write one batch (distinct ids); returns how many of its messages were not stored before."""
        accounts: dict[str, dict[str, Any]] = {}
        for it in batch:
            for ref in (it.actor, *it.targets, *it.mentions):
                row = accounts.get(ref.key)
                if row is None or (row["handle"] is None and ref.handle):
                    accounts[ref.key] = {"key": ref.key, "platform": ref.platform, "native_id": ref.native_id,
                                         "handle": ref.handle, "brand": ref.key in brand}
        seen = self._accounts_seen if trust_cache else {}
        unseen = [row for key, row in accounts.items() if not _same_account(row, seen.get(key))]
        cached = len(unseen) < len(accounts)  # some accounts are taken on trust: the writes check them
        messages = [{
            "id": it.id, "platform": it.platform, "kind": it.kind.value, **_epoch(it.timestamp),
            "text": it.text, "conversation": it.conversation_id, "parent_id": it.parent_id,
            "source": it.source, "lang": it.language, "actor": it.actor.key,
        } for it in batch]
        in_batch = {m["id"] for m in messages}
        outside_parents = sorted({it.parent_id for it in batch
                                  if it.parent_id and it.kind in _PARENT_REL and it.parent_id not in in_batch})

        def shared(tx: ManagedTransaction) -> dict[str, tuple[str | None, bool]]:
            # The nodes other batches share (accounts, parents outside the batch) go first, in a
            # short transaction of their own: concurrent writers then collide only briefly.
            stored: dict[str, tuple[str | None, bool]] = {}
            if unseen:
                known = tx.run(_KNOWN_ACCOUNTS, keys=[row["key"] for row in unseen]).data()
                changed = _changed_accounts({row["key"]: row for row in unseen}, known)
                if changed:
                    tx.run(_UPSERT_ACCOUNTS, rows=changed).consume()
                handles = {r["key"]: r["handle"] for r in known}
                stored = {row["key"]: (row["handle"] if row["handle"] is not None else handles.get(row["key"]),
                                       row["brand"]) for row in unseen}
            if outside_parents:
                tx.run("UNWIND $ids AS id MERGE (:Message {id: id})", ids=outside_parents).consume()
            return stored

        def work(tx: ManagedTransaction) -> int:
            # Read inside the transaction: a retried one reads again.
            known = {r["id"]: r["stored"] for r in tx.run(_KNOWN_MESSAGES, ids=[m["id"] for m in messages])}
            absent = [(m, it) for m, it in zip(messages, batch) if m["id"] not in known]
            if absent:
                creating = {m["id"] for m, _ in absent}
                rows, later = [], []
                for m, it in absent:
                    row = {**m, "targets": sorted({t.key for t in it.targets}),
                           "mentions": sorted({t.key for t in it.mentions}), **_NO_PARENT}
                    if it.parent_id and it.kind in _PARENT_REL:
                        if it.parent_id in creating:
                            later.append({"message": it.id, "parent": it.parent_id, "rel": _PARENT_REL[it.kind]})
                        else:
                            row[_PARENT_REL[it.kind]] = [it.parent_id]
                    rows.append(row)
                result = tx.run(_CREATE_MESSAGES, rows=rows)
                created = result.single(strict=True)["n"]
                nodes = result.consume().counters.nodes_created
                if cached and (created != len(rows) or nodes != len(rows)):
                    # An account this store had seen is gone (its actor's message was not created) or an
                    # account, or an outside parent, was created here: trust nothing cached, write again.
                    raise _StaleCache(f"{created} of {len(rows)} messages, {nodes} nodes created")
                if later:
                    tx.run(_CREATE_PARENT_LINKS, rows=later).consume()
            merged = [m for m in messages if m["id"] in known]  # stored, or a parent placeholder
            if merged:
                found = tx.run(_UPSERT_MESSAGES, rows=merged).single(strict=True)["n"]
                if cached and found != len(merged):
                    raise _StaleCache(f"{len(merged) - found} actors of stored messages missing")
                for rel, rows in _link_rows([it for it in batch if it.id in known]).items():
                    if rel in _PARENT_REL.values():
                        tx.run(_LINK_PARENTS.replace("{rel}", rel), rows=rows).consume()
                        continue
                    found = tx.run(_LINK_ACCOUNTS.replace("{rel}", rel), rows=rows).single(strict=True)["n"]
                    if cached and found != len(rows):
                        raise _StaleCache(f"{len(rows) - found} {rel} accounts of stored messages missing")
            return sum(1 for it in batch if not known.get(it.id))

        try:
            with self.write_guard() if self.write_guard else contextlib.nullcontext():
                stored = self._write(shared) if unseen or outside_parents else {}
                new = self._write(work)
        except _StaleCache as exc:
            log.info("cached accounts out of date (%s); writing the batch again without them", exc)
            self._accounts_seen.clear()
            return self._write_batch(batch, brand, trust_cache=False)
        if len(self._accounts_seen) + len(stored) > _ACCOUNT_CACHE_SIZE:
            self._accounts_seen.clear()
        self._accounts_seen.update(stored)
        return new

    # -- sentiment --------------------------------------------------------

    def messages_to_classify(self, limit: int | None = None) -> list[tuple[str, str | None]]:
        """Stored messages without a sentiment yet, as ``(id, text)``."""
        cypher = ("MATCH (m:Message) WHERE m.ts IS NOT NULL AND m.sentiment IS NULL "
                  "RETURN m.id AS id, m.text AS text ORDER BY m.id")
        if limit is not None:
            cypher += f" LIMIT {int(limit)}"
        return [(r["id"], r["text"]) for r in self.fetch(cypher)]

    def set_sentiments(self, results: Sequence[tuple[str, Sentiment]], *, model: str) -> None:
        """Write sentiment labels, scores and polarity onto messages."""
        rows = [{"id": mid, "label": s.label, "score": float(s.score), "polarity": float(s.polarity),
                 "lang": s.language, "flags": list(s.flags)} for mid, s in results]
        cypher = """
        UNWIND $rows AS r
        MATCH (m:Message {id: r.id})
        SET m.sentiment = r.label, m.sentiment_score = r.score, m.polarity = r.polarity,
            m.lang = coalesce(r.lang, m.lang), m.sentiment_flags = r.flags, m.sentiment_model = $model,
            m.changed = timestamp()
        """
        for chunk in self._batches(rows):
            self._write(lambda tx, c=chunk: tx.run(cypher, rows=c, model=model).consume())

    # -- scoring I/O ------------------------------------------------------

    def edge_rows(self, messages: Sequence[str] | None = None) -> Iterator[EdgeRow]:
        """Every person-to-person interaction, one per message and target person
        (of the ``messages`` ids only, when given).

        A mention of someone the message already addresses counts once, as the
        addressed kind; interactions between accounts of the same person are
        dropped.
        """
        best: dict[tuple[str, str], EdgeRow] = {}
        query, params = (_EDGE_EVENTS, {}) if messages is None else (_EDGE_EVENTS_OF, {"ids": list(messages)})
        with self.driver.session(database=self.database, fetch_size=10_000) as session:
            for r in session.run(query, **params):
                if r["source"] == r["target"] or r["ts"] is None:
                    continue
                kind = "mention" if r["rel"] == "MENTIONS" else r["kind"]
                key = (r["message"], r["target"])
                if key in best and kind == "mention":
                    continue
                best[key] = EdgeRow(r["source"], r["target"], kind, r["ts"].to_native(), r["polarity"], r["message"])
        return iter(best.values())

    def message_rows(self) -> list[MessageRow]:
        """Every stored message (posts included) with its author's person id,
        time and polarity: the activity and mood that sway and churn read."""
        rows = []
        with self.driver.session(database=self.database, fetch_size=10_000) as session:
            for r in session.run("MATCH (a:Account)-[:POSTED]->(m:Message) WHERE m.ts IS NOT NULL "
                                 "MATCH (a)-[:OF]->(p:Person) RETURN p.id AS person, m.id AS id, m.ts AS ts, "
                                 "m.polarity AS polarity"):
                rows.append(MessageRow(r["id"], r["person"], r["ts"].to_native(), r["polarity"]))
        return rows

    def clock(self) -> int:
        """The graph server's clock in epoch milliseconds: the time that messages'
        ``stored_at`` (first stored) and ``changed`` (last written) hold."""
        return int(self.fetch("RETURN timestamp() AS t")[0]["t"])

    def changed_messages(self, since: int) -> list[tuple[MessageRow, int, int]]:
        """Messages written at or after ``since`` (:meth:`clock` time): stored,
        stored again or classified; each with when it was first stored
        (``stored_at``; 0 when that was before Agora kept it) and last written."""
        with self.driver.session(database=self.database, fetch_size=10_000) as session:
            return [(MessageRow(r["id"], r["person"], r["ts"].to_native(), r["polarity"]), int(r["stored_at"]),
                     int(r["changed"])) for r in session.run(_CHANGED_MESSAGES, since=since)]

    def changed_ids(self, since: int) -> set[str]:
        """Ids of the messages written at or after ``since``."""
        return {r["id"] for r in self.fetch("MATCH (m:Message) WHERE m.changed >= $since RETURN m.id AS id",
                                            since=since)}

    def people_named(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """``id``, ``name`` and ``brand`` of the people with these ids."""
        return self.fetch("UNWIND $ids AS id MATCH (p:Person {id: id}) "
                          "RETURN p.id AS id, p.name AS name, coalesce(p.brand, false) AS brand", ids=list(ids))

    def mark_scores_stale(self) -> None:
        """Say that stored interactions changed other than by new messages (people merged, split or
        erased): the next rescore of a worker keeping the last one in memory is a full one."""
        self.set_cursor(SCORING_RUN, f"stale:{uuid.uuid4().hex}")

    def previous_scores(self) -> dict[str, Any]:
        """What the last scoring left: person → PageRank and community, and the
        projection's pair counts ``(source, target) → count`` (for incremental rescoring)."""
        people = self.fetch("MATCH (p:Person) WHERE p.pagerank IS NOT NULL "
                            "RETURN p.id AS id, p.pagerank AS pagerank, p.community AS community")
        pairs = self.fetch("MATCH (a:Person)-[e:INTERACTS]->(b:Person) RETURN a.id AS s, b.id AS t, e.count AS c")
        return {"pagerank": {r["id"]: r["pagerank"] for r in people},
                "communities": {r["id"]: r["community"] for r in people if r["community"] is not None},
                "counts": {(r["s"], r["t"]): r["c"] for r in pairs}}

    def people(self) -> list[dict[str, Any]]:
        """Every person with name, brand flag, message count and mean polarity."""
        return self.fetch("""
        MATCH (p:Person)
        OPTIONAL MATCH (p)<-[:OF]-(:Account)-[:POSTED]->(m:Message)
        RETURN p.id AS id, p.name AS name, coalesce(p.brand, false) AS brand, p.community AS community,
               count(m) AS messages, avg(m.polarity) AS sentiment_mean,
               min(m.ts) AS first_seen, max(m.ts) AS last_seen
        """)

    def write_people_scores(self, rows: Sequence[dict[str, Any]]) -> None:
        """Set score properties on people: each row is ``{"id": ..., "props": {...}}``."""
        cypher = "UNWIND $rows AS r MATCH (p:Person {id: r.id}) SET p += r.props"
        for chunk in self._batches(list(rows)):
            self._write(lambda tx, c=chunk: tx.run(cypher, rows=c).consume())

    def write_projection(self, edges: Sequence[dict[str, Any]], run_id: str) -> None:
        """Set the ``INTERACTS`` projection to exactly ``edges``.

        Each edge is ``{"source", "target", "weight", "count", "last_at", "sentiment_sum"}``;
        edges from an earlier run that are not in this one are deleted.
        """
        self._set_edges(edges, run_id)
        self._write(lambda tx: tx.run("MATCH ()-[e:INTERACTS]->() WHERE e.run <> $run DELETE e", run=run_id).consume())

    def decay_projection(self, factor: float, edges: Sequence[dict[str, Any]], run_id: str) -> None:
        """Multiply every ``INTERACTS`` weight by ``factor`` on the server (time moved on), then set
        ``edges`` (the pairs a batch added to or created) as :meth:`write_projection` does. No pair
        is deleted: this is the write of an incremental rescore, whose pairs only grow."""
        self._write(lambda tx: tx.run("MATCH ()-[e:INTERACTS]->() SET e.weight = e.weight * $f",
                                      f=float(factor)).consume())
        self._set_edges(edges, run_id)

    def _set_edges(self, edges: Sequence[dict[str, Any]], run_id: str) -> None:
        """MERGE each ``INTERACTS`` pair of ``edges`` and set its figures, tagged with ``run_id``."""
        cypher = """
        UNWIND $rows AS r
        MATCH (a:Person {id: r.source}), (b:Person {id: r.target})
        MERGE (a)-[e:INTERACTS]->(b)
        SET e.weight = r.weight, e.count = r.count, e.last_at = datetime(r.last_at),
            e.sentiment_sum = r.sentiment_sum, e.run = $run
        """
        rows = [{**e, "last_at": _iso(e["last_at"])} for e in edges]
        for chunk in self._batches(rows):
            self._write(lambda tx, c=chunk: tx.run(cypher, rows=c, run=run_id).consume())

    def write_communities(self, communities: Sequence[dict[str, Any]], members: Sequence[dict[str, str]],
                          run_id: str) -> None:
        """Set communities (``{"id", "size", "sentiment_mean", "label"}``) and
        membership (``{"person", "community"}``; a ``None`` community means none),
        removing what this run dropped."""
        upsert = """
        UNWIND $rows AS r
        MERGE (c:Community {id: r.id})
        SET c.size = r.size, c.sentiment_mean = r.sentiment_mean, c.label = r.label, c.run = $run
        """
        link = """
        UNWIND $rows AS r
        MATCH (p:Person {id: r.person}), (c:Community {id: r.community})
        MERGE (p)-[m:MEMBER_OF]->(c)
        SET m.run = $run
        """
        for chunk in self._batches(list(communities)):
            self._write(lambda tx, c=chunk: tx.run(upsert, rows=c, run=run_id).consume())
        for chunk in self._batches([m for m in members if m["community"] is not None]):
            self._write(lambda tx, c=chunk: tx.run(link, rows=c, run=run_id).consume())
        self._write(lambda tx: tx.run("MATCH (:Person)-[m:MEMBER_OF]->(:Community) WHERE m.run <> $run DELETE m",
                                      run=run_id).consume())
        self._write(lambda tx: tx.run("MATCH (c:Community) WHERE c.run <> $run DETACH DELETE c",
                                      run=run_id).consume())

    def community_assignment(self) -> dict[str, str]:
        """The stored community of every person who has one (for stable ids)."""
        rows = self.fetch("MATCH (p:Person)-[:MEMBER_OF]->(c:Community) RETURN p.id AS person, c.id AS community")
        return {r["person"]: r["community"] for r in rows}

    # -- cursors ----------------------------------------------------------

    def get_cursor(self, source: str) -> str | None:
        """The stored crawl position of ``source``, or ``None``."""
        rows = self.fetch("MATCH (c:Cursor {source: $s}) RETURN c.position AS p", s=source)
        return rows[0]["p"] if rows else None

    def set_cursor(self, source: str, position: str) -> None:
        self._write(lambda tx: tx.run("MERGE (c:Cursor {source: $s}) SET c.position = $p, c.updated = datetime()",
                                      s=source, p=position).consume())

    # -- queries ----------------------------------------------------------

    def count(self, label: str, *, stored_only: bool = False) -> int:
        """How many nodes carry ``label`` (messages: ``stored_only`` skips parent placeholders)."""
        if not label.isidentifier():
            raise ValueError(f"not a label: {label!r}")
        where = " WHERE n.ts IS NOT NULL" if stored_only else ""
        return self.fetch(f"MATCH (n:{label}){where} RETURN count(n) AS n")[0]["n"]

    def counts(self) -> dict[str, int]:
        """Node counts by label and relationship counts by type."""
        out = {label: self.count(label) for label in ("Person", "Account", "Message", "Community")}
        out["Message (stored)"] = self.count("Message", stored_only=True)
        for row in self.fetch("MATCH ()-[r]->() RETURN type(r) AS t, count(r) AS n"):
            out[row["t"]] = row["n"]
        return out

    def read_query(self, cypher: str, params: dict[str, Any] | None = None, *, limit: int = 10_000,
                   timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """Run user Cypher read-only: refused if it has a write clause
        (:class:`WriteQueryError`), run in a read transaction, and rolled back."""
        check_read_only(cypher)
        with self.driver.session(database=self.database, default_access_mode="READ") as session:
            tx = session.begin_transaction(timeout=timeout_s)
            try:
                result = tx.run(cypher, **(params or {}))
                rows = [_plain(record.data()) for _, record in zip(range(limit), result)]
            finally:
                tx.rollback()
                tx.close()
        return rows


_ACCOUNT_CACHE_SIZE = 500_000


class _StaleCache(Exception):
    """A batch found an account missing that :attr:`GraphStore._accounts_seen` holds (rolled back)."""


def _same_account(row: dict[str, Any], seen: tuple[str | None, bool] | None) -> bool:
    """Whether writing ``row`` would change nothing in an account last seen as ``seen``."""
    return seen is not None and seen[1] == row["brand"] and (row["handle"] is None or row["handle"] == seen[0])


def _changed_accounts(wanted: dict[str, dict[str, Any]], stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The account rows that :data:`_UPSERT_ACCOUNTS` would change: new accounts, accounts without a person,
    and accounts whose handle or brand flag differs."""
    have = {r["key"]: r for r in stored}
    out = []
    for key, row in wanted.items():
        old = have.get(key)
        if (old is None or not old["owners"] or bool(old["brand"]) != row["brand"]
                or (row["handle"] is not None and row["handle"] != old["handle"])):
            out.append(row)
    return out


def _link_rows(batch: list[Interaction]) -> dict[str, list[dict[str, str]]]:
    """Each interaction's edges by relationship type, one row per distinct (message, account or parent)."""
    out: dict[str, list[dict[str, str]]] = {}
    for rel, pairs in (("ADDRESSES", {(it.id, t.key) for it in batch for t in it.targets}),
                       ("MENTIONS", {(it.id, t.key) for it in batch for t in it.mentions})):
        if pairs:
            out[rel] = [{"message": m, "account": a} for m, a in sorted(pairs)]
    for it in batch:
        if it.parent_id and it.kind in _PARENT_REL:
            out.setdefault(_PARENT_REL[it.kind], []).append({"message": it.id, "parent": it.parent_id})
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch(ts: datetime) -> dict[str, int]:
    """A UTC timestamp (as :class:`Interaction` holds them) as the ``s`` and ``ns`` that
    ``datetime({epochSeconds: r.s, nanosecond: r.ns})`` turns back into the same UTC instant,
    to the microsecond. The server builds that several times faster than it parses an ISO
    string, and a Python ``datetime`` parameter costs the driver more than both."""
    delta = ts - _EPOCH
    return {"s": delta.days * 86_400 + delta.seconds, "ns": delta.microseconds * 1000}


def _dropped(exc: AuthError) -> bool:
    """An authentication error that means the server dropped a connection that was authenticated."""
    return "no longer valid" in str(exc)


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _plain(value: Any) -> Any:
    """Driver values → JSON-friendly Python (nodes as property maps, times as ISO)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def connect(uri: str, user: str, password: str | None, *, database: str | None = None,
            batch_size: int = 2000, connect_timeout_s: float = 15.0) -> GraphStore:
    """Open a store on a Bolt/Neo4j URI and check that the server answers."""
    driver = GraphDatabase.driver(uri, auth=(user, password or ""), connection_timeout=connect_timeout_s,
                                  max_transaction_retry_time=30.0)
    try:
        driver.verify_connectivity()
    except Exception:
        driver.close()
        raise
    return GraphStore(driver, database=database, batch_size=batch_size)
