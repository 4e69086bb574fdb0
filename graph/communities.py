"""Communities: Leiden on the undirected weighted projection, with stable ids.

People who only ever talk to themselves (no edge) belong to no community.
Ids are ``c1``, ``c2``, … : on a first run by decreasing size; on later runs a
community keeps the id of the earlier community it overlaps most (matched one
to one, greedily by overlap), and new communities get fresh numbers, so a
dashboard bookmark or an alert about ``c3`` still means the same group
tomorrow.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import igraph as ig
import numpy as np

from graph.projection import Projection

__all__ = ["leiden_membership", "stable_ids", "detect_communities"]

_ID = re.compile(r"^c(\d+)$")
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


def leiden_membership(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, *,
                      resolution: float = 1.0, seed: int | None = 42) -> np.ndarray:
    """Leiden (modularity, igraph's C implementation) on the undirected graph of ``n``
    nodes whose edge ``src[i]-dst[i]`` weighs ``weight[i]`` (parallel and
    opposite edges are summed). Returns a membership array; nodes of degree 0
    get ``-1``. Deterministic for a given ``seed``.

    >>> import numpy as np
    >>> m = leiden_membership(6, np.array([0, 1, 2, 3, 4, 5]), np.array([1, 2, 0, 4, 5, 3]), np.ones(6))
    >>> len(set(m[:3].tolist())), len(set(m[3:].tolist())), bool(m[0] != m[3])
    (1, 1, True)
    """
    membership = np.full(n, -1, dtype=np.int64)
    if len(src) == 0:
        return membership
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    pair = a * n + b
    unique, inverse = np.unique(pair, return_inverse=True)
    w = np.bincount(inverse, weights=weight)
    # tuples convert to igraph's edge vector about twice as fast as an ndarray does
    graph = ig.Graph(n=n, edges=list(zip((unique // n).tolist(), (unique % n).tolist())), directed=False)
    with _seeded(seed):
        clusters = graph.community_leiden(objective_function="modularity", weights=w, resolution=resolution,
                                          n_iterations=-1)
    membership[:] = clusters.membership
    degree = np.bincount(np.concatenate([unique // n, unique % n]), minlength=n)
    membership[degree == 0] = -1
    return membership


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
    """Person id → community id for every person with at least one edge."""
    p = projection
    membership = leiden_membership(p.n, p.src, p.dst, p.weight, resolution=resolution, seed=seed)
    groups: dict[int, list[str]] = {}
    for i, m in enumerate(membership.tolist()):
        if m >= 0:
            groups.setdefault(m, []).append(p.nodes[i])
    ordered = sorted(groups.values(), key=lambda g: (-len(g), min(g)))
    ids = stable_ids(ordered, previous or {})
    return {person: cid for group, cid in zip(ordered, ids) for person in group}
