"""Synthetic interaction streams for benchmarks: planted communities, skewed popularity.

A generator, not a data dump: the same arguments give the same events.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import numpy as np

from graph.projection import EdgeEvent

__all__ = ["interactions"]

KINDS = np.array(["reply", "mention", "quote", "share", "message"])
KIND_P = np.array([0.45, 0.25, 0.08, 0.07, 0.15])
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def interactions(n: int, people: int, *, communities: int | None = None, mixing: float = 0.1,
                 days: int = 90, seed: int = 0) -> Iterator[EdgeEvent]:
    """``n`` interactions among ``people`` in planted communities of ~100 people.

    Inside a community a few members draw most responses (Zipf-like
    popularity); a ``mixing`` share of interactions crosses communities.
    Times are uniform over the ``days`` before 2026-11-01.
    """
    rng = np.random.default_rng(seed)
    k = communities or max(1, people // 100)
    community = rng.integers(0, k, size=people)
    members = [np.flatnonzero(community == c) for c in range(k)]
    popularity = [1.0 / np.arange(1, len(m) + 1) ** 1.1 for m in members]
    popularity = [p / p.sum() for p in popularity]
    src = rng.integers(0, people, size=n)
    cross = rng.random(n) < mixing
    home = np.where(cross, rng.integers(0, k, size=n), community[src])
    dst = np.empty(n, dtype=np.int64)
    for c in range(k):
        where = np.flatnonzero(home == c)
        if len(members[c]) and len(where):
            dst[where] = rng.choice(members[c], size=len(where), p=popularity[c])
    kinds = rng.choice(KINDS, size=n, p=KIND_P)
    offsets = rng.uniform(0, days * 86_400, size=n)
    # every message classified, so sway and churn do their full work: a personal mood plus noise
    mood = rng.uniform(-0.6, 0.6, size=people)
    polarity = np.clip(mood[src] + rng.normal(0.0, 0.4, size=n), -1.0, 1.0).round(3)
    for i in range(n):
        yield EdgeEvent(f"p{src[i]}", f"p{dst[i]}", str(kinds[i]), T0 - timedelta(seconds=float(offsets[i])),
                        float(polarity[i]), f"m{i}")
