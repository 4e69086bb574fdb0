"""The REST API against a real uvicorn server over a real graph holding the sample community."""

from __future__ import annotations

import re

import httpx
import pytest
from lxml import etree

from graph.store import GraphStore

from .conftest import ApiServer

WRITES = {
    "CREATE": "CREATE (p:Person {id: 'intruder'})",
    "MERGE": "MERGE (p:Person {id: 'intruder'}) RETURN p",
    "SET": "MATCH (p:Person) SET p.name = 'x'",
    "DELETE": "MATCH (p:Person) DETACH DELETE p",
    "REMOVE": "MATCH (p:Person) REMOVE p.name",
    "DROP": "DROP CONSTRAINT person_id",
    "LOAD CSV": "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "write procedure": "CALL apoc.create.node(['Person'], {id: 'intruder'})",
    "schema procedure": "CALL db.createLabel('Intruder')",
}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_health_needs_no_key_and_every_api_route_needs_one(api_server: ApiServer) -> None:
    with api_server.client(key=None) as anon:
        health = anon.get("/health")
        assert health.status_code == 200 and health.json() == {"status": "ok", "graph": True}
        spec = anon.get("/openapi.json").json()
        routes = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if p.startswith("/api/")]
        assert len(routes) >= 14
        for method, path in routes:
            for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
                r = anon.request(method, concrete(path), headers=headers, json={"cypher": "RETURN 1"})
                assert r.status_code == 401, (method, path, headers, r.status_code)
                assert "API key" in r.json()["detail"]
        assert anon.get("/api/people", headers={"Authorization": f"Bearer {api_server.key}"}).status_code == 200


def test_people_search_filter_and_pages(api_server: ApiServer) -> None:
    with api_server.client() as c:
        first = c.get("/api/people", params={"limit": 5}).json()
        second = c.get("/api/people", params={"limit": 5, "offset": 5}).json()
        assert first["total"] == second["total"] >= 50
        assert len(first["items"]) == len(second["items"]) == 5
        assert not {p["id"] for p in first["items"]} & {p["id"] for p in second["items"]}
        influence = [p["influence"] for p in first["items"] + second["items"]]
        assert influence == sorted(influence, reverse=True)
        assert all(not p["brand"] and p["accounts"] for p in first["items"])

        top = first["items"][0]
        handle = top["name"][:5]
        found = c.get("/api/people", params={"q": handle.upper()}).json()
        assert top["id"] in {p["id"] for p in found["items"]}
        assert all(handle.lower() in (p["name"] or "").lower() or handle.lower() in p["id"].lower()
                   or any(handle.lower() in a.lower() for a in p["accounts"]) for p in found["items"])

        community = c.get("/api/people", params={"community": top["community"], "limit": 500}).json()
        assert community["total"] == len(community["items"]) > 1
        assert {p["community"] for p in community["items"]} == {top["community"]}

        strong = c.get("/api/people", params={"min_influence": 80, "limit": 500}).json()
        assert 0 < strong["total"] < first["total"]
        assert all(p["influence"] >= 80 for p in strong["items"])
        risky = c.get("/api/people", params={"min_churn_risk": 0.5, "limit": 500}).json()
        assert risky["total"] < first["total"] and all(p["churn_risk"] >= 0.5 for p in risky["items"])
        assert c.get("/api/people", params={"limit": 0}).status_code == 422
        assert c.get("/api/people", params={"sort": "nonsense"}).status_code == 422


def test_person_has_accounts_scores_and_recent_messages(api_server: ApiServer) -> None:
    with api_server.client() as c:
        top = c.get("/api/people", params={"limit": 1}).json()["items"][0]
        person = c.get(f"/api/people/{top['id']}", params={"messages": 5}).json()
        assert person["id"] == top["id"] and person["influence"] == top["influence"]
        assert [a["key"] for a in person["accounts"]] == top["accounts"]
        assert 0 < len(person["recent_messages"]) <= 5
        times = [m["ts"] for m in person["recent_messages"]]
        assert times == sorted(times, reverse=True)
        assert all(m["polarity"] is not None and m["account"] in top["accounts"] for m in person["recent_messages"])
        assert person["top_contacts"] and "sway" in person and "churn_risk" in person
        assert c.get("/api/people/nobody:0").status_code == 404


def test_communities_members_and_mood_over_time(api_server: ApiServer) -> None:
    with api_server.client() as c:
        communities = c.get("/api/communities").json()
        assert len(communities) >= 3
        first = communities[0]
        assert first["top"] and first["size"] >= communities[-1]["size"]
        weekly = c.get(f"/api/communities/{first['id']}", params={"limit": 3}).json()
        assert weekly["members_total"] == first["size"] and len(weekly["members"]) == 3
        ci = [m["community_influence"] for m in weekly["members"]]
        assert ci == sorted(ci, reverse=True)
        daily = c.get(f"/api/communities/{first['id']}", params={"bucket": "day"}).json()
        assert len(daily["mood"]) > len(weekly["mood"]) > 3
        assert sum(p["messages"] for p in daily["mood"]) == sum(p["messages"] for p in weekly["mood"])
        assert all(-1 <= p["mood"] <= 1 for p in weekly["mood"])
        assert c.get("/api/communities/none").status_code == 404
        trends = c.get("/api/trends").json()
        assert {t["id"] for t in trends["communities"]} == {x["id"] for x in communities}


def test_alerts_since_and_ack(api_server: ApiServer) -> None:
    with api_server.client() as c:
        alerts = c.get("/api/alerts").json()
        assert alerts, "the sample's last week leans negative: alerts are raised"
        assert c.get("/api/alerts", params={"since": "2999-01-01T00:00:00"}).json() == []
        assert c.get("/api/alerts", params={"since": "9999-12-31T23:59:00-14:00"}).status_code == 422
        assert c.get("/api/alerts", params={"since": "yesterday"}).status_code == 422
        target = alerts[0]
        assert not target["acknowledged"]
        assert c.post(f"/api/alerts/{target['id']}/ack").json() == {"id": target["id"], "acknowledged": True}
        again = {a["id"]: a for a in c.get("/api/alerts").json()}
        assert again[target["id"]]["acknowledged"] and again[target["id"]]["acknowledged_at"]
        assert c.post("/api/alerts/no-such-alert/ack").status_code == 404


@pytest.mark.parametrize("what", sorted(WRITES))
def test_cypher_endpoint_refuses_writes(api_server: ApiServer, graph: GraphStore, what: str) -> None:
    before = graph.counts()
    with api_server.client() as c:
        r = c.post("/api/query", json={"cypher": WRITES[what]})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("refused:")
    assert graph.counts() == before


def test_cypher_endpoint_reads(api_server: ApiServer) -> None:
    with api_server.client() as c:
        r = c.post("/api/query", json={"cypher": "MATCH (p:Person) WHERE p.influence >= $min RETURN p.id AS id, "
                                                 "p.influence AS influence ORDER BY influence DESC", "params": {"min": 50},
                                       "limit": 3})
        assert r.status_code == 200
        body = r.json()
        assert body["count"] == 3 and all(row["influence"] >= 50 for row in body["rows"])
        # words inside strings are not clauses
        ok = c.post("/api/query", json={"cypher": "MATCH (m:Message) WHERE m.text CONTAINS 'create' RETURN count(m) AS n"})
        assert ok.status_code == 200
        bad = c.post("/api/query", json={"cypher": "MATCH (p RETURN p"})
        assert bad.status_code == 400 and bad.json()["detail"].startswith("query failed")
        huge = c.post("/api/query", json={"cypher": "RETURN $n AS n", "params": {"n": 2 ** 70}})
        assert huge.status_code == 400 and huge.json()["detail"].startswith("query failed")


def test_explanation_and_outreach(api_server: ApiServer) -> None:
    with api_server.client() as c:
        top = c.get("/api/people", params={"limit": 1}).json()["items"][0]
        r = c.get(f"/api/people/{top['id']}/explanation")
        assert r.status_code == 200
        ex = r.json()
        assert ex["person"]["id"] == top["id"] and ex["contributors"]["in"] and ex["sentiment_trail"]
        assert c.get("/api/people/nobody:here/explanation").status_code == 404
        rows = c.get("/api/outreach", params={"limit": 5}).json()
        assert 0 < len(rows) <= 5 and all(row["reason"] and row["action"] for row in rows)


def test_export_downloads(api_server: ApiServer, graph: GraphStore) -> None:
    people = graph.count("Person")
    edges = graph.fetch("MATCH ()-[e:INTERACTS]->() RETURN count(e) AS n")[0]["n"]
    with api_server.client() as c:
        for fmt, tag in (("gexf", "{http://www.gexf.net/1.2draft}node"), ("graphml", "{http://graphml.graphdrawing.org/xmlns}node")):
            r = c.get(f"/api/export.{fmt}")
            assert r.status_code == 200 and r.headers["content-type"].startswith(f"application/{fmt}+xml")
            assert f"agora.{fmt}" in r.headers["content-disposition"]
            root = etree.fromstring(r.content)
            assert len(root.findall(f".//{tag}")) == people == int(r.headers["x-agora-nodes"])
            assert int(r.headers["x-agora-edges"]) == edges


def test_map_is_bounded(api_server: ApiServer) -> None:
    with api_server.client() as c:
        people = c.get("/api/map", params={"limit": 10}).json()
        assert len(people["nodes"]) == 10 and people["total_people"] >= 50
        ids = {n["id"] for n in people["nodes"]}
        assert people["edges"] and all(e["source"] in ids and e["target"] in ids for e in people["edges"])
        groups = c.get("/api/map", params={"view": "communities"}).json()
        assert {n["id"] for n in groups["nodes"]} == {x["id"] for x in c.get("/api/communities").json()}
        assert all(e["source"] != e["target"] and e["weight"] > 0 for e in groups["edges"])


def test_forget_erases_a_person(api_server: ApiServer, graph: GraphStore) -> None:
    """Last in this module: it changes the graph."""
    with api_server.client() as c:
        victim = c.get("/api/people", params={"limit": 1}).json()["items"][0]
        account = victim["accounts"][0]
        r = c.delete(f"/api/people/{account}")  # by account key
        assert r.status_code == 200
        body = r.json()
        assert body["person"] == victim["id"]
        assert body["erased"]["people"] == 1 and body["erased"]["messages"] == victim["messages"] > 0
        assert c.get(f"/api/people/{victim['id']}").status_code == 404
        assert c.delete(f"/api/people/{victim['id']}").status_code == 404
        for a in c.get("/api/alerts").json():
            assert a["subject"] != victim["id"]
        # cached aggregates are dropped: the community list no longer names them
        assert victim["id"] not in {p["id"] for x in c.get("/api/communities").json() for p in x["top"]}
    assert graph.fetch("MATCH (a:Account {key: $k}) RETURN a", k=account) == []


def test_the_spec_is_served_at_docs(api_server: ApiServer) -> None:
    r = httpx.get(api_server.url + "/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
