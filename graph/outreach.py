"""Outreach: the people a community manager should contact now, and why.

Only influential people are listed (``influence`` or ``community_influence``
at or above ``scoring.outreach.min_influence``): contacting them moves the
most people. Each gets one action, the first that applies:

* ``calm``: their recent messages are mostly negative (``recent_negative`` ≥
  ``negative_share``): an influential voice turning sour spreads, the more so
  the higher their sway. Urgency: the negative share, raised by positive sway.
* ``retain``: their churn risk is at least ``min_churn_risk``: they are
  fading (activity or mood falling, surrounded by negative voices).
  Urgency: the churn risk.
* ``thank``: positive on average, steady (low churn risk), and others warm
  to them (sway > 0): champions worth recognising before they are taken for
  granted. Urgency: half their mood, so risks come first.

Priority = reach (the higher of the two influence percentiles, 0..1) ×
urgency. Each row carries a one-sentence ``reason`` built from the figures.
"""

from __future__ import annotations

import json
from typing import Any

from agora.config import Config
from graph.store import GraphStore

__all__ = ["outreach"]

_FACTOR_WORDS = {
    "activity_drop": "their activity fell by {:.0%}",
    "sentiment_drop": "their mood fell by {:.2f}",
    "recent_negative": "{:.0%} of their recent messages are negative",
    "negative_exposure": "the people around them are negative ({:.2f})",
}


def outreach(store: GraphStore, *, config: Config, limit: int = 20) -> list[dict[str, Any]]:
    """Up to ``limit`` people to contact now, most pressing first: ``id``,
    ``name``, ``accounts``, ``community``, ``action`` (``calm`` | ``retain`` |
    ``thank``), ``priority`` (0..1), ``reason`` and the figures behind it."""
    settings = config.scoring.outreach
    rows = store.fetch("""
        MATCH (p:Person)
        WHERE coalesce(p.brand, false) = false AND p.influence IS NOT NULL
          AND (p.influence >= $min OR coalesce(p.community_influence, -1.0) >= $min)
        OPTIONAL MATCH (a:Account)-[:OF]->(p)
        WITH p, collect(a.key) AS accounts
        RETURN p.id AS id, p.name AS name, p.community AS community, p.influence AS influence,
               p.community_influence AS community_influence, p.sentiment_mean AS sentiment_mean,
               p.sway AS sway, p.sway_n AS sway_n, p.churn_risk AS churn_risk,
               p.churn_factors AS churn_factors, accounts
        """, min=float(settings.min_influence))
    picked = []
    for r in rows:
        item = _assess(r, settings)
        if item is not None:
            picked.append(item)
    picked.sort(key=lambda x: (-x["priority"], x["id"]))
    return picked[:limit]


def _assess(r: dict[str, Any], s: Any) -> dict[str, Any] | None:
    factors = json.loads(r["churn_factors"]) if r.get("churn_factors") else {}
    reach = max(r["influence"] or 0.0, r["community_influence"] or 0.0) / 100.0
    risk = r["churn_risk"] or 0.0
    sway, sway_n = r["sway"] or 0.0, r["sway_n"] or 0
    mood = r["sentiment_mean"]
    negative = factors.get("recent_negative", 0.0)
    where = f"in community {r['community']}" if r["community"] else "overall"
    who = f"Influence {max(r['influence'] or 0, r['community_influence'] or 0):.0f}/100 {where}"
    sway_note = f"; their mood moves others (sway {sway:+.2f} over {sway_n} responses)" if sway > 0.05 and sway_n else ""
    if negative >= s.negative_share:
        action, urgency = "calm", min(1.0, negative * (1.0 + max(sway, 0.0)))
        reason = f"{who}, and {_FACTOR_WORDS['recent_negative'].format(negative)}{sway_note}."
    elif risk >= s.min_churn_risk:
        action, urgency = "retain", risk
        top = sorted((f for f in factors if factors[f] > 0), key=lambda f: -factors[f])[:2]
        why = " and ".join(_FACTOR_WORDS[f].format(factors[f]) for f in top) or "several small signals"
        reason = f"{who}, at churn risk {risk:.2f}: {why}."
    elif mood is not None and mood >= s.positive_mood and risk < s.min_churn_risk and sway > 0:
        action, urgency = "thank", mood / 2.0
        reason = f"{who}, positive (mean mood {mood:+.2f}) and others warm to them (sway {sway:+.2f} over {sway_n} responses)."
    else:
        return None
    return {"id": r["id"], "name": r["name"], "accounts": sorted(r["accounts"]), "community": r["community"],
            "action": action, "priority": round(reach * urgency, 4), "reason": reason,
            "influence": r["influence"], "community_influence": r["community_influence"], "churn_risk": risk,
            "sway": sway, "sway_n": sway_n, "sentiment_mean": mood, "churn_factors": factors}
