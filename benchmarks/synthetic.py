"""Synthetic interaction streams for benchmarks: planted communities, skewed popularity.

A generator, not a data dump: the same arguments give the same events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from graph.projection import EdgeEvent, EventColumns

__all__ = ["interactions", "interaction_columns", "write_source"]

KINDS = np.array(["reply", "mention", "quote", "share", "message"])
KIND_P = np.array([0.45, 0.25, 0.08, 0.07, 0.15])
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def interactions(n: int, people: int, *, communities: int | None = None, mixing: float = 0.1,
                 days: int = 90, seed: int = 0) -> Iterator[EdgeEvent]:
    """``n`` interactions among ``people`` in planted communities of ~100 people.

    Inside a community a few members draw most responses (Zipf-like
    popularity); a ``mixing`` share of interactions crosses communities.
    Times are uniform over the ``days`` before 2026-11-01 (whole microseconds).
    The same events as :func:`interaction_columns`, one object each.
    """
    cols = interaction_columns(n, people, communities=communities, mixing=mixing, days=days, seed=seed)
    kinds = [cols.kinds[k] for k in cols.kind.tolist()]
    off_us = _T0_US - np.round(cols.ts * 1e6).astype(np.int64)
    for i, (s, d, pol, off) in enumerate(zip(cols.source.tolist(), cols.target.tolist(), cols.polarity.tolist(),
                                             off_us.tolist())):
        yield EdgeEvent(f"p{s}", f"p{d}", kinds[i], T0 - timedelta(microseconds=off), pol, f"m{i}")


def interaction_columns(n: int, people: int, *, communities: int | None = None, mixing: float = 0.1,
                        days: int = 90, seed: int = 0) -> EventColumns:
    """:func:`interactions` as :class:`graph.projection.EventColumns` (person ``p<k>`` is code ``k``,
    event ``i`` is message ``m<i>``), built without a Python object per event."""
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
    kind = np.zeros(n, dtype=np.int64)
    for j, name in enumerate(KINDS.tolist()):
        kind[kinds == name] = j
    # whole microseconds, as a datetime holds them: the same floats as EdgeEvent.timestamp.timestamp()
    # (rounded as timedelta(seconds=x) rounds: whole seconds plus the fraction's microseconds, half to even)
    whole = np.floor(offsets)
    offset_us = whole.astype(np.int64) * 1_000_000 + np.round((offsets - whole) * 1e6).astype(np.int64)
    ts = (_T0_US - offset_us) / 1e6
    return EventColumns([f"p{i}" for i in range(people)], src.astype(np.int64), dst, KINDS.tolist(), kind, ts,
                        polarity.astype(np.float64), None, distinct_messages=True)


_T0_US = int(T0.timestamp()) * 1_000_000


def write_source(folder: Path, n: int, people: int, *, files: int = 1, seed: int = 0) -> list[Path]:
    """Write ``n`` interactions among ``people`` as generic JSON Lines, split over ``files`` files.

    Every row has an id (``synth:m<i>``), an actor, a timestamp and, for
    responses, a target; a reply points at an earlier message and one row in
    ten also mentions a third account, so every kind of edge the store writes
    is exercised. The same arguments give the same files; returns their paths.
    """
    folder.mkdir(parents=True, exist_ok=True)
    events = list(interactions(n, people, seed=seed))
    rng = np.random.default_rng(seed + 1)
    mention = rng.integers(0, people, size=n)
    with_mention = rng.random(n) < 0.1
    paths = [folder / f"part-{k:03d}.jsonl" for k in range(files)]
    per_file = -(-n // files)
    for k, path in enumerate(paths):
        lines = []
        for i in range(k * per_file, min(n, (k + 1) * per_file)):
            e = events[i]
            row: dict[str, object] = {"id": f"m{i}", "platform": "synth", "kind": e.kind, "actor": e.source,
                                      "timestamp": e.timestamp.isoformat(), "text": f"message {i}"}
            if e.source != e.target:
                row["target"] = e.target
            if e.kind in ("reply", "quote", "share") and i:
                row["parent_id"] = f"m{int(rng.integers(0, i))}"
            if with_mention[i] and f"p{mention[i]}" not in (e.source, e.target):
                row["mentions"] = [f"p{mention[i]}"]
            lines.append(json.dumps(row))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths
