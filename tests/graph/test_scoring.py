"""Scoring as plain functions: projection, communities, influence, against networkx oracles."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import networkx as nx
import numpy as np
import pytest
from networkx.algorithms.community import louvain_communities

from graph.communities import detect_communities, leiden_membership, stable_ids
from graph.influence import pagerank, percentiles
from graph.projection import EdgeEvent, project
from graph.scoring import score

T = datetime(2025, 6, 1, tzinfo=timezone.utc)
W = {"share": 2.0, "quote": 1.5, "reply": 1.0, "mention": 0.5, "message": 1.0, "reaction": 0.3, "post": 0.0}


def events_from_graph(g: nx.Graph) -> list[EdgeEvent]:
    """Both directions of every edge of ``g``, as replies at the same time."""
    return [EdgeEvent(str(a), str(b), "reply", T) for u, v in g.edges() for a, b in ((u, v), (v, u))]


def test_projection_decays_sums_and_drops_self_loops_and_zero_weights() -> None:
    p = project([EdgeEvent("a", "b", "share", T - timedelta(days=30)),
                 EdgeEvent("a", "b", "reply", T, polarity=0.5),
                 EdgeEvent("a", "a", "reply", T),
                 EdgeEvent("b", "c", "post", T)],
                weights=W, half_life_days=30, nodes=["z"])
    edges = list(p.edges())
    assert p.nodes == ["z", "a", "b"]
    assert len(edges) == 1
    e = edges[0]
    assert (e["source"], e["target"], e["count"]) == ("a", "b", 2)
    assert e["weight"] == pytest.approx(2.0 * 0.5 + 1.0)
    assert e["sentiment_sum"] == pytest.approx(0.5)
    assert e["last_at"] == T


def test_projection_now_defaults_to_the_latest_event() -> None:
    evs = [EdgeEvent("a", "b", "reply", T - timedelta(days=10)), EdgeEvent("b", "a", "reply", T)]
    assert project(evs, weights=W, half_life_days=10).weight.tolist() == pytest.approx([0.5, 1.0])
    later = project(evs, weights=W, half_life_days=10, now=T + timedelta(days=10))
    assert later.weight.tolist() == pytest.approx([0.25, 0.5])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pagerank_matches_networkx_on_weighted_digraphs_with_dangling_nodes(seed: int) -> None:
    rng = random.Random(seed)
    g = nx.gnp_random_graph(60, 0.06, seed=seed, directed=True)
    for u, v in g.edges():
        g[u][v]["weight"] = rng.uniform(0.1, 3.0)
    src = np.array([u for u, _ in g.edges()])
    dst = np.array([v for _, v in g.edges()])
    w = np.array([d["weight"] for _, _, d in g.edges(data=True)])
    ours = pagerank(60, src, dst, w)
    theirs = nx.pagerank(g, weight="weight", tol=1e-12)
    assert ours == pytest.approx([theirs[i] for i in range(60)], abs=1e-8)


def test_percentiles_are_rank_based_and_bounded() -> None:
    assert percentiles(np.array([3.0, 1.0, 2.0, 2.0])).tolist() == pytest.approx([100.0, 0.0, 50.0, 50.0])
    assert percentiles(np.array([7.0])).tolist() == [100.0]


def test_karate_club_communities_match_networkx_louvain_quality() -> None:
    g = nx.karate_club_graph()
    n = g.number_of_nodes()
    src = np.array([u for u, v in g.edges()])
    dst = np.array([v for u, v in g.edges()])
    m = leiden_membership(n, src, dst, np.ones(len(src)), seed=42)
    ours = [set(np.flatnonzero(m == c).tolist()) for c in set(m.tolist())]
    assert set().union(*ours) == set(range(n)) and sum(len(c) for c in ours) == n  # a partition
    louvain = louvain_communities(g, seed=42)
    q_ours, q_louvain = nx.community.modularity(g, ours), nx.community.modularity(g, louvain)
    print(f"karate modularity: leiden {q_ours:.4f}, networkx louvain {q_louvain:.4f}")
    assert q_ours >= q_louvain - 1e-9


def test_isolated_people_have_no_community_but_a_global_score() -> None:
    r = score([EdgeEvent("a", "b", "reply", T)], people=["a", "b", "loner"], weights=W)
    assert r.people["loner"].community is None and r.people["loner"].community_influence is None
    assert r.people["loner"].influence is not None
    assert {p.community for p in r.people.values()} == {"c1", None}


def two_groups() -> list[EdgeEvent]:
    """Two groups, each orbiting a leader, joined by one weak bridge."""
    evs = []
    for group, leader in (("a", "a0"), ("b", "b0")):
        for i in range(1, 8):
            evs.append(EdgeEvent(f"{group}{i}", leader, "reply", T))
            evs.append(EdgeEvent(f"{group}{i}", f"{group}{(i % 7) + 1}", "mention", T))
    evs.append(EdgeEvent("a3", "b5", "mention", T - timedelta(days=60)))
    return evs


def test_leaders_top_their_communities_and_communities_are_recovered() -> None:
    r = score(two_groups(), weights=W, top_n=2)
    assert len(r.communities) == 2
    by_leader = {c.top[0]: set(c.members) for c in r.communities.values()}
    assert by_leader == {"a0": {f"a{i}" for i in range(8)}, "b0": {f"b{i}" for i in range(8)}}
    for leader in ("a0", "b0"):
        assert r.people[leader].community_influence == 100.0
        assert r.people[leader].intensity == pytest.approx(7.0)


def test_community_influence_equals_pagerank_of_the_community_alone() -> None:
    evs = two_groups()
    r = score(evs, weights=W)
    for c in r.communities.values():
        sub = nx.DiGraph()
        sub.add_nodes_from(c.members)
        for e in evs:
            if e.source in c.members and e.target in c.members:
                w = W[e.kind] * 0.5 ** ((T - e.timestamp).days / 30)
                prior = sub.get_edge_data(e.source, e.target, {"weight": 0.0})["weight"]
                sub.add_edge(e.source, e.target, weight=prior + w)
        alone = nx.pagerank(sub, weight="weight", tol=1e-12)
        order_alone = sorted(c.members, key=lambda p: (-alone[p], p))
        assert c.top == order_alone[: len(c.top)]


def test_community_ids_are_stable_across_runs_and_new_groups_get_fresh_ids() -> None:
    first = score(two_groups(), weights=W)
    previous = {p.id: p.community for p in first.people.values() if p.community}
    # b grows past a (a first run would now number it c1), and a new pair appears
    grown = two_groups() + [EdgeEvent(f"b{i}", "b0", "reply", T) for i in range(8, 12)]
    grown += [EdgeEvent("x1", "x2", "reply", T), EdgeEvent("x2", "x1", "reply", T)]
    second = score(grown, weights=W, previous_communities=previous)
    for person in ("a0", "b0", "a4", "b6"):
        assert second.people[person].community == previous[person]
    assert second.people["x1"].community == "c3"


def test_stable_ids_match_one_to_one_by_overlap() -> None:
    previous = {"a": "c1", "b": "c1", "c": "c2", "d": "c2", "e": "c2"}
    # c2's people split in two: the larger overlap keeps c2, the rest gets a new id
    assert stable_ids([["a", "b"], ["c", "d"], ["e"]], previous) == ["c1", "c2", "c3"]
    assert stable_ids([["e"], ["c", "d"]], previous) == ["c3", "c2"]


def test_detect_communities_is_deterministic_for_a_seed() -> None:
    p = project(events_from_graph(nx.les_miserables_graph()), weights=W, half_life_days=30)
    assert detect_communities(p, seed=7) == detect_communities(p, seed=7)


def test_mood_is_message_weighted() -> None:
    r = score(two_groups(), weights=W, mood={"a0": (1.0, 3), "a1": (-1.0, 1)})
    ca = r.people["a0"].community
    assert r.communities[ca].sentiment_mean == pytest.approx(0.5)
    assert r.people["a0"].sentiment_mean == 1.0
