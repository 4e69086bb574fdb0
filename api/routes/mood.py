"""Mood over time: mean message polarity per community and day or week."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from graph.store import GraphStore

__all__ = ["mood_series", "Bucket"]

Bucket = Literal["day", "week"]

_DAILY = """
MATCH (p:Person)<-[:OF]-(:Account)-[:POSTED]->(m:Message)
WHERE p.community IS NOT NULL AND m.polarity IS NOT NULL AND m.ts IS NOT NULL {where}
WITH p.community AS community, substring(toString(m.ts), 0, 10) AS day, m.polarity AS polarity
RETURN community, day, count(*) AS n, sum(polarity) AS total
"""


def mood_series(store: GraphStore, bucket: Bucket = "day", community: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """``{community id: [{"period", "messages", "mood"}, ...]}`` oldest first;
    a week is named by its Monday."""
    where = "AND p.community = $community" if community else ""
    sums: dict[str, dict[str, list[float]]] = {}
    for r in store.fetch(_DAILY.replace("{where}", where), community=community):
        period = r["day"] if bucket == "day" else _monday(r["day"])
        acc = sums.setdefault(r["community"], {}).setdefault(period, [0, 0.0])
        acc[0] += r["n"]
        acc[1] += r["total"]
    return {cid: [{"period": p, "messages": int(n), "mood": round(t / n, 4)} for p, (n, t) in sorted(periods.items())]
            for cid, periods in sorted(sums.items())}


def _monday(day: str) -> str:
    """The Monday of ``day``'s ISO week.

    >>> _monday("2026-11-05")
    '2026-11-02'
    """
    d = date.fromisoformat(day)
    return (d - timedelta(days=d.weekday())).isoformat()
