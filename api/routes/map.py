"""The community map's data: the top people and their interactions, or the
communities and the interactions between them. Bounded whatever the graph's
size, so the dashboard stays responsive with many thousands of people."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from agora.config import Config
from api.cache import TTLCache
from api.deps import get_cache, get_config, get_store, plain
from graph.store import GraphStore

router = APIRouter(tags=["dashboard"])

_TOP_PEOPLE = """
MATCH (p:Person) WHERE coalesce(p.brand, false) = false AND p.influence IS NOT NULL
WITH p ORDER BY p.influence DESC, p.id LIMIT $limit
RETURN p.id AS id, p.name AS name, p.community AS community, p.influence AS influence,
       p.community_influence AS community_influence, p.sentiment_mean AS sentiment_mean, p.churn_risk AS churn_risk
"""

_PEOPLE_EDGES = """
MATCH (a:Person)-[e:INTERACTS]->(b:Person) WHERE a.id IN $ids AND b.id IN $ids
RETURN a.id AS source, b.id AS target, e.weight AS weight
"""

_COMMUNITY_EDGES = """
MATCH (a:Person)-[e:INTERACTS]->(b:Person)
WHERE a.community IS NOT NULL AND b.community IS NOT NULL AND a.community <> b.community
RETURN a.community AS source, b.community AS target, sum(e.weight) AS weight, count(e) AS count
"""


@router.get("/map", summary="Nodes and edges for the community map (bounded)")
def community_map(store: Annotated[GraphStore, Depends(get_store)], config: Annotated[Config, Depends(get_config)],
                  cache: Annotated[TTLCache, Depends(get_cache)],
                  view: Literal["people", "communities"] = "people",
                  limit: Annotated[int | None, Query(ge=1, le=5000, description="People drawn at most (default api.map_people).")] = None) -> dict[str, Any]:
    """``view=people``: the ``limit`` most influential people (default
    ``api.map_people``) and the interactions among them; ``view=communities``:
    one node per community sized by members, edges summing the interactions
    between communities. ``total_people`` tells how many there are in all."""
    total = store.fetch("MATCH (p:Person) WHERE coalesce(p.brand, false) = false RETURN count(p) AS n")[0]["n"]
    if view == "communities":
        nodes = store.fetch("MATCH (c:Community) RETURN c.id AS id, c.label AS name, c.size AS size, "
                            "c.sentiment_mean AS sentiment_mean, c.id AS community ORDER BY size DESC, id")
        edges = cache.get("community-edges", lambda: store.fetch(_COMMUNITY_EDGES))
        return {"view": view, "total_people": total, "nodes": plain(nodes), "edges": plain(edges)}
    n = limit or config.api.map_people
    nodes = store.fetch(_TOP_PEOPLE, limit=n)
    ids = [p["id"] for p in nodes]
    edges = store.fetch(_PEOPLE_EDGES, ids=ids) if ids else []
    return {"view": view, "total_people": total, "limit": n, "nodes": plain(nodes), "edges": plain(edges)}
