"""The person-to-person projection that scoring reads.

Attention flows from the actor to the one they respond to: when A replies to,
mentions, quotes, shares or messages B, the edge A→B gains
``weights[kind] × 0.5 ** (age / half_life)``, where ``age`` is the time from
the interaction to ``now``. Edges of the same ordered pair are summed; their
``count``, latest time and the sum of the actors' polarity are kept for
explanations and for the ``INTERACTS`` relationships written back to the graph.

The projection is held as parallel NumPy arrays over integer node ids, so that
communities and PageRank can run on a million interactions without building a
Python object per edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

__all__ = ["EdgeEvent", "Projection", "project"]

_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class EdgeEvent:
    """One person-to-person interaction: ``source`` responded to ``target``.

    ``polarity`` is the sentiment of the source's message in [-1, 1], ``None``
    when not classified yet. ``message_id`` names the message behind it.
    """

    source: str
    target: str
    kind: str
    timestamp: datetime
    polarity: float | None = None
    message_id: str | None = None


@dataclass
class Projection:
    """Aggregated, decayed, directed edges among ``nodes``.

    ``src[i] → dst[i]`` carries ``weight[i]`` (decayed), ``count[i]``
    interactions, the latest at ``last_at[i]`` (epoch seconds), and
    ``sentiment_sum[i]`` (sum of the source's polarity over those
    interactions, unclassified ones counting 0). ``index`` maps a node id to
    its position in ``nodes``. No self-loops; every pair appears once.
    """

    nodes: list[str]
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    last_at: np.ndarray
    sentiment_sum: np.ndarray
    now: datetime
    index: dict[str, int] = field(default_factory=dict)
    # the kept events one by one (position in the input, source, target, time, polarity or NaN, and
    # whether it is the first event of its message): sway and churn read them without another pass
    events: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.index:
            self.index = {node: i for i, node in enumerate(self.nodes)}

    @property
    def n(self) -> int:
        return len(self.nodes)

    def edges(self) -> Iterable[dict[str, object]]:
        """Each edge as a dict (``source``, ``target``, ``weight``, ``count``, ``last_at``, ``sentiment_sum``)."""
        for s, d, w, c, t, p in zip(self.src.tolist(), self.dst.tolist(), self.weight.tolist(),
                                    self.count.tolist(), self.last_at.tolist(), self.sentiment_sum.tolist()):
            yield {"source": self.nodes[s], "target": self.nodes[d], "weight": w, "count": int(c),
                   "last_at": datetime.fromtimestamp(t, timezone.utc), "sentiment_sum": p}

    def in_weight(self) -> np.ndarray:
        """Decayed weight each node receives: the attention paid to it."""
        return np.bincount(self.dst, weights=self.weight, minlength=self.n)


def project(events: Iterable[EdgeEvent], *, weights: Mapping[str, float], half_life_days: float,
            nodes: Iterable[str] = (), now: datetime | None = None) -> Projection:
    """Aggregate ``events`` into a :class:`Projection`.

    ``nodes`` are people to include even when they have no edge (isolated
    people still get scores). Events of a kind missing from ``weights`` or
    weighing 0 are left out, and so are self-interactions. ``now`` defaults to
    the latest event: decay is then relative to the data, so re-scoring the
    same data on another day gives the same figures (a common factor would
    change neither communities nor PageRank anyway).

    >>> from datetime import datetime, timezone
    >>> t = datetime(2025, 1, 31, tzinfo=timezone.utc)
    >>> p = project([EdgeEvent("a", "b", "reply", t), EdgeEvent("a", "b", "share", t)],
    ...             weights={"reply": 1.0, "share": 2.0}, half_life_days=30)
    >>> p.nodes, p.weight.tolist(), p.count.tolist()
    (['a', 'b'], [3.0], [2])
    """
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    index: dict[str, int] = {}
    for node in nodes:
        index.setdefault(node, len(index))
    events = events if isinstance(events, list) else list(events)
    positions = [i for i, e in enumerate(events) if weights.get(e.kind, 0.0) > 0 and e.source != e.target]
    kept = [events[i] for i in positions]
    k = len(kept)
    # generator → fromiter: no intermediate Python lists on a million events
    src = np.fromiter((index.setdefault(e.source, len(index)) for e in kept), np.int64, k)
    dst = np.fromiter((index.setdefault(e.target, len(index)) for e in kept), np.int64, k)
    base = np.fromiter((weights[e.kind] for e in kept), np.float64, k)
    t = np.fromiter((e.timestamp.timestamp() for e in kept), np.float64, k)
    pol_nan = np.fromiter((np.nan if e.polarity is None else e.polarity for e in kept), np.float64, k)
    pol = np.nan_to_num(pol_nan, nan=0.0)
    mids = [e.message_id for e in kept]
    if None not in mids and len(set(mids)) == k:  # the common case, without a dict insert per event
        first = np.ones(k, dtype=bool)
    else:
        seen: dict[str | None, int] = {}
        first = np.fromiter((m is None or seen.setdefault(m, j) == j for j, m in enumerate(mids)), bool, k)
    per_event = {"position": np.asarray(positions, dtype=np.int64), "src": src, "dst": dst, "t": t,
                 "polarity": pol_nan, "first": first}
    names = list(index)
    if not k:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return Projection(names, empty_i, empty_i, empty_f, empty_i, empty_f, empty_f,
                          now or datetime.now(timezone.utc), index, per_event)
    now_s = now.timestamp() if now is not None else float(t.max())
    age_days = np.maximum(now_s - t, 0.0) / _SECONDS_PER_DAY
    w_decayed = base * np.power(0.5, age_days / half_life_days)
    pair = src * len(names) + dst
    unique, inverse = np.unique(pair, return_inverse=True)
    weight = np.bincount(inverse, weights=w_decayed)
    count = np.bincount(inverse).astype(np.int64)
    senti = np.bincount(inverse, weights=pol)
    last = np.full(len(unique), -np.inf)
    np.maximum.at(last, inverse, t)
    when = now if now is not None else datetime.fromtimestamp(now_s, timezone.utc)
    return Projection(names, unique // len(names), unique % len(names), weight, count, last, senti, when, index,
                      per_event)
