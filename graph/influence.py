"""Influence: expected reach and weighted PageRank over the attention graph, and percentiles.

An edge A→B means A paid attention to B (replied, quoted, shared, mentioned),
so what B says reaches A, and through A those who pay attention to A.

* :func:`reach` (global ``influence``): how far what a person says is
  expected to travel, ``Σ_{k=1..steps} (α·M)^k·1`` where ``M[b, a]`` is the
  decayed weight of a's attention to b and ``α = damping / ρ`` (``ρ`` the
  spectral radius of the symmetrised ``M``): a truncated Katz centrality of
  the flow of attention. Unlike PageRank it does not divide a listener's
  attention among everyone they listen to: in a cascade, a listener who
  follows ten people is still reached by each of them. The test suite checks
  it against simulated cascades (independent cascade on karate, football,
  polbooks, dolphins and LFR graphs): it predicts the spread from each seed
  better than degree, k-core and PageRank. ``damping`` 0.7 was chosen on
  those graphs; 0.5–0.9 give nearly the same ranks.
* :func:`pagerank` (``community_influence``, within each community): whom
  the community listens to, in proportion to how strongly and how recently.
  A sparse power iteration (SciPy), the same fixed point as
  :func:`networkx.pagerank` with weights.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

__all__ = ["pagerank", "reach", "percentiles"]


def pagerank(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, *, alpha: float = 0.85,
             tol: float = 1e-10, max_iter: int = 200, start: np.ndarray | None = None) -> np.ndarray:
    """Weighted PageRank of ``n`` nodes with edges ``src[i] → dst[i]`` of ``weight[i]``.

    Dangling nodes (no out-weight) spread their rank uniformly, and so does
    the teleport, as in :func:`networkx.pagerank`. The result sums to 1.
    Converges when the L1 change is below ``n × tol`` (networkx's rule).
    ``start`` (any positive vector, normalised here) warm-starts the
    iteration, e.g. from the previous scoring's ranks: same fixed point,
    fewer iterations after a small change.

    >>> import numpy as np
    >>> r = pagerank(3, np.array([0, 1]), np.array([2, 2]), np.array([1.0, 1.0]))
    >>> int(r.argmax()), round(float(r.sum()), 6)
    (2, 1.0)
    """
    if n == 0:
        return np.zeros(0)
    out = np.bincount(src, weights=weight, minlength=n)
    scale = np.divide(1.0, out, out=np.zeros(n), where=out > 0)
    # column-stochastic transition: rank flows from src to dst
    m = sp.csr_matrix((weight * scale[src], (dst, src)), shape=(n, n))
    dangling = out == 0
    rank = np.full(n, 1.0 / n)
    if start is not None and len(start) == n and start.sum() > 0:
        rank = np.maximum(np.asarray(start, dtype=float), 0.0)
        rank = rank / rank.sum()
    for _ in range(max_iter):
        previous = rank
        rank = alpha * (m @ rank + previous[dangling].sum() / n) + (1.0 - alpha) / n
        if np.abs(rank - previous).sum() < n * tol:
            break
    return rank / rank.sum()


def reach(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, *, damping: float = 0.7,
          steps: int = 5) -> np.ndarray:
    """Expected reach of ``n`` nodes over attention edges ``src[i] → dst[i]``
    of ``weight[i]`` (what ``dst`` says reaches ``src``). See the module doc.

    >>> import numpy as np
    >>> r = reach(4, np.array([1, 2, 3]), np.array([0, 0, 1]), np.ones(3))
    >>> [int(i) for i in np.argsort(-r)]  # 0 is heard by 1 and 2, and through 1 by 3
    [0, 1, 2, 3]
    """
    if n == 0 or len(src) == 0:
        return np.zeros(n)
    m = sp.csr_matrix((weight, (dst, src)), shape=(n, n))
    rho = _spectral_radius((m + m.T) * 0.5)
    alpha = damping / rho if rho > 0 else 1.0
    v, total = np.ones(n), np.zeros(n)
    for _ in range(steps):
        v = alpha * (m @ v)
        total += v
    return total


def _spectral_radius(s: sp.csr_matrix, iterations: int = 30, tol: float = 1e-3) -> float:
    """Largest eigenvalue of a symmetric non-negative matrix, by power iteration on ``s + I``
    (the shift keeps bipartite graphs from oscillating). It only sets the scale of ``α``,
    so a 0.1% estimate is plenty."""
    v = np.ones(s.shape[0]) / np.sqrt(s.shape[0])
    sv = s @ v
    value = 0.0
    for _ in range(iterations):
        w = sv + v
        norm = float(np.linalg.norm(w))
        if norm == 0:
            return 0.0
        w /= norm
        sw = s @ w  # the Rayleigh quotient's product is the next step's: one product per iteration, not two
        new = float(w @ sw)
        v, sv = w, sw
        if abs(new - value) <= tol * max(abs(new), 1e-12):
            return new
        value = new
    return value


def percentiles(values: np.ndarray) -> np.ndarray:
    """Each value's percentile among ``values``, 0–100: the lowest gets 0, the
    highest 100, ties share their average rank; a lone value gets 100.

    >>> percentiles(np.array([0.1, 0.5, 0.3])).tolist()
    [0.0, 100.0, 50.0]
    """
    n = len(values)
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.array([100.0])
    return (rankdata(values, method="average") - 1.0) / (n - 1) * 100.0
