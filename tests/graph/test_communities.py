"""Community detection on a resolution ladder: the partition of least description length, within a budget."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from graph.communities import (LADDER, _leiden, _undirected, community_membership, description_length,
                               leiden_membership)


def _arrays(g: nx.Graph) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    idx = {v: i for i, v in enumerate(g)}
    src = np.array([idx[u] for u, v in g.edges()])
    dst = np.array([idx[v] for u, v in g.edges()])
    return len(idx), src, dst, np.ones(len(src))


@pytest.mark.parametrize("g", [nx.les_miserables_graph(), nx.karate_club_graph()], ids=["les-miserables", "karate"])
def test_the_kept_partition_has_the_least_description_length_of_the_ladder(g: nx.Graph) -> None:
    n, src, dst, w = _arrays(g)
    ours = community_membership(n, src, dst, w, seed=3)
    graph, weights, edges = _undirected(n, src, dst, w)
    assert edges.tolist() == [list(e) for e in graph.get_edgelist()]
    lengths = [description_length(edges, weights, _leiden(graph, weights, r, 3)) for r in LADDER]
    kept = description_length(edges, weights, ours)
    assert kept is not None and kept == min(x for x in lengths if x is not None)


def test_karate_is_cut_coarser_than_modularity_at_resolution_one_cuts_it() -> None:
    # modularity's optimum splits each half of the club again (4 groups); those splits do not pay for themselves
    n, src, dst, w = _arrays(nx.karate_club_graph())
    assert len(set(leiden_membership(n, src, dst, w, seed=42).tolist())) == 4
    assert len(set(community_membership(n, src, dst, w, seed=42).tolist())) == 2


def test_a_split_must_pay_for_itself() -> None:
    # one clique: no split is worth its cost (None: a single group is no community structure)
    clique = np.array([(i, j) for i in range(8) for j in range(i + 1, 8)])
    assert description_length(clique, np.ones(len(clique)), np.zeros(8, dtype=int)) is None
    halves = np.array([0] * 4 + [1] * 4)
    assert description_length(clique, np.ones(len(clique)), halves) is None  # no denser inside than between
    # two cliques joined by one edge: two groups cost less than four
    two = np.array([(i, j) for i in range(6) for j in range(i + 1, 6)]
                   + [(i, j) for i in range(6, 12) for j in range(i + 1, 12)] + [(0, 6)])
    w = np.ones(len(two))
    by_two = description_length(two, w, np.array([0] * 6 + [1] * 6))
    by_four = description_length(two, w, np.array([0] * 3 + [1] * 3 + [2] * 3 + [3] * 3))
    assert by_two is not None and by_four is not None and by_two < by_four


def test_description_length_ignores_a_common_scale_of_the_weights() -> None:
    n, src, dst, w = _arrays(nx.karate_club_graph())
    graph, weights, edges = _undirected(n, src, dst, w)
    m = _leiden(graph, weights, 1.0, 42)
    assert description_length(edges, weights * 7.5, m) == description_length(edges, weights, m)


def test_above_the_budget_it_is_one_leiden_run_at_the_configured_resolution() -> None:
    n, src, dst, w = _arrays(nx.les_miserables_graph())
    budgeted = community_membership(n, src, dst, w, resolution=1.3, seed=5, max_edges=len(src) - 1)
    assert budgeted.tolist() == leiden_membership(n, src, dst, w, resolution=1.3, seed=5).tolist()


def test_deterministic_for_a_seed_and_people_without_edges_get_no_community() -> None:
    n, src, dst, w = _arrays(nx.karate_club_graph())
    n += 2  # two people who never interacted
    a = community_membership(n, src, dst, w, seed=11)
    assert a.tolist() == community_membership(n, src, dst, w, seed=11).tolist()
    assert a[-2:].tolist() == [-1, -1] and (a[:-2] >= 0).all()
    assert community_membership(3, np.array([], dtype=int), np.array([], dtype=int), np.array([])).tolist() == [-1] * 3
