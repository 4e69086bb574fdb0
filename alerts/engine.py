"""Run the alert rules on the scored graph and store what is new.

Call :func:`snapshot` before a rescore and :func:`evaluate` after it::

    before = snapshot(store)                  # who leads each community now (cheap read)
    rescore(store, config)
    new = evaluate(store, config, before)     # runs every enabled rule, stores and returns new alerts

**Time.** Windows end at ``now``, which defaults to the newest message in the
graph, not the wall clock: history imported from exports (dated in the past)
is judged on its own timeline, and a graph that receives nothing new raises
nothing new. The same time decides each alert's cooldown window, hence its id.

**Once only.** An alert's id is ``rule:subject:bucket``
(:func:`alerts.records.alert_id`); it is stored with ``MERGE``, so evaluating
the same graph again stores nothing and returns ``[]``. An alert is also held
back within ``cooldown_hours`` of an earlier one for the same rule and subject
(:func:`alerts.history.fresh`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from agora.config import Config
from alerts.history import _native, acknowledge, ensure_schema, fresh, list_alerts, save_alerts
from alerts.records import MAX_EVIDENCE, SEVERITIES, Alert, Evidence
from alerts.rules import (OVERALL, ChurnRow, CommunityTop, MessageRow, MoodWindows, PersonRow, VolumeSeries,
                          churn_risk, community_mood_drop, influencer_negative, new_influencer, volume_spike)
from graph.store import GraphStore

__all__ = ["Snapshot", "snapshot", "evaluate", "list_alerts", "acknowledge", "newest_message_time"]

log = logging.getLogger(__name__)

SNAPSHOT_DEPTH = 1000  # members kept per community: the largest allowed top_n

_RANKING = """
MATCH (p:Person)
WHERE p.community IS NOT NULL AND p.community_influence IS NOT NULL AND coalesce(p.brand, false) = false
WITH p ORDER BY p.community_influence DESC, p.pagerank DESC, p.id
WITH p.community AS community, collect(p.id) AS ranked
RETURN community, ranked[..$depth] AS top, size(ranked) AS members
"""

_COMMUNITIES = "MATCH (c:Community) RETURN c.id AS id, c.label AS label, c.size AS size, c.sentiment_mean AS mood"

_PEOPLE = """
MATCH (p:Person) WHERE p.id IN $ids
RETURN p.id AS id, p.name AS name, p.community AS community, p.influence AS influence,
       p.community_influence AS community_influence, coalesce(p.brand, false) AS brand
"""

_INFLUENTIAL_MESSAGES = """
MATCH (p:Person)
WHERE coalesce(p.brand, false) = false
  AND (coalesce(p.community_influence, -1.0) >= $ci OR coalesce(p.influence, -1.0) >= $gi)
MATCH (p)<-[:OF]-(:Account)-[:POSTED]->(m:Message)
WHERE m.ts > $start AND m.ts <= $end AND m.polarity IS NOT NULL
RETURN p.id AS person, p.name AS name, p.community AS community, p.influence AS influence,
       p.community_influence AS community_influence, m.id AS id, m.ts AS ts, m.polarity AS polarity, m.text AS text
"""

_MOOD_WINDOWS = """
MATCH (c:Community)<-[:MEMBER_OF]-(:Person)<-[:OF]-(:Account)-[:POSTED]->(m:Message)
WHERE m.ts > $start AND m.ts <= $end AND m.polarity IS NOT NULL
WITH c, m, CASE WHEN m.ts > $mid THEN 'recent' ELSE 'previous' END AS part
RETURN c.id AS community, c.label AS label, part, count(m) AS n, avg(m.polarity) AS mean
"""

_COMMUNITY_EVIDENCE = """
MATCH (c:Community {id: $id})<-[:MEMBER_OF]-(:Person)<-[:OF]-(:Account)-[:POSTED]->(m:Message)
WHERE m.ts > $start AND m.ts <= $end AND m.polarity IS NOT NULL
RETURN m.id AS id, m.text AS text, m.ts AS ts, m.polarity AS polarity
ORDER BY polarity ASC, ts DESC, id LIMIT $limit
"""

_ATTENTION_EVIDENCE = """
MATCH (p:Person {id: $id})<-[:OF]-(:Account)<-[:ADDRESSES|MENTIONS]-(m:Message)
WHERE m.ts IS NOT NULL AND m.ts <= $end
RETURN DISTINCT m.id AS id, m.text AS text, m.ts AS ts, m.polarity AS polarity
ORDER BY ts DESC, id LIMIT $limit
"""

_CHURN = """
MATCH (p:Person)
WHERE p.churn_risk IS NOT NULL AND p.churn_risk >= $min AND coalesce(p.brand, false) = false
  AND (coalesce(p.community_influence, -1.0) >= $ci OR coalesce(p.influence, -1.0) >= $gi)
RETURN p.id AS id, p.name AS name, p.community AS community, p.influence AS influence,
       p.community_influence AS community_influence, p.churn_risk AS churn_risk, p.churn_factors AS churn_factors
"""

_PERSON_EVIDENCE = """
MATCH (p:Person {id: $id})<-[:OF]-(:Account)-[:POSTED]->(m:Message)
WHERE m.ts > $start AND m.ts <= $end
RETURN m.id AS id, m.text AS text, m.ts AS ts, m.polarity AS polarity
ORDER BY polarity ASC, ts DESC, id LIMIT $limit
"""

# Messages per community and window: slot 0 is (end - w, end], slot k the k-th window before it.
_VOLUME = """
MATCH (a:Account)-[:POSTED]->(m:Message)
WHERE m.ts > $start AND m.ts <= $end
OPTIONAL MATCH (a)-[:OF]->(p:Person)
WITH p.community AS community, toInteger(floor(($end_s - m.ts.epochSeconds) / $w)) AS slot
RETURN community, slot, count(*) AS n
"""

_VOLUME_EVIDENCE = """
MATCH (p:Person {community: $id})<-[:OF]-(:Account)-[:POSTED]->(m:Message)
WHERE m.ts > $start AND m.ts <= $end
RETURN m.id AS id, m.text AS text, m.ts AS ts, m.polarity AS polarity
ORDER BY ts DESC, id LIMIT $limit
"""

_VOLUME_EVIDENCE_OVERALL = """
MATCH (:Account)-[:POSTED]->(m:Message)
WHERE m.ts > $start AND m.ts <= $end
RETURN m.id AS id, m.text AS text, m.ts AS ts, m.polarity AS polarity
ORDER BY ts DESC, id LIMIT $limit
"""


@dataclass(frozen=True)
class Snapshot:
    """The communities at one moment: their members ranked by influence
    within the community (at most :data:`SNAPSHOT_DEPTH`) and their mood.
    ``scored`` is False before the first scoring."""

    taken_at: datetime
    communities: dict[str, CommunityTop] = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        return bool(self.communities)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (e.g. to pass between Celery tasks); :meth:`from_dict` reads it back."""
        return {"taken_at": self.taken_at.isoformat(),
                "communities": [{"id": c.id, "label": c.label, "size": c.size, "sentiment_mean": c.sentiment_mean,
                                 "top": list(c.top)} for c in self.communities.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Snapshot":
        return cls(datetime.fromisoformat(data["taken_at"]),
                   {c["id"]: CommunityTop(c["id"], c["label"], c["size"], c["sentiment_mean"], tuple(c["top"]))
                    for c in data["communities"]})


def snapshot(store: GraphStore, *, depth: int = SNAPSHOT_DEPTH) -> Snapshot:
    """Who leads each community and each community's mood, as stored now.

    Call it before a rescore and pass it to :func:`evaluate` after.
    """
    return Snapshot(datetime.now(timezone.utc), {c.id: c for c in _community_tops(store, depth)})


def evaluate(store: GraphStore, config: Config, before: Snapshot | None, now: datetime | None = None) -> list[Alert]:
    """Run every enabled rule, store the alerts that are new, and return them
    (critical first).

    ``before`` is the :func:`snapshot` taken before the rescore (``None``:
    ``new_influencer`` is skipped). ``now`` ends the time windows and decides
    the cooldown windows; by default it is the newest message in the graph.
    Nothing is evaluated when ``alerts.enabled`` is false or the graph has no
    messages.
    """
    settings = config.alerts
    if not settings.enabled:
        return []
    oldest, newest = _message_span(store)  # one scan for both ends: evaluate runs after every batch
    reference = _aware(now) if now is not None else newest
    if reference is None:
        return []
    ensure_schema(store)
    created_at = datetime.now(timezone.utc)
    candidates: list[Alert] = []
    evidence_for: dict[str, Any] = {}

    rule = settings.influencer_negative
    if rule.enabled:
        start = reference - timedelta(days=rule.window_days)
        rows = store.fetch(_INFLUENTIAL_MESSAGES, start=start, end=reference,
                           ci=_threshold(rule.min_community_influence), gi=_threshold(rule.min_influence))
        people = [PersonRow(r["person"], r["name"], r["community"], r["influence"], r["community_influence"])
                  for r in rows]
        messages = [MessageRow(r["id"], r["person"], _native(r["ts"]), r["polarity"], r["text"]) for r in rows]
        candidates += influencer_negative(people, messages, rule, reference=reference, created_at=created_at)

    rule = settings.new_influencer
    if rule.enabled and before is not None and before.scored:
        top_n = rule.top_n or config.scoring.top_n
        now_tops = _community_tops(store, top_n)
        ids = sorted({pid for c in now_tops for pid in c.top})
        people_by_id = {r["id"]: PersonRow(**r) for r in store.fetch(_PEOPLE, ids=ids)} if ids else {}
        found = new_influencer(now_tops, before.communities.values(), people_by_id, rule, top_n=top_n,
                               reference=reference, created_at=created_at)
        candidates += found
        for a in found:
            evidence_for[a.id] = (_ATTENTION_EVIDENCE, {"id": a.subject, "end": reference})

    rule = settings.community_mood_drop
    if rule.enabled:
        mid = reference - timedelta(days=rule.window_days)
        start = mid - timedelta(days=rule.window_days)
        windows: dict[str, dict[str, Any]] = {}
        for r in store.fetch(_MOOD_WINDOWS, start=start, mid=mid, end=reference):
            w = windows.setdefault(r["community"], {"community": r["community"], "label": r["label"],
                                                    "recent_messages": 0, "recent_mean": None,
                                                    "previous_messages": 0, "previous_mean": None})
            w[f"{r['part']}_messages"], w[f"{r['part']}_mean"] = r["n"], r["mean"]
        found = community_mood_drop([MoodWindows(**w) for w in windows.values()], rule, reference=reference,
                                    created_at=created_at)
        candidates += found
        for a in found:
            evidence_for[a.id] = (_COMMUNITY_EVIDENCE, {"id": a.subject, "start": mid, "end": reference})

    rule = settings.churn_risk
    if rule.enabled:
        rows = store.fetch(_CHURN, min=float(rule.min_churn_risk) - 1e-9, ci=_threshold(rule.min_community_influence),
                           gi=_threshold(rule.min_influence))
        found = churn_risk([ChurnRow(PersonRow(r["id"], r["name"], r["community"], r["influence"],
                                               r["community_influence"]), r["churn_risk"], r["churn_factors"])
                            for r in rows], rule, reference=reference, created_at=created_at)
        candidates += found
        start = reference - timedelta(days=rule.evidence_days)
        for a in found:
            evidence_for[a.id] = (_PERSON_EVIDENCE, {"id": a.subject, "start": start, "end": reference})

    rule = settings.volume_spike
    if rule.enabled:
        found = volume_spike(_volume_series(store, rule, reference, oldest), rule, reference=reference,
                             created_at=created_at)
        candidates += found
        start = reference - timedelta(hours=rule.window_hours)
        for a in found:
            cypher = _VOLUME_EVIDENCE_OVERALL if a.subject == OVERALL else _VOLUME_EVIDENCE
            evidence_for[a.id] = (cypher, {"id": a.subject, "start": start, "end": reference})

    cooldowns = {name: getattr(settings, name).cooldown_hours for name in type(settings).model_fields
                 if hasattr(getattr(settings, name), "cooldown_hours")}
    new = fresh(store, candidates, cooldowns)
    new = [_with_evidence(store, a, evidence_for.get(a.id)) for a in new]
    stored = save_alerts(store, new)
    stored.sort(key=lambda a: (-SEVERITIES.index(a.severity), a.rule, a.subject))
    log.info("alerts: %d new (%d found, %d already raised or in cooldown)", len(stored), len(candidates),
             len(candidates) - len(stored))
    return stored


def newest_message_time(store: GraphStore) -> datetime | None:
    """The timestamp of the newest stored message (UTC), or None for an empty graph."""
    rows = store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN max(m.ts) AS newest")
    return _native(rows[0]["newest"]) if rows else None


def _message_span(store: GraphStore) -> tuple[datetime | None, datetime | None]:
    """The oldest and newest message times (UTC), or ``(None, None)`` for an empty graph."""
    rows = store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN min(m.ts) AS oldest, max(m.ts) AS newest")
    return (_native(rows[0]["oldest"]), _native(rows[0]["newest"])) if rows else (None, None)


def _volume_series(store: GraphStore, rule: Any, reference: datetime, oldest: datetime | None) -> list[VolumeSeries]:
    """Message counts per window, newest first, per community (if ``per_community``) and overall (if ``overall``)."""
    windows = rule.baseline_windows + 1
    width = rule.window_hours * 3600.0
    start = reference - timedelta(seconds=width * windows)
    counts: dict[str, list[int]] = {}
    for r in store.fetch(_VOLUME, start=start, end=reference, end_s=reference.timestamp(), w=width):
        slot = r["slot"]
        if slot is None or not 0 <= slot < windows:
            continue
        for subject in ((OVERALL,) if rule.overall else ()) + ((r["community"],) if rule.per_community and
                                                                r["community"] is not None else ()):
            counts.setdefault(subject, [0] * windows)[slot] += r["n"]
    labels = {r["id"]: r["label"] for r in store.fetch(_COMMUNITIES)} if rule.per_community else {}
    if rule.overall:
        counts.setdefault(OVERALL, [0] * windows)
    # Only whole windows after the first message count: before it there was no data, not silence.
    covered = max(1, int((reference - oldest).total_seconds() // width)) if oldest else 1
    return [VolumeSeries(subject, labels.get(subject), tuple(c[:covered])) for subject, c in sorted(counts.items())]


def _community_tops(store: GraphStore, depth: int) -> list[CommunityTop]:
    info = {r["id"]: r for r in store.fetch(_COMMUNITIES)}
    out = []
    for r in store.fetch(_RANKING, depth=int(depth)):
        c = info.get(r["community"], {})
        out.append(CommunityTop(r["community"], c.get("label"), int(c.get("size") or r["members"]),
                                c.get("mood"), tuple(r["top"])))
    return sorted(out, key=lambda c: c.id)


def _with_evidence(store: GraphStore, alert: Alert, query: tuple[str, dict[str, Any]] | None) -> Alert:
    if query is None or alert.evidence:
        return alert
    cypher, params = query
    rows = store.fetch(cypher, limit=MAX_EVIDENCE, **params)
    return replace(alert, evidence=tuple(Evidence(r["id"], r["text"], _native(r["ts"]), r["polarity"]) for r in rows))


def _threshold(value: float | None) -> float:
    """A percentile threshold for Cypher; ``None`` (not used) matches nobody."""
    return 1e9 if value is None else float(value) - 1e-9


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return value.astimezone(timezone.utc)
