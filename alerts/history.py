"""Alert history in the graph: store new alerts once, list them, acknowledge them.

Alerts are ``(:Alert {id, key, rule, severity, subject, subject_kind, title,
reason, evidence, evidence_ids, created_at, event_at, acknowledged,
acknowledged_at})-[:ABOUT]->(:Person|:Community)``, with
``-[:DELIVERY]->(:Delivery)`` per notifier (:mod:`alerts.delivery`). ``evidence`` is a JSON
string (a property cannot hold a list of maps); ``evidence_ids`` lists the
message ids, so erasing a person can find the alerts that quote them. The
``ABOUT`` link goes when its community is dropped by a later scoring; the
alert keeps ``subject``.

Storing is ``MERGE (a:Alert {id})`` with ``ON CREATE SET``, in one managed
transaction, under the uniqueness constraint ``alert_id``: an alert already
stored (same id) is left as it is, and a concurrent or retried run cannot
store it twice.
"""

from __future__ import annotations

import json
import logging
import uuid
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from neo4j import ManagedTransaction

from alerts.records import Alert, Evidence
from graph.store import GraphStore

__all__ = ["ensure_schema", "save_alerts", "fresh", "list_alerts", "acknowledge", "alert_from_row"]

log = logging.getLogger(__name__)

SCHEMA = (
    "CREATE CONSTRAINT alert_id IF NOT EXISTS FOR (a:Alert) REQUIRE a.id IS UNIQUE",
    "CREATE INDEX alert_key IF NOT EXISTS FOR (a:Alert) ON (a.key)",  # the cooldown look-up
)
_READY: "weakref.WeakSet[GraphStore]" = weakref.WeakSet()

_SAVE = """
UNWIND $rows AS r
MERGE (a:Alert {id: r.id})
ON CREATE SET a.key = r.key, a.rule = r.rule, a.severity = r.severity, a.subject = r.subject,
    a.subject_kind = r.subject_kind, a.title = r.title, a.reason = r.reason, a.evidence = r.evidence,
    a.evidence_ids = r.evidence_ids, a.created_at = datetime(r.created_at), a.event_at = datetime(r.event_at),
    a.acknowledged = false, a.run = $run
WITH a WHERE a.run = $run
RETURN a.id AS id
"""

_LINK = """
UNWIND $rows AS r
MATCH (a:Alert {id: r.id})
MATCH (s:{label} {id: r.subject})
MERGE (a)-[:ABOUT]->(s)
"""

_FIELDS = """
a.id AS id, a.rule AS rule, a.severity AS severity, a.subject AS subject, a.subject_kind AS subject_kind,
a.title AS title, a.reason AS reason, a.evidence AS evidence, a.created_at AS created_at, a.event_at AS event_at,
coalesce(a.acknowledged, false) AS acknowledged, a.acknowledged_at AS acknowledged_at
"""


def ensure_schema(store: GraphStore) -> None:
    """Create the ``alert_id`` uniqueness constraint and the ``alert_key``
    index (``IF NOT EXISTS``), once per store object."""
    if store in _READY:
        return
    for statement in SCHEMA:
        store._write(lambda tx, s=statement: tx.run(s).consume())
    _READY.add(store)


def fresh(store: GraphStore, alerts: Sequence[Alert], cooldown_hours: Mapping[str, float]) -> list[Alert]:
    """The alerts worth storing: not stored already (same id) and not within
    ``cooldown_hours[rule]`` of an earlier alert with the same ``rule:subject``.

    The id already confines an alert to one cooldown window; this also keeps
    an event just past a window's edge from repeating an alert raised just
    before it.
    """
    if not alerts:
        return []
    ensure_schema(store)
    earlier: dict[str, list[tuple[str, datetime | None]]] = {}
    for row in store.fetch("MATCH (a:Alert) WHERE a.key IN $keys RETURN a.key AS key, a.id AS id, "
                           "a.event_at AS event_at", keys=sorted({a.key for a in alerts})):
        earlier.setdefault(row["key"], []).append((row["id"], _native(row["event_at"])))
    out = []
    for alert in alerts:
        cooldown = timedelta(hours=cooldown_hours.get(alert.rule, 0.0))
        seen = earlier.get(alert.key, [])
        if any(aid == alert.id for aid, _ in seen):
            continue
        if alert.event_at is not None and any(t is not None and abs(alert.event_at - t) < cooldown for _, t in seen):
            log.debug("alert %s held back: %s alerted less than %s before", alert.id, alert.key, cooldown)
            continue
        out.append(alert)
    return out


def save_alerts(store: GraphStore, alerts: Sequence[Alert]) -> list[Alert]:
    """Store ``alerts`` and link each to its subject; return those that were
    not stored before (in the order given). Idempotent."""
    if not alerts:
        return []
    ensure_schema(store)
    rows = [{
        "id": a.id, "key": a.key, "rule": a.rule, "severity": a.severity, "subject": a.subject,
        "subject_kind": a.subject_kind, "title": a.title, "reason": a.reason,
        "evidence": json.dumps([e.as_dict() for e in a.evidence], ensure_ascii=False),
        "evidence_ids": [e.message_id for e in a.evidence],
        "created_at": a.created_at.isoformat(), "event_at": (a.event_at or a.created_at).isoformat(),
    } for a in alerts]
    run = uuid.uuid4().hex

    def work(tx: ManagedTransaction) -> set[str]:
        created = {r["id"] for r in tx.run(_SAVE, rows=rows, run=run).data()}
        for label in ("Person", "Community"):
            linked = [r for r in rows if r["subject_kind"] == label]
            if linked:
                tx.run(_LINK.replace("{label}", label), rows=linked).consume()
        return created

    created = store._write(work)
    return [a for a in alerts if a.id in created]


def list_alerts(store: GraphStore, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Stored alerts, newest first (by ``created_at``, then id), at most ``limit``.

    ``since`` keeps those created at or after it. Each dict has the fields of
    :class:`~alerts.records.Alert` (``evidence`` as a list of dicts, times as
    UTC datetimes) plus ``acknowledged``, ``acknowledged_at`` and
    ``deliveries`` (each notifier's outcome: ``notifier, status, attempts, error, at``).
    """
    from alerts.delivery import list_deliveries

    ensure_schema(store)
    where = "WHERE a.created_at >= $since" if since is not None else ""
    rows = store.fetch(f"MATCH (a:Alert) {where} RETURN {_FIELDS} ORDER BY created_at DESC, id DESC LIMIT $limit",
                       since=_aware(since) if since is not None else None, limit=int(limit))
    for row in rows:
        for key in ("created_at", "event_at", "acknowledged_at"):
            row[key] = _native(row[key])
        row["evidence"] = [_evidence_dict(e) for e in json.loads(row["evidence"] or "[]")]
    deliveries = list_deliveries(store, [row["id"] for row in rows])
    for row in rows:
        row["deliveries"] = deliveries.get(row["id"], [])
    return rows


def acknowledge(store: GraphStore, alert_id: str) -> bool:
    """Mark an alert as seen. True when it exists (acknowledging twice keeps
    the first time), False when there is no such alert."""
    ensure_schema(store)
    n = store._write(lambda tx: tx.run(
        "MATCH (a:Alert {id: $id}) SET a.acknowledged = true, "
        "a.acknowledged_at = coalesce(a.acknowledged_at, datetime($at)) RETURN count(a) AS n",
        id=alert_id, at=datetime.now(timezone.utc).isoformat()).single()["n"])
    return bool(n)


def alert_from_row(row: Mapping[str, Any]) -> Alert:
    """An :class:`Alert` back from a :func:`list_alerts` row (e.g. to send it again)."""
    return Alert(row["id"], row["rule"], row["severity"], row["subject"], row["title"], row["reason"],
                 tuple(Evidence(e["message_id"], e["text"], e["ts"], e["polarity"]) for e in row["evidence"]),
                 created_at=row["created_at"], subject_kind=row["subject_kind"], event_at=row["event_at"])


def _evidence_dict(data: dict[str, Any]) -> dict[str, Any]:
    e = Evidence.from_dict(data)
    return {"message_id": e.message_id, "text": e.text, "ts": e.ts, "polarity": e.polarity}


def _native(value: Any) -> datetime | None:
    """A driver DateTime (or None) as an aware UTC :class:`datetime`."""
    if value is None:
        return None
    if hasattr(value, "to_native"):
        value = value.to_native()
    return _aware(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{value!r} must be timezone-aware")
    return value.astimezone(timezone.utc)
