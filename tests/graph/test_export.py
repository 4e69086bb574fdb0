"""GEXF and GraphML export of a real scored graph, checked against the formats' rules.

No official XSD is available offline here (no PyPI package ships the GEXF
1.2 or GraphML schemas), so :func:`check_gexf` and :func:`check_graphml` check
what those schemas require of the parts we write, element by element: the
namespace and version, declared attributes with legal types, every value
parsing as its declared type, unique node ids, edges between declared nodes,
key order and scope, and Gephi's ``viz`` ranges. networkx then reads both back.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import networkx as nx
import pytest
from lxml import etree
from typer.testing import CliRunner

from agora.config import load_config
from agora.pipeline import rescore
from agora.records import AccountRef, Interaction, Kind, Sentiment
from graph.export import build_graph, export_bytes, export_graph
from graph.store import GraphStore

GEXF = "{http://www.gexf.net/1.2draft}"
VIZ = "{http://www.gexf.net/1.2draft/viz}"
GML = "{http://graphml.graphdrawing.org/xmlns}"
T0 = datetime(2025, 5, 1, tzinfo=timezone.utc)


def fill(store: GraphStore, tmp_path: Path) -> None:
    """Two triangles joined by one bridge; one name needs XML escaping; one person never answered."""
    people = [AccountRef("tw", str(i), h) for i, h in enumerate(["ann", "bob", "c<&>\"é☕", "dan", "eve", "fay"])]
    items, n = [], 0
    for group in (people[:3], people[3:]):
        for a in group:
            for b in group:
                if a != b:
                    for _ in range(3):
                        n += 1
                        items.append(Interaction(f"tw:m{n}", "tw", Kind.REPLY, a, T0 + timedelta(hours=n), f"hi {n}",
                                                 targets=(b,)))
    items.append(Interaction("tw:bridge", "tw", Kind.MENTION, people[0], T0, "hey", mentions=(people[3],)))
    items.append(Interaction("tw:lonely", "tw", Kind.POST, AccountRef("tw", "99", "ghost"), T0, "anyone?"))
    store.upsert_interactions(items)
    store.set_sentiments([(it.id, Sentiment("positive", 0.9, 0.5)) for it in items], model="test")
    rescore(store, load_config(_config(tmp_path), environ={}))


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("")
    return path


def _parses(value: str, kind: str) -> bool:
    try:
        if kind in ("integer", "long", "int"):
            int(value)
        elif kind in ("float", "double"):
            float(value)
        elif kind == "boolean":
            assert value in ("true", "false")
        return True
    except (ValueError, AssertionError):
        return False


def check_gexf(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    assert root.tag == f"{GEXF}gexf" and root.get("version") == "1.2"
    graphs = root.findall(f"{GEXF}graph")
    assert len(graphs) == 1
    graph = graphs[0]
    assert graph.get("defaultedgetype") in ("directed", "undirected", "mutual")
    assert graph.get("mode", "static") in ("static", "dynamic")
    declared: dict[str, dict[str, str]] = {"node": {}, "edge": {}}
    for block in graph.findall(f"{GEXF}attributes"):
        assert block.get("class") in declared
        for att in block.findall(f"{GEXF}attribute"):
            assert att.get("id") and att.get("title")
            assert att.get("type") in ("integer", "long", "double", "float", "boolean", "liststring", "string", "anyURI")
            declared[block.get("class")][att.get("id")] = att.get("type")
    node_ids: set[str] = set()
    for node in graph.iter(f"{GEXF}node"):
        nid = node.get("id")
        assert nid and nid not in node_ids and node.get("label") is not None
        node_ids.add(nid)
        for av in node.iter(f"{GEXF}attvalue"):
            kind = declared["node"].get(av.get("for"))
            assert kind is not None, f"node {nid}: attvalue for undeclared attribute {av.get('for')}"
            assert _parses(av.get("value"), kind), (nid, av.get("for"), av.get("value"), kind)
        size = node.find(f"{VIZ}size")
        assert size is not None and float(size.get("value")) >= 0
        colour = node.find(f"{VIZ}color")
        assert colour is not None and all(0 <= int(colour.get(c)) <= 255 for c in "rgb")
        assert 0 <= float(colour.get("a", "1")) <= 1
    edge_ids: set[str] = set()
    for edge in graph.iter(f"{GEXF}edge"):
        assert edge.get("id") not in edge_ids
        edge_ids.add(edge.get("id"))
        assert edge.get("source") in node_ids and edge.get("target") in node_ids
        assert float(edge.get("weight")) > 0
        for av in edge.iter(f"{GEXF}attvalue"):
            kind = declared["edge"].get(av.get("for"))
            assert kind is not None and _parses(av.get("value"), kind)
    return root


def check_graphml(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    assert root.tag == f"{GML}graphml"
    children = [c.tag for c in root]
    assert children.index(f"{GML}graph") > max(i for i, t in enumerate(children) if t == f"{GML}key")  # keys first
    keys: dict[str, tuple[str, str]] = {}
    for key in root.findall(f"{GML}key"):
        assert key.get("id") not in keys
        assert key.get("for") in ("node", "edge", "graph", "all")
        assert key.get("attr.type") in ("boolean", "int", "long", "float", "double", "string")
        assert key.get("attr.name")
        keys[key.get("id")] = (key.get("for"), key.get("attr.type"))
    graph = root.find(f"{GML}graph")
    assert graph.get("edgedefault") in ("directed", "undirected")
    node_ids: set[str] = set()
    for node in graph.findall(f"{GML}node"):
        assert node.get("id") and node.get("id") not in node_ids
        node_ids.add(node.get("id"))
    for element, scope in [(n, "node") for n in graph.findall(f"{GML}node")] + [(e, "edge") for e in graph.findall(f"{GML}edge")]:
        if scope == "edge":
            assert element.get("source") in node_ids and element.get("target") in node_ids
        for d in element.findall(f"{GML}data"):
            target, kind = keys[d.get("key")]
            assert target in (scope, "all")
            assert _parses(d.text or "", kind) or kind == "string", (d.get("key"), d.text, kind)
    return root


def test_gexf_is_valid_and_carries_scores_and_weights(store: GraphStore, tmp_path: Path) -> None:
    fill(store, tmp_path)
    data, nodes, edges = export_graph(store, "gexf")
    root = check_gexf(data)
    assert nodes == store.count("Person") == 7
    assert edges == store.fetch("MATCH ()-[e:INTERACTS]->() RETURN count(e) AS n")[0]["n"] == 13
    assert root.find(f"{GEXF}graph") is not None
    g = nx.read_gexf(_tmp(tmp_path, "x.gexf", data))
    assert g.number_of_nodes() == 7 and g.number_of_edges() == 13
    assert {d["label"] for _, d in g.nodes(data=True)} >= {"ann", "c<&>\"é☕"}
    scored = [d for _, d in g.nodes(data=True) if "community" in d]
    assert len(scored) == 6 and all(0 <= d["influence"] <= 100 for d in scored)
    ghost = [d for _, d in g.nodes(data=True) if d["label"] == "ghost"][0]
    assert "community" not in ghost and "community_label" not in ghost  # absent values are left out, never 0
    assert all("churn_risk" in d and "sway" in d for d in scored)  # the influence model's scores travel too
    stored = {(r["s"], r["t"]): r["w"] for r in store.fetch(
        "MATCH (a:Person)-[e:INTERACTS]->(b:Person) RETURN a.id AS s, b.id AS t, e.weight AS w")}
    assert {(u, v): pytest.approx(d["weight"]) for u, v, d in g.edges(data=True)} == stored
    assert len({d["community"] for d in scored}) == 2  # the two triangles


def test_graphml_is_valid_and_round_trips(store: GraphStore, tmp_path: Path) -> None:
    fill(store, tmp_path)
    data, nodes, edges = export_graph(store, "graphml")
    check_graphml(data)
    g = nx.read_graphml(_tmp(tmp_path, "x.graphml", data))
    original = build_graph(store)
    assert set(g.nodes) == set(original.nodes) and set(g.edges) == set(original.edges)
    for n, attrs in original.nodes(data=True):
        assert g.nodes[n] == pytest.approx(attrs)
    for u, v, attrs in original.edges(data=True):
        assert g.edges[u, v] == pytest.approx(attrs)


def test_empty_graph_exports(store: GraphStore) -> None:
    g = build_graph(store)
    check_gexf(export_bytes(g, "gexf"))
    assert etree.fromstring(export_bytes(g, "graphml")).tag == f"{GML}graphml"
    with pytest.raises(ValueError, match="unknown export format"):
        export_bytes(g, "pdf")  # type: ignore[arg-type]


def test_check_gexf_catches_a_dangling_edge(store: GraphStore, tmp_path: Path) -> None:
    """The checker can fail: an edge to an undeclared node is caught."""
    fill(store, tmp_path)
    data, _, _ = export_graph(store, "gexf")
    broken = data.replace(b'target="tw:1"', b'target="tw:nobody"', 1)
    assert broken != data
    with pytest.raises(AssertionError):
        check_gexf(broken)


def test_cli_export(store: GraphStore, graph_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agora.cli import app

    fill(store, tmp_path)
    path = tmp_path / "cli.yaml"
    path.write_text(f"graph:\n  uri: {graph_server.bolt_uri}\n  database: {graph_server.database}\n")
    monkeypatch.setenv("AGORA_GRAPH__PASSWORD", graph_server.password())
    out = tmp_path / "out" / "agora.gexf"
    result = CliRunner().invoke(app, ["--config", str(path), "export", str(out)])
    assert result.exit_code == 0, result.output
    assert "7 people and 13 interactions" in result.output
    check_gexf(out.read_bytes())
    result = CliRunner().invoke(app, ["--config", str(path), "export", str(tmp_path / "a.txt")])
    assert result.exit_code == 2 and "use gexf or graphml" in result.output


def _tmp(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
