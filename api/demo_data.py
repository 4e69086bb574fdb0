"""Fill a graph with the generated sample community, fast: for the API and
dashboard tests and the dashboard benchmark.

Sentiment is set by a seeded rule instead of the model (the model is tested
elsewhere; here it would only cost minutes at 10,000 people): each message
gets a polarity drawn from its id, and messages of the last week before the
newest one lean negative, so mood drops and negative influencers are found and
alerts are raised, as after a real run.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from agora.config import Config
from agora.pipeline import import_path, rescore
from agora.records import Sentiment
from agora.sample import generate_sample
from alerts.engine import evaluate, snapshot
from graph.store import GraphStore

__all__ = ["fill_sample_graph", "seeded_polarity"]


def seeded_polarity(message_id: str, recent: bool) -> float:
    """A polarity in [-1, 1] fixed by the message id; ``recent`` shifts it down.

    >>> seeded_polarity("tw:1", False) == seeded_polarity("tw:1", False)
    True
    >>> -1 <= seeded_polarity("tw:2", True) <= 1
    True
    """
    u = int(hashlib.sha1(message_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    value = (u * 2 - 1) * 0.8 + (-0.55 if recent else 0.15)
    return max(-1.0, min(1.0, round(value, 4)))


def fill_sample_graph(store: GraphStore, config: Config, directory: Path, *, people: int = 60,
                      scale: float = 1.0, seed: int = 7) -> dict[str, Any]:
    """Generate the sample (``people``, ``scale``), import it, set sentiment,
    score it and raise alerts. Returns counts. Re-running adds nothing new."""
    manifest = generate_sample(directory, seed=seed, people=people, scale=scale)
    config = config.model_copy(update={"brand_accounts": sorted({*config.brand_accounts, *manifest.brand_accounts})})
    report = import_path(store, manifest.directory, config)
    newest = store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN max(m.ts) AS t")[0]["t"].to_native()
    week_ago = newest - timedelta(days=7)
    rows = store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL AND m.sentiment IS NULL RETURN m.id AS id, m.ts AS ts")
    results = []
    for r in rows:
        p = seeded_polarity(r["id"], r["ts"].to_native() > week_ago)
        label = "positive" if p > 0.2 else "negative" if p < -0.2 else "neutral"
        results.append((r["id"], Sentiment(label, 0.9, p)))
    store.set_sentiments(results, model="seeded-rule")
    before = snapshot(store)
    rescore(store, config)
    alerts = evaluate(store, config, before)
    return {"interactions": report.read, "messages": len(results), "alerts": len(alerts)}
