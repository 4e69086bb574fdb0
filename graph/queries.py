"""Read models over the scored graph: the people and communities views that
the CLI, the API and the dashboard show."""

from __future__ import annotations

from typing import Any

from graph.store import GraphStore

__all__ = ["top_people", "communities"]

_PERSON_FIELDS = """
p.id AS id, p.name AS name, p.community AS community, p.community_influence AS community_influence,
p.influence AS influence, p.intensity AS intensity, p.sentiment_mean AS sentiment_mean,
coalesce(p.messages, 0) AS messages, coalesce(p.brand, false) AS brand
"""


def top_people(store: GraphStore, top: int = 10, community: str | None = None,
               include_brand: bool = False) -> list[dict[str, Any]]:
    """The ``top`` most influential people, overall or in one community.

    Ranked by influence within the community when ``community`` is given,
    else by global influence; each row lists the person's account keys.
    """
    order = "p.community_influence DESC, p.pagerank DESC" if community else "p.influence DESC, p.pagerank DESC"
    where = ["p.influence IS NOT NULL"]
    if community:
        where.append("p.community = $community")
    if not include_brand:
        where.append("coalesce(p.brand, false) = false")
    rows = store.fetch(f"""
        MATCH (p:Person) WHERE {' AND '.join(where)}
        WITH p ORDER BY {order} LIMIT $top
        OPTIONAL MATCH (a:Account)-[:OF]->(p)
        WITH p, collect(a.key) AS accounts
        RETURN {_PERSON_FIELDS}, accounts, p.pagerank AS pagerank
        ORDER BY {order.replace('p.', '')}
        """, top=int(top), community=community)
    for row in rows:
        row["accounts"] = sorted(row["accounts"])
        row.pop("pagerank", None)
    return rows


def communities(store: GraphStore, members: bool = True) -> list[dict[str, Any]]:
    """Every community, largest first: size, mood, label, top members and
    (with ``members``) every member's account keys."""
    rows = store.fetch("""
        MATCH (c:Community)
        RETURN c.id AS id, c.label AS label, c.size AS size, c.sentiment_mean AS sentiment_mean
        ORDER BY c.size DESC, c.id
        """)
    if not rows:
        return []
    people = store.fetch(f"""
        MATCH (p:Person)-[:MEMBER_OF]->(c:Community)
        OPTIONAL MATCH (a:Account)-[:OF]->(p)
        WITH c, p, collect(a.key) AS accounts
        RETURN c.id AS cid, {_PERSON_FIELDS}, accounts
        """)
    by_community: dict[str, list[dict[str, Any]]] = {}
    for person in people:
        by_community.setdefault(person.pop("cid"), []).append(person)
    for row in rows:
        group = sorted(by_community.get(row["id"], []), key=lambda p: (-(p["community_influence"] or 0), p["id"]))
        row["top"] = [{"id": p["id"], "name": p["name"], "community_influence": p["community_influence"],
                       "sentiment_mean": p["sentiment_mean"]} for p in group if not p["brand"]][:5]
        if members:
            row["members"] = sorted(key for p in group for key in p["accounts"])
    return rows
