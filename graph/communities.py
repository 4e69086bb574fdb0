"""Communities: Leiden on the undirected weighted projection, at the resolution
the data supports, with stable ids.

People who only ever talk to themselves (no edge) belong to no community.
Ids are ``c1``, ``c2``, … : on a first run by decreasing size; on later runs a
community keeps the id of the earlier community it overlaps most (matched one
to one, greedily by overlap), and new communities get fresh numbers, so a
dashboard bookmark or an alert about ``c3`` still means the same group
tomorrow.

DESIGN notes: choosing the resolution by description length
-----------------------------------------------------------
Modularity at resolution 1 imposes one scale on every graph, often the wrong
one: on the karate club it splits each faction in two (4 groups where the club split
in 2), on planted partitions with much mixing it merges planted groups
(its resolution limit). :func:`community_membership` therefore runs seeded
Leiden on a ladder of resolutions, ``resolution × 2^k`` for ``k = -2…2``
(a quarter to four times the configured value), and keeps the partition
that explains the graph in the fewest nats: the minimum description length
of the degree-corrected planted-partition model, the model whose maximum
likelihood is modularity (Newman 2016, "Equivalence between modularity
optimization and maximum likelihood methods for community detection"):

* data given partition: ``-(m_in ln ω_in + (m - m_in) ln ω_out - m)`` with
  ``ω_in = 2 m_in / S``, ``ω_out = (2m - 2 m_in) / (2m - S)``,
  ``S = Σ_r κ_r² / 2m`` (``κ_r`` a group's total degree, ``m_in`` the weight
  inside groups), edge weights scaled so the mean edge weighs 1;
* partition: ``ln C(n-1, B-1) + ln n!/Π n_r! + ln n`` nats (Peixoto's
  uniform prior: the number of groups, their sizes, then who is where) for
  ``n`` people with an edge in ``B`` groups of sizes ``n_r``.

More groups always fit the edges better; the partition term is what they
cost, so a split is kept only when the edges pay for it. Candidates with a
single group, or whose groups are not denser inside than between
(``ω_in <= ω_out``), are not communities and are skipped (when no rung has
any, the configured resolution's partition is returned as before). The
ground truth of the validation graphs is never an input; the same ladder
and criterion serve every graph. ``tests/graph/test_validation.py`` checks
the result against networkx Louvain and igraph Leiden per graph.

Cost: five Leiden runs instead of one (a factor-2 ladder: the √2 ladder's
nine runs cost twice as much for no better NMI on the validation graphs),
so the ladder has a budget: it runs while the graph has at most
``LADDER_MAX_EDGES`` distinct pairs (100,000: a community of ~100k
interactions); above it, one Leiden run at the configured resolution, as
before, so the full rescore at 1M interactions (~760k pairs) costs what it
did. On a loaded 2-core machine (load 7–9): 100k synthetic interactions
(76k pairs) ~0.17 s → ~0.5–0.8 s for the community step; at 1M the step is
one run as before (~5.1–5.4 s there), where the ladder would take ~45 s.

Known shortfall: on polbooks the least-description-length partition (3
groups, NMI 0.554) is 0.0015 below igraph Leiden's mean over seeds 0–4
(0.555: its 5-group runs place the neutral books a little better).

Tried and dropped (NMI on karate / polbooks / LFR μ=0.5; to beat: Louvain
0.616 / Leiden 0.555 / Leiden 0.597):

* best of 10 seeds by modularity: 0.588 / 0.560 / 0.591;
* consensus clustering (Lancichinetti–Fortunato, τ = 0.5) of 10 or 20 Leiden
  runs at resolution 1: 0.588 / 0.474 / 0.615–0.630; the same over the
  ladder's partitions: 0.588 / 0.469 / 0.691;
* Newman's self-consistent resolution (iterate γ from the fitted ω_in,
  ω_out), from 1 or from several starts keeping the least description
  length: 0.588–0.691 / 0.554 / 0.714–0.729;
* Zhang & Peixoto's exact microcanonical planted-partition description
  length (2020) as the criterion: 0.837 / 0.598 / 0.591 (it prefers one
  group to any modularity partition of LFR μ=0.5); adding greedy node moves
  that lower it makes LFR worse (μ=0.4: 0.920 → 0.845);
* after the choice, greedy single-node moves that lower this description
  length (each node to its best neighbouring group, sweeps until none
  helps): polbooks makes no move (0.554); LFR μ=0.4 0.956 → 0.946, μ=0.5
  0.724 → 0.725. With merge moves and split moves (Leiden inside a group at
  ½, 1, 2; one sub-group or all split off), each followed by node moves,
  from every rung: polbooks comes back to the same 3 groups (291.0 nats) or
  to 2 (293.2), never below; LFR μ=0.5 0.716;
* a finer ladder (``2^(k/4)``, 17 rungs): polbooks the same partition;
  football 0.924 → 0.911, LFR μ=0.4 0.950, μ=0.5 0.677;
* node moves under the Karrer–Newman DC-SBM likelihood (a full block
  matrix: a "between" group is allowed): polbooks 0.542, football 0.919;
* a density ω_r inside each group (with or without ½ ln m nats per
  parameter) as the criterion: polbooks 4 groups, 0.554; as node moves: none;
  a uniform prior on each group's degree sequence: the same choice on every
  graph.

Why polbooks resists: its known partition costs 390.3 nats under this model
against 291.0 for ours, and node moves from it end at 296.4 (NMI 0.574): the
13 neutral books are no denser among themselves than with either side, so no
minimiser of this description length singles them out. Only a cost per group
from outside the model (½ ln m nats each) tips polbooks to 2 groups (0.598)
with every other graph still above its baselines (football 0.890 against
0.887; LFR μ=0.5 kept by 5 nats): not taken, being fitted to these graphs.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from math import lgamma

import igraph as ig
import numpy as np

from graph.projection import Projection

__all__ = ["LADDER", "LADDER_MAX_EDGES", "leiden_membership", "community_membership", "description_length",
           "stable_ids", "detect_communities"]

_ID = re.compile(r"^c(\d+)$")
LADDER = tuple(2.0 ** k for k in range(-2, 3))  # × the configured resolution: ¼, ½, 1, 2, 4
LADDER_MAX_EDGES = 100_000  # distinct pairs; above, one Leiden run at the configured resolution
_RNG_LOCK = threading.Lock()


@contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """igraph draws from one process-wide generator; give it a seeded one for this call only."""
    with _RNG_LOCK:
        ig.set_random_number_generator(random.Random(seed))
        try:
            yield
        finally:
            ig.set_random_number_generator(random)


def _undirected(n: int, src: np.ndarray, dst: np.ndarray,
                weight: np.ndarray) -> tuple[ig.Graph, np.ndarray, np.ndarray]:
    """The undirected igraph graph (parallel and opposite edges summed), its edge weights and its
    edges as an ``(m, 2)`` array in igraph's edge order."""
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    pair = a * n + b
    unique, inverse = np.unique(pair, return_inverse=True)
    w = np.bincount(inverse, weights=weight)
    # tuples convert to igraph's edge vector about twice as fast as an ndarray does
    edges = np.stack([unique // n, unique % n], axis=1)
    graph = ig.Graph(n=n, edges=list(zip(edges[:, 0].tolist(), edges[:, 1].tolist())), directed=False)
    return graph, w, edges


def _leiden(graph: ig.Graph, w: np.ndarray, resolution: float, seed: int | None) -> np.ndarray:
    with _seeded(seed):
        clusters = graph.community_leiden(objective_function="modularity", weights=w, resolution=resolution,
                                          n_iterations=-1)
    return np.asarray(clusters.membership, dtype=np.int64)


def _no_community(n: int, src: np.ndarray, dst: np.ndarray, membership: np.ndarray) -> np.ndarray:
    """``membership`` with ``-1`` for nodes of degree 0."""
    degree = np.bincount(np.concatenate([src, dst]), minlength=n) if len(src) else np.zeros(n, dtype=np.int64)
    membership[degree == 0] = -1
    return membership


def leiden_membership(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, *,
                      resolution: float = 1.0, seed: int | None = 42) -> np.ndarray:
    """Leiden (modularity, igraph's C implementation) at one ``resolution`` on the
    undirected graph of ``n`` nodes whose edge ``src[i]-dst[i]`` weighs
    ``weight[i]`` (parallel and opposite edges are summed). Returns a
    membership array; nodes of degree 0 get ``-1``. Deterministic for a given
    ``seed``.

    >>> import numpy as np
    >>> m = leiden_membership(6, np.array([0, 1, 2, 3, 4, 5]), np.array([1, 2, 0, 4, 5, 3]), np.ones(6))
    >>> len(set(m[:3].tolist())), len(set(m[3:].tolist())), bool(m[0] != m[3])
    (1, 1, True)
    """
    membership = np.full(n, -1, dtype=np.int64)
    if len(src) == 0:
        return membership
    graph, w, _ = _undirected(n, src, dst, weight)
    return _no_community(n, src, dst, _leiden(graph, w, resolution, seed))


def description_length(edges: np.ndarray, w: np.ndarray, membership: np.ndarray) -> float | None:
    """Nats to describe the graph with the partition ``membership`` under the
    degree-corrected planted-partition model (see the DESIGN notes above):
    the data given the fitted model plus the partition itself. ``edges`` is
    an ``(m, 2)`` array of distinct undirected pairs weighing ``w``;
    ``membership`` covers every node and only nodes with an edge count.
    ``None`` when the partition is no community structure: one group, or
    groups no denser inside than between.

    >>> import numpy as np
    >>> e = np.array([[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5], [2, 3]])
    >>> two = description_length(e, np.ones(7), np.array([0, 0, 0, 1, 1, 1]))
    >>> three = description_length(e, np.ones(7), np.array([0, 0, 1, 2, 2, 2]))
    >>> two < three, description_length(e, np.ones(7), np.zeros(6, dtype=int)) is None
    (True, True)
    """
    n_all = len(membership)
    if not w.sum() > 0:
        return None
    degree = np.bincount(edges.ravel(), weights=np.repeat(w / w.mean(), 2), minlength=n_all)
    has_edge = degree > 0
    groups, member = np.unique(membership[has_edge], return_inverse=True)
    b, n = len(groups), int(has_edge.sum())
    if b < 2:
        return None
    label = np.full(n_all, -1, dtype=np.int64)
    label[has_edge] = member
    wn = w / w.mean()
    m = float(wn.sum())
    m_in = float(wn[label[edges[:, 0]] == label[edges[:, 1]]].sum())
    kappa = np.bincount(label[has_edge], weights=degree[has_edge], minlength=b)
    s = float((kappa ** 2).sum() / (2 * m))
    if m_in <= 0 or 2 * m - s <= 0:
        return None
    w_in, w_out = 2 * m_in / s, (2 * m - 2 * m_in) / (2 * m - s)
    if w_in <= w_out:
        return None
    data = -(m_in * np.log(w_in) + ((m - m_in) * np.log(w_out) if m > m_in else 0.0) - m)
    sizes = np.bincount(member, minlength=b)
    partition = (lgamma(n) - lgamma(b) - lgamma(n - b + 1)) + lgamma(n + 1) - sum(lgamma(x + 1) for x in sizes.tolist()) \
        + np.log(n)
    return float(data + partition)


def community_membership(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, *,
                         resolution: float = 1.0, seed: int | None = 42,
                         max_edges: int = LADDER_MAX_EDGES) -> np.ndarray:
    """Communities of the undirected graph of ``n`` nodes whose edge
    ``src[i]-dst[i]`` weighs ``weight[i]``: seeded Leiden at each resolution
    of ``resolution × LADDER``, keeping the partition of least
    :func:`description_length` (ties: the rung nearest ``resolution``, then
    the lower). A graph with more than ``max_edges`` distinct pairs gets one
    Leiden run at ``resolution`` (:func:`leiden_membership`). Returns a
    membership array; nodes of degree 0 get ``-1``. Deterministic for a given
    ``seed``.

    >>> import numpy as np
    >>> # two triangles joined by one edge: two communities at every rung
    >>> m = community_membership(6, np.array([0, 1, 2, 3, 4, 5, 2]), np.array([1, 2, 0, 4, 5, 3, 3]), np.ones(7))
    >>> len(set(m[:3].tolist())), len(set(m[3:].tolist())), bool(m[0] != m[3])
    (1, 1, True)
    """
    membership = np.full(n, -1, dtype=np.int64)
    if len(src) == 0:
        return membership
    graph, w, edges = _undirected(n, src, dst, weight)
    if len(edges) > max_edges:
        return _no_community(n, src, dst, _leiden(graph, w, resolution, seed))
    best: tuple[float, float, float] | None = None
    chosen = None
    for step in LADDER:
        candidate = _leiden(graph, w, resolution * step, seed)
        length = description_length(edges, w, candidate)
        if length is None:
            continue
        key = (length, abs(np.log(step)), step)
        if best is None or key < best:
            best, chosen = key, candidate
    if chosen is None:  # no rung finds groups denser inside than between: modularity's own answer
        chosen = _leiden(graph, w, resolution, seed)
    return _no_community(n, src, dst, chosen)


def stable_ids(groups: Sequence[Sequence[str]], previous: Mapping[str, str]) -> list[str]:
    """An id for each group of ``groups``, reusing ``previous`` (person → id) ids by overlap.

    Each earlier id goes to at most one group: pairs are taken by decreasing
    overlap (ties: larger group first, then the smaller earlier id). Groups that
    match nothing get ``c<k>`` with ``k`` above every number used before, in
    the order given (callers pass groups largest first).

    >>> stable_ids([["a", "b"], ["c"]], {"c": "c7", "a": "c2", "b": "c2"})
    ['c2', 'c7']
    >>> stable_ids([["x"], ["a", "b"]], {"a": "c1"})
    ['c2', 'c1']
    """
    overlaps: list[tuple[int, int, int, str]] = []
    for gi, group in enumerate(groups):
        counts = Counter(previous[p] for p in group if p in previous)
        overlaps += [(-k, -len(group), gi, old) for old, k in counts.items()]
    overlaps.sort(key=lambda t: (t[0], t[1], _number(t[3]), t[2]))
    ids: list[str | None] = [None] * len(groups)
    taken: set[str] = set()
    for _, _, gi, old in overlaps:
        if ids[gi] is None and old not in taken:
            ids[gi] = old
            taken.add(old)
    used = [_number(i) for i in previous.values()] + [_number(i) for i in taken]
    fresh = max([u for u in used if u < 10**9], default=0)
    for gi in range(len(groups)):
        if ids[gi] is None:
            fresh += 1
            ids[gi] = f"c{fresh}"
    return [i for i in ids if i is not None]


def _number(cid: str) -> int:
    match = _ID.match(cid)
    return int(match.group(1)) if match else 10**9


def detect_communities(projection: Projection, *, resolution: float = 1.0, seed: int | None = 42,
                       previous: Mapping[str, str] | None = None) -> dict[str, str]:
    """Person id → community id for every person with at least one edge
    (:func:`community_membership`, then :func:`stable_ids` against ``previous``)."""
    p = projection
    membership = community_membership(p.n, p.src, p.dst, p.weight, resolution=resolution, seed=seed)
    groups: dict[int, list[str]] = {}
    for i, m in enumerate(membership.tolist()):
        if m >= 0:
            groups.setdefault(m, []).append(p.nodes[i])
    ordered = sorted(groups.values(), key=lambda g: (-len(g), min(g)))
    ids = stable_ids(ordered, previous or {})
    return {person: cid for group, cid in zip(ordered, ids) for person in group}
