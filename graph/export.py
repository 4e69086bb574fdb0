"""Export the scored graph for Gephi and other tools: GEXF 1.2 and GraphML.

One node per person (label = name) with their community and scores, one
directed edge per ``INTERACTS`` relationship with its weight, count and
sentiment sum. Scores a person does not have yet are left out of that node
(never written as 0). GEXF nodes also carry Gephi's ``viz`` size (influence)
and colour (community), so the file opens already styled.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
from typing import Any, Literal

import networkx as nx

from graph.store import GraphStore

__all__ = ["FORMATS", "build_graph", "export_bytes", "export_graph"]

Format = Literal["gexf", "graphml"]
FORMATS: tuple[str, ...] = ("gexf", "graphml")
MEDIA_TYPES = {"gexf": "application/gexf+xml", "graphml": "application/graphml+xml"}

_FLOAT_SCORES = ("influence", "community_influence", "intensity", "sentiment_mean", "sway", "susceptibility",
                 "churn_risk")

_PEOPLE = """
MATCH (p:Person)
OPTIONAL MATCH (p)-[:MEMBER_OF]->(c:Community)
RETURN p.id AS id, p.name AS name, coalesce(p.brand, false) AS brand, coalesce(p.messages, 0) AS messages,
       p.community AS community, c.label AS community_label,
       p.influence AS influence, p.community_influence AS community_influence, p.intensity AS intensity,
       p.sentiment_mean AS sentiment_mean, p.sway AS sway, p.susceptibility AS susceptibility,
       p.churn_risk AS churn_risk
ORDER BY id
"""

_EDGES = """
MATCH (a:Person)-[e:INTERACTS]->(b:Person)
RETURN a.id AS source, b.id AS target, e.weight AS weight, e.count AS count, e.sentiment_sum AS sentiment_sum
ORDER BY source, target
"""


def build_graph(store: GraphStore) -> nx.DiGraph:
    """The people and their ``INTERACTS`` edges as a :class:`networkx.DiGraph`."""
    g = nx.DiGraph(name="Agora community graph")
    for row in store.fetch(_PEOPLE):
        attrs: dict[str, Any] = {"label": row["name"] or row["id"], "brand": bool(row["brand"]),
                                 "messages": int(row["messages"])}
        if row["community"] is not None:
            attrs["community"] = str(row["community"])
            attrs["community_label"] = str(row["community_label"] or row["community"])
        for key in _FLOAT_SCORES:
            if row[key] is not None:
                attrs[key] = float(row[key])
        g.add_node(row["id"], **attrs)
    for row in store.fetch(_EDGES):
        g.add_edge(row["source"], row["target"], weight=float(row["weight"] or 0.0), count=int(row["count"] or 0),
                   sentiment_sum=float(row["sentiment_sum"] or 0.0))
    return g


def community_colour(community: str | None) -> dict[str, int]:
    """A stable, well-spread RGB colour for a community id (grey for none).

    >>> community_colour("c1") == community_colour("c1"), community_colour(None)
    (True, {'r': 160, 'g': 160, 'b': 160})
    """
    if community is None:
        return {"r": 160, "g": 160, "b": 160}
    hue = int(hashlib.sha1(community.encode()).hexdigest()[:6], 16) / 0xFFFFFF
    r, g, b = colorsys.hls_to_rgb(hue, 0.5, 0.65)
    return {"r": int(r * 255), "g": int(g * 255), "b": int(b * 255)}


def export_bytes(g: nx.DiGraph, fmt: Format) -> bytes:
    """``g`` serialised as GEXF 1.2 or GraphML (UTF-8)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (use gexf or graphml)")
    buf = io.BytesIO()
    if fmt == "graphml":
        nx.write_graphml_xml(g, buf, encoding="utf-8", named_key_ids=True)
        return _graphml_booleans(buf.getvalue())
    styled = g.copy()
    for node, attrs in styled.nodes(data=True):
        size = 4.0 + 0.26 * attrs.get("influence", 0.0)  # influence is a 0-100 percentile
        attrs["viz"] = {"size": round(size, 2), "color": {**community_colour(attrs.get("community")), "a": 1.0}}
    nx.write_gexf(styled, buf, encoding="utf-8", version="1.2draft")
    return buf.getvalue()


def _graphml_booleans(data: bytes) -> bytes:
    """networkx writes booleans as ``True``/``False``; XML Schema (and strict
    readers) want ``true``/``false``."""
    from lxml import etree

    ns = "{http://graphml.graphdrawing.org/xmlns}"
    root = etree.fromstring(data)
    booleans = {k.get("id") for k in root.iter(f"{ns}key") if k.get("attr.type") == "boolean"}
    for d in root.iter(f"{ns}data"):
        if d.get("key") in booleans and d.text:
            d.text = d.text.strip().lower()
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def export_graph(store: GraphStore, fmt: Format) -> tuple[bytes, int, int]:
    """The stored graph serialised as ``fmt``, with its node and edge counts."""
    g = build_graph(store)
    return export_bytes(g, fmt), g.number_of_nodes(), g.number_of_edges()
