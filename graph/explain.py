"""Explanations: what makes one person's scores (DESIGN.md step 6).

:func:`explain_person` gathers, for one person, everything a community
manager needs to trust a score: the scores themselves, who contributes the
attention behind their influence (and whom they pay attention to), their
interactions counted by kind, the sentiment trail of their recent messages,
the churn factors with each one's part of the risk, and the responses their
sway and susceptibility rest on. It reads only what the last rescore wrote
(the ``INTERACTS`` projection and the ``Person`` properties) and the messages.
"""

from __future__ import annotations

import json
from typing import Any

from agora.config import Config
from graph.churn import FACTORS
from graph.store import GraphStore

__all__ = ["PersonNotFound", "AmbiguousPerson", "resolve_person", "explain_person"]

_SCORES = ("name", "community", "influence", "community_influence", "intensity", "sentiment_mean", "pagerank",
           "sway", "sway_n", "susceptibility", "susceptibility_n", "churn_risk", "messages")


class PersonNotFound(KeyError):
    """No person has this id, account key or handle."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "person not found"


class AmbiguousPerson(ValueError):
    """A handle that belongs to several people; use the person id or account key."""


def resolve_person(store: GraphStore, ref: str) -> str:
    """The person id behind ``ref``: a person id, an account key
    (``platform:native_id``) or a handle (with or without ``@``, any case)."""
    rows = store.fetch("MATCH (p:Person {id: $r}) RETURN p.id AS id", r=ref)
    if not rows:
        rows = store.fetch("MATCH (:Account {key: $r})-[:OF]->(p:Person) RETURN DISTINCT p.id AS id", r=ref)
    if not rows:
        handle = ref.removeprefix("@").lower()
        rows = store.fetch("MATCH (a:Account)-[:OF]->(p:Person) WHERE toLower(a.handle) = $h "
                           "RETURN DISTINCT p.id AS id", h=handle)
        if not rows:
            rows = store.fetch("MATCH (p:Person) WHERE toLower(p.name) = $h RETURN p.id AS id", h=handle)
    ids = sorted({r["id"] for r in rows})
    if not ids:
        raise PersonNotFound(f"no person with id, account key or handle {ref!r}")
    if len(ids) > 1:
        raise AmbiguousPerson(f"{ref!r} names {len(ids)} people ({', '.join(ids[:5])}); give a person id or account key")
    return ids[0]


def explain_person(store: GraphStore, person_id: str, *, config: Config, top: int = 10,
                   trail: int = 20) -> dict[str, Any]:
    """Everything behind ``person_id``'s scores, JSON-ready.

    ``person_id`` may also be an account key or a handle. Keys: ``person``
    (id, name, accounts), ``scores``, ``contributors`` (``in``: the ``top``
    people who pay them the most decayed attention, with weight, count and
    share of the total; ``out``: whom they pay attention to), ``counts``
    (interactions ``sent`` and ``received`` by kind), ``sentiment_trail``
    (their last ``trail`` messages, oldest first), ``churn`` (risk, factors,
    each factor's part), ``sway_evidence`` (the strongest responses behind
    sway and susceptibility). Raises :class:`PersonNotFound` for an unknown
    person and :class:`AmbiguousPerson` for a handle shared by several.
    """
    pid = resolve_person(store, person_id)
    p = store.fetch("MATCH (p:Person {id: $id}) RETURN properties(p) AS p", id=pid)[0]["p"]
    accounts = store.fetch("MATCH (a:Account)-[:OF]->(:Person {id: $id}) RETURN a.key AS key, a.handle AS handle "
                           "ORDER BY a.key", id=pid)
    scores = {k: p.get(k) for k in _SCORES if k != "name"}
    return {
        "person": {"id": pid, "name": p.get("name"), "brand": bool(p.get("brand", False)), "accounts": accounts,
                   "first_seen": _iso(p.get("first_seen")), "last_seen": _iso(p.get("last_seen"))},
        "scores": scores,
        "contributors": {"in": _contributors(store, pid, top, incoming=True),
                         "out": _contributors(store, pid, top, incoming=False)},
        "counts": _counts(store, pid),
        "sentiment_trail": _trail(store, pid, trail),
        "churn": _churn(p, config),
        "sway_evidence": _sway_evidence(store, p),
    }


def _contributors(store: GraphStore, pid: str, top: int, *, incoming: bool) -> list[dict[str, Any]]:
    pattern = "(q:Person)-[e:INTERACTS]->(p:Person {id: $id})" if incoming else \
        "(p:Person {id: $id})-[e:INTERACTS]->(q:Person)"
    rows = store.fetch(f"MATCH {pattern} RETURN q.id AS id, q.name AS name, e.weight AS weight, e.count AS count, "
                       f"e.last_at AS last_at ORDER BY e.weight DESC, q.id", id=pid)
    total = sum(r["weight"] or 0.0 for r in rows)
    return [{"id": r["id"], "name": r["name"], "weight": round(r["weight"], 4), "count": r["count"],
             "share": round((r["weight"] or 0.0) / total, 4) if total else None, "last_at": _iso(r["last_at"])}
            for r in rows[:top]]


def _counts(store: GraphStore, pid: str) -> dict[str, dict[str, int]]:
    sent = store.fetch("MATCH (:Person {id: $id})<-[:OF]-(:Account)-[:POSTED]->(m:Message) "
                       "RETURN m.kind AS kind, count(m) AS n", id=pid)
    # a message that both addresses and mentions the person counts once, as its own kind (as in scoring)
    received = store.fetch("MATCH (:Person {id: $id})<-[:OF]-(:Account)<-[r:ADDRESSES|MENTIONS]-(m:Message) "
                           "WITH m, collect(type(r)) AS rels "
                           "RETURN CASE WHEN 'ADDRESSES' IN rels THEN m.kind ELSE 'mention' END AS kind, "
                           "count(m) AS n", id=pid)
    fold = lambda rows: dict(sorted(((r["kind"], r["n"]) for r in rows if r["kind"]), key=lambda kv: -kv[1]))  # noqa: E731
    return {"sent": fold(sent), "received": fold(received)}


def _trail(store: GraphStore, pid: str, n: int) -> list[dict[str, Any]]:
    rows = store.fetch("MATCH (:Person {id: $id})<-[:OF]-(:Account)-[:POSTED]->(m:Message) WHERE m.ts IS NOT NULL "
                       "RETURN m.id AS id, m.ts AS ts, m.kind AS kind, m.polarity AS polarity, "
                       "m.sentiment AS sentiment, m.text AS text ORDER BY m.ts DESC, m.id LIMIT $n", id=pid, n=int(n))
    return [{"id": r["id"], "at": _iso(r["ts"]), "kind": r["kind"], "polarity": r["polarity"],
             "sentiment": r["sentiment"], "text": _short(r["text"])} for r in reversed(rows)]


def _churn(p: dict[str, Any], config: Config) -> dict[str, Any]:
    from agora.pipeline import churn_model

    factors = _json(p.get("churn_factors")) or {}
    model = churn_model(config)
    total = sum(max(model.coefficients.get(f, 0.0), 0.0) for f in FACTORS)
    parts = None
    if model.intercept is None and total > 0:
        parts = {f: round(model.coefficients.get(f, 0.0) * factors.get(f, 0.0) / total, 4) for f in FACTORS}
    return {"risk": p.get("churn_risk"), "factors": factors, "parts": parts,
            "model": "formula" if model.intercept is None else "fitted",
            "weights": dict(model.coefficients), "intercept": model.intercept,
            "window_days": config.scoring.churn.window_days}


def _sway_evidence(store: GraphStore, p: dict[str, Any]) -> dict[str, Any]:
    evidence = _json(p.get("sway_evidence")) or {"sway": [], "susceptibility": []}
    ids = sorted({e["with"] for side in evidence.values() for e in side})
    names = {r["id"]: r["name"] for r in store.fetch("MATCH (q:Person) WHERE q.id IN $ids RETURN q.id AS id, "
                                                      "q.name AS name", ids=ids)} if ids else {}
    for side in evidence.values():
        for e in side:
            e["name"] = names.get(e["with"])
    return {"sway": p.get("sway"), "sway_n": p.get("sway_n"), "susceptibility": p.get("susceptibility"),
            "susceptibility_n": p.get("susceptibility_n"), "responses_to_them": evidence.get("sway", []),
            "their_responses": evidence.get("susceptibility", [])}


def _json(value: Any) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _short(text: str | None, limit: int = 160) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"
