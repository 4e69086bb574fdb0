"""Communities: the list, and one community with its members and mood over time."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from api.cache import TTLCache
from api.deps import get_cache, get_store, plain
from api.routes.mood import Bucket, mood_series
from api.routes.people import PERSON_FIELDS
from graph.store import GraphStore

router = APIRouter(tags=["communities"])

_LIST = """
MATCH (c:Community)
RETURN c.id AS id, c.label AS label, c.size AS size, c.sentiment_mean AS sentiment_mean
ORDER BY size DESC, id
"""

_TOP = """
MATCH (p:Person) WHERE p.community IS NOT NULL AND coalesce(p.brand, false) = false
WITH p ORDER BY p.community_influence DESC, p.id
WITH p.community AS community, collect({id: p.id, name: p.name, community_influence: p.community_influence})[..5] AS top
RETURN community, top
"""


@router.get("/communities", summary="Every community: size, mood, top members")
def list_communities(store: Annotated[GraphStore, Depends(get_store)],
                     cache: Annotated[TTLCache, Depends(get_cache)]) -> list[dict[str, Any]]:
    def compute() -> list[dict[str, Any]]:
        rows = store.fetch(_LIST)
        tops = {r["community"]: r["top"] for r in store.fetch(_TOP)}
        for r in rows:
            r["top"] = tops.get(r["id"], [])
        return plain(rows)

    return cache.get("communities", compute)


@router.get("/communities/{community_id}", summary="One community: members and mood over time",
            responses={404: {"description": "No such community"}})
def get_community(community_id: str, store: Annotated[GraphStore, Depends(get_store)],
                  bucket: Bucket = "week",
                  limit: Annotated[int, Query(ge=1, le=1000, description="Members per page, by influence in the community.")] = 50,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> dict[str, Any]:
    rows = store.fetch("MATCH (c:Community {id: $id}) RETURN c.id AS id, c.label AS label, c.size AS size, "
                       "c.sentiment_mean AS sentiment_mean", id=community_id)
    if not rows:
        raise HTTPException(404, f"no community {community_id!r}")
    community = rows[0]
    community["members_total"] = store.fetch(
        "MATCH (p:Person)-[:MEMBER_OF]->(:Community {id: $id}) RETURN count(p) AS n", id=community_id)[0]["n"]
    community["members"] = store.fetch(f"""
        MATCH (p:Person)-[:MEMBER_OF]->(:Community {{id: $id}})
        WITH p ORDER BY p.community_influence DESC, p.id SKIP $offset LIMIT $limit
        RETURN {PERSON_FIELDS}
        """, id=community_id, offset=offset, limit=limit)
    community["mood"] = mood_series(store, bucket, community_id).get(community_id, [])
    community["bucket"] = bucket
    return plain(community)


@router.get("/trends", summary="Mood over time of every community")
def trends(store: Annotated[GraphStore, Depends(get_store)], cache: Annotated[TTLCache, Depends(get_cache)],
           bucket: Bucket = "week") -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        labels = {r["id"]: r["label"] for r in store.fetch(_LIST)}
        series = mood_series(store, bucket)
        return {"bucket": bucket,
                "communities": [{"id": cid, "label": labels.get(cid), "series": s} for cid, s in series.items()]}

    return cache.get(("trends", bucket), compute)
