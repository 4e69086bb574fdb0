"""People: search and filter (paginated), one person, their explanation, and erasure."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from agora.config import Config
from api.cache import TTLCache
from api.deps import get_cache, get_config, get_store, plain
from graph.store import GraphStore

router = APIRouter(tags=["people"])

PERSON_FIELDS = """
p.id AS id, p.name AS name, p.community AS community, p.influence AS influence,
p.community_influence AS community_influence, p.intensity AS intensity, p.sentiment_mean AS sentiment_mean,
p.sway AS sway, p.susceptibility AS susceptibility, p.churn_risk AS churn_risk,
coalesce(p.messages, 0) AS messages, coalesce(p.brand, false) AS brand
"""
_SORTS = {"influence": "p.influence", "community_influence": "p.community_influence", "churn_risk": "p.churn_risk",
          "sentiment": "p.sentiment_mean", "intensity": "p.intensity", "name": "p.name"}


@router.get("/people", summary="Search and filter people (paginated)")
def list_people(store: Annotated[GraphStore, Depends(get_store)],
                q: Annotated[str | None, Query(max_length=200, description="Part of a name, handle or account key (case-insensitive).")] = None,
                community: Annotated[str | None, Query(max_length=100, description="Only this community id.")] = None,
                min_influence: Annotated[float | None, Query(ge=0, le=100, description="Global influence percentile at least this.")] = None,
                min_churn_risk: Annotated[float | None, Query(ge=0, le=1, description="Churn risk (0..1) at least this.")] = None,
                include_brand: bool = False,
                sort: Literal["influence", "community_influence", "churn_risk", "sentiment", "intensity", "name"] = "influence",
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> dict[str, Any]:
    """People matching every filter given, best first by ``sort`` (people
    without that score last), with ``total`` matches for paging."""
    where, params = _filters(q, community, min_influence, min_churn_risk, include_brand)
    order = _SORTS[sort]
    direction = "ASC" if sort == "name" else "DESC"
    total = store.fetch(f"MATCH (p:Person) {where} RETURN count(p) AS n", **params)[0]["n"]
    rows = store.fetch(f"""
        MATCH (p:Person) {where}
        WITH p ORDER BY CASE WHEN {order} IS NULL THEN 1 ELSE 0 END, {order} {direction}, p.id SKIP $offset LIMIT $limit
        OPTIONAL MATCH (a:Account)-[:OF]->(p)
        WITH p, collect(a.key) AS accounts
        RETURN {PERSON_FIELDS}, accounts
        """, offset=offset, limit=limit, **params)
    for r in rows:
        r["accounts"] = sorted(r["accounts"])
    rows.sort(key=lambda r: (r[_key(sort)] is None, _rank(r[_key(sort)], sort), r["id"]))
    return {"total": total, "limit": limit, "offset": offset, "items": plain(rows)}


def _key(sort: str) -> str:
    return "sentiment_mean" if sort == "sentiment" else sort


def _rank(value: Any, sort: str) -> Any:
    if value is None:
        return 0
    return value if sort == "name" else -value


def _filters(q: str | None, community: str | None, min_influence: float | None, min_churn_risk: float | None,
             include_brand: bool) -> tuple[str, dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if q:
        where.append("(toLower(coalesce(p.name, '')) CONTAINS $q OR toLower(p.id) CONTAINS $q OR "
                     "EXISTS { MATCH (x:Account)-[:OF]->(p) WHERE toLower(coalesce(x.handle, '')) CONTAINS $q })")
        params["q"] = q.lower()
    if community:
        where.append("p.community = $community")
        params["community"] = community
    if min_influence is not None:
        where.append("p.influence >= $min_influence")
        params["min_influence"] = min_influence
    if min_churn_risk is not None:
        where.append("p.churn_risk >= $min_churn_risk")
        params["min_churn_risk"] = min_churn_risk
    if not include_brand:
        where.append("coalesce(p.brand, false) = false")
    return ("WHERE " + " AND ".join(where)) if where else "", params


@router.get("/people/{person_id}", summary="One person: accounts, scores, recent messages")
def get_person(person_id: str, store: Annotated[GraphStore, Depends(get_store)],
               messages: Annotated[int, Query(ge=0, le=500, description="How many recent messages.")] = 20) -> dict[str, Any]:
    rows = store.fetch(f"""
        MATCH (p:Person {{id: $id}})
        OPTIONAL MATCH (p)-[:MEMBER_OF]->(c:Community)
        RETURN {PERSON_FIELDS}, p.churn_factors AS churn_factors, p.first_seen AS first_seen,
               p.last_seen AS last_seen, c.label AS community_label
        """, id=person_id)
    if not rows:
        raise HTTPException(404, f"no person {person_id!r}")
    person = rows[0]
    person["churn_factors"] = _json_or_none(person["churn_factors"])
    person["accounts"] = store.fetch("""
        MATCH (a:Account)-[:OF]->(p:Person {id: $id})
        RETURN a.key AS key, a.platform AS platform, a.handle AS handle, coalesce(a.brand, false) AS brand
        ORDER BY key
        """, id=person_id)
    person["recent_messages"] = store.fetch("""
        MATCH (p:Person {id: $id})<-[:OF]-(a:Account)-[:POSTED]->(m:Message)
        WHERE m.ts IS NOT NULL
        RETURN m.id AS id, a.key AS account, m.platform AS platform, m.kind AS kind, m.ts AS ts, m.text AS text,
               m.lang AS lang, m.sentiment AS sentiment, m.polarity AS polarity
        ORDER BY ts DESC, id LIMIT $n
        """, id=person_id, n=messages)
    person["top_contacts"] = store.fetch("""
        MATCH (p:Person {id: $id})-[e:INTERACTS]-(q:Person)
        RETURN q.id AS id, q.name AS name, sum(e.weight) AS weight, sum(e.count) AS count
        ORDER BY weight DESC, id LIMIT 10
        """, id=person_id)
    return plain(person)


def _json_or_none(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


@router.get("/people/{person_id}/explanation", summary="Why this person scores as they do",
            responses={404: {"description": "No such person"}})
def explanation(person_id: str, store: Annotated[GraphStore, Depends(get_store)],
                config: Annotated[Config, Depends(get_config)]) -> dict[str, Any]:
    """Top contributors, counts by kind and the sentiment trail (``graph.explain``)."""
    from graph.explain import explain_person

    if not store.fetch("MATCH (p:Person {id: $id}) RETURN p.id AS id", id=person_id):
        raise HTTPException(404, f"no person {person_id!r}")
    return plain(explain_person(store, person_id, config=config))


@router.delete("/people/{person_id}", summary="Erase a person (GDPR art. 17)",
               responses={404: {"description": "No such person"}})
def forget(person_id: str, store: Annotated[GraphStore, Depends(get_store)],
           cache: Annotated[TTLCache, Depends(get_cache)]) -> dict[str, Any]:
    """Delete the person (by id or account key), their accounts and messages,
    alerts about them and quotes of them in other alerts; returns the counts."""
    from graph.privacy import forget_person, resolve_person

    pid = resolve_person(store, person_id)
    if pid is None:
        raise HTTPException(404, f"no person or account {person_id!r}")
    erased = forget_person(store, pid)
    cache.clear()  # cached aggregates may name them
    return {"person": pid, "erased": erased}
