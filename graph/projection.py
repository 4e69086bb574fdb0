"""The person-to-person projection that scoring reads.

Attention flows from the actor to the one they respond to: when A replies to,
mentions, quotes, shares or messages B, the edge A→B gains
``weights[kind] × 0.5 ** (age / half_life)``, where ``age`` is the time from
the interaction to ``now``. Edges of the same ordered pair are summed; their
``count``, latest time and the sum of the actors' polarity are kept for
explanations and for the ``INTERACTS`` relationships written back to the graph.

The projection is held as parallel NumPy arrays over integer node ids, so that
communities and PageRank can run on a million interactions without building a
Python object per edge. Its input can be, besides a list of :class:`EdgeEvent`,
an :class:`EventColumns`: the same interactions as parallel arrays (person and
kind codes, times, polarities), built once by whoever reads the events (the
store's rows, the synthetic generator), so that projection, sway and churn
never read a million Python objects attribute by attribute.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload
from datetime import datetime, timezone

import numpy as np

__all__ = ["EdgeEvent", "EventColumns", "Projection", "project"]

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



@dataclass(frozen=True, eq=False)
class EventColumns(Sequence[EdgeEvent]):
    """Interactions as parallel arrays: event ``i`` is ``names[source[i]]`` →
    ``names[target[i]]``, of kind ``kinds[kind[i]]``, at ``ts[i]`` (epoch
    seconds), with ``polarity[i]`` (NaN: unclassified) and message
    ``message_ids[i]``.

    ``names`` must be distinct (a code is a person), and so must ``kinds``.
    ``message_ids`` may be ``None``: then event ``i`` is message
    ``m<message_offset + i>`` (a slice ``cols[a:]`` keeps the ids it had).
    ``distinct_messages`` says every event is its own message (no id shared
    by two events), which spares the projection a check over all ids.

    It is also a read-only sequence of :class:`EdgeEvent` (``cols[i]``), so
    code that looks events up by position keeps working; but that builds an
    object per access, so bulk work should read the arrays.
    """

    names: list[str]
    source: np.ndarray
    target: np.ndarray
    kinds: list[str]
    kind: np.ndarray
    ts: np.ndarray
    polarity: np.ndarray
    message_ids: Sequence[str | None] | None = None
    distinct_messages: bool = False
    message_offset: int = 0

    def __post_init__(self) -> None:
        k = len(self.source)
        if not (len(self.target) == len(self.kind) == len(self.ts) == len(self.polarity) == k):
            raise ValueError("EventColumns: source, target, kind, ts and polarity must have the same length")
        if self.message_ids is not None and len(self.message_ids) != k:
            raise ValueError("EventColumns: message_ids must have one id per event")

    def __len__(self) -> int:
        return len(self.source)

    @overload
    def __getitem__(self, i: int) -> EdgeEvent: ...

    @overload
    def __getitem__(self, i: slice) -> "EventColumns": ...

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            mids, offset = None, self.message_offset
            if self.message_ids is not None:
                mids = self.message_ids[i]
            elif i.step in (None, 1):
                offset += range(len(self))[i].start if len(range(len(self))[i]) else 0
            else:
                mids = self.message_id_list()[i]
            return EventColumns(self.names, self.source[i], self.target[i], self.kinds, self.kind[i], self.ts[i],
                                self.polarity[i], mids, self.distinct_messages, offset)
        i = range(len(self))[i]
        pol = float(self.polarity[i])
        return EdgeEvent(self.names[int(self.source[i])], self.names[int(self.target[i])],
                         self.kinds[int(self.kind[i])], datetime.fromtimestamp(float(self.ts[i]), timezone.utc),
                         None if pol != pol else pol,
                         f"m{self.message_offset + i}" if self.message_ids is None else self.message_ids[i])

    def __iter__(self) -> Iterator[EdgeEvent]:
        return (self[i] for i in range(len(self)))

    def message_id_list(self) -> Sequence[str | None]:
        """The message ids, ``m<message_offset + i>`` when none were given."""
        if self.message_ids is not None:
            return self.message_ids
        return [f"m{self.message_offset + i}" for i in range(len(self))]

    @classmethod
    def from_events(cls, events: Iterable[Any]) -> "EventColumns":
        """Columns of ``events``: :class:`EdgeEvent`, or any rows with the same
        attributes (``source``, ``target``, ``kind``, ``timestamp``,
        ``polarity``, ``message_id``), in one pass over them."""
        events = events if isinstance(events, list) else list(events)
        k = len(events)
        code: dict[str, int] = {}
        kcode: dict[str, int] = {}
        src = np.fromiter((code.setdefault(e.source, len(code)) for e in events), np.int64, k)
        dst = np.fromiter((code.setdefault(e.target, len(code)) for e in events), np.int64, k)
        kind = np.fromiter((kcode.setdefault(e.kind, len(kcode)) for e in events), np.int64, k)
        ts = np.fromiter((e.timestamp.timestamp() for e in events), np.float64, k)
        pol = np.fromiter((np.nan if e.polarity is None else e.polarity for e in events), np.float64, k)
        return cls(list(code), src, dst, list(kcode), kind, ts, pol, [e.message_id for e in events])

    def concat(self, other: "EventColumns") -> "EventColumns":
        """These events followed by ``other``'s (positions of these are kept), on one code space."""
        if other.names is self.names:  # slices of the same columns: one code space already
            names, remap = self.names, np.arange(len(self.names), dtype=np.int64)
        else:
            code = {name: i for i, name in enumerate(self.names)}
            remap = np.fromiter((code.setdefault(n, len(code)) for n in other.names), np.int64, len(other.names))
            names = list(code)
        kcode = {k: i for i, k in enumerate(self.kinds)}
        kremap = np.fromiter((kcode.setdefault(k, len(kcode)) for k in other.kinds), np.int64, len(other.kinds))
        implicit = self.message_ids is None and other.message_ids is None \
            and other.message_offset == self.message_offset + len(self)
        mids = None if implicit else list(self.message_id_list()) + list(other.message_id_list())
        return EventColumns(names, np.concatenate([self.source, remap[other.source]]),
                            np.concatenate([self.target, remap[other.target]]), list(kcode),
                            np.concatenate([self.kind, kremap[other.kind]]), np.concatenate([self.ts, other.ts]),
                            np.concatenate([self.polarity, other.polarity]), mids,
                            self.distinct_messages and other.distinct_messages and implicit, self.message_offset)


def project(events: Iterable[EdgeEvent] | EventColumns, *, weights: Mapping[str, float], half_life_days: float,
            nodes: Iterable[str] = (), now: datetime | None = None) -> Projection:
    """Aggregate ``events`` (a list of :class:`EdgeEvent` or :class:`EventColumns`) into a :class:`Projection`.

    ``nodes`` are people to include even when they have no edge (isolated
    people still get scores). Events of a kind missing from ``weights`` or
    weighing 0 are left out, and so are self-interactions. ``now`` defaults to
    the latest event: decay is then relative to the data, so re-scoring the
    same data on another day gives the same figures (a common factor would
    change neither communities nor PageRank anyway).

    Node order: ``nodes`` first, then the sources of kept events in order of
    first appearance, then their targets not seen yet (the same from a list
    or from columns, so community detection sees the same graph).

    >>> from datetime import datetime, timezone
    >>> t = datetime(2025, 1, 31, tzinfo=timezone.utc)
    >>> p = project([EdgeEvent("a", "b", "reply", t), EdgeEvent("a", "b", "share", t)],
    ...             weights={"reply": 1.0, "share": 2.0}, half_life_days=30)
    >>> p.nodes, p.weight.tolist(), p.count.tolist()
    (['a', 'b'], [3.0], [2])
    """
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    cols = events if isinstance(events, EventColumns) else EventColumns.from_events(events)
    kind_weight = np.array([float(weights.get(k, 0.0)) for k in cols.kinds] or [0.0], dtype=np.float64)
    base_all = kind_weight[cols.kind] if len(cols) else np.zeros(0)
    keep = (base_all > 0) & (cols.source != cols.target)
    positions = np.flatnonzero(keep)
    k = len(positions)
    csrc, cdst = cols.source[positions], cols.target[positions]

    # codes → node positions: ``nodes`` first, then kept sources, then kept targets, each by first appearance
    index: dict[str, int] = {}
    for node in nodes:
        index.setdefault(node, len(index))
    n_codes = len(cols.names)
    remap = np.full(n_codes, -1, dtype=np.int64)
    if index:
        given = [(c, index[name]) for c, name in enumerate(cols.names) if name in index]
        if given:
            at = np.array(given, dtype=np.int64)
            remap[at[:, 0]] = at[:, 1]
    names = list(index)
    for codes in (csrc, cdst):
        if not len(codes):
            continue
        code, first_at = np.unique(codes, return_index=True)
        fresh = remap[code] < 0
        new = code[fresh][np.argsort(first_at[fresh], kind="stable")]
        remap[new] = np.arange(len(names), len(names) + len(new))
        names.extend(cols.names[c] for c in new.tolist())
        index.update(zip(names[len(index):], range(len(index), len(names))))

    src, dst = remap[csrc], remap[cdst]
    base = base_all[positions]
    t = cols.ts[positions]
    pol_nan = cols.polarity[positions]
    pol = np.nan_to_num(pol_nan, nan=0.0)
    if cols.distinct_messages or (cols.message_ids is None):
        first_msg = np.ones(k, dtype=bool)
    else:
        mids = cols.message_ids
        kept_ids = [mids[i] for i in positions.tolist()]
        if None not in kept_ids and len(set(kept_ids)) == k:  # the common case, without a dict insert per event
            first_msg = np.ones(k, dtype=bool)
        else:
            seen: dict[str | None, int] = {}
            first_msg = np.fromiter((m is None or seen.setdefault(m, j) == j for j, m in enumerate(kept_ids)),
                                    bool, k)
    per_event = {"position": positions.astype(np.int64), "src": src, "dst": dst, "t": t,
                 "polarity": pol_nan, "first": first_msg}
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

