"""The pipeline stages as plain functions: import, classify, score.

``agora run`` calls them in-process; the Celery tasks in ``workers/`` call
the same functions. Each stage is safe to re-run: importing a file twice adds
nothing, classification only touches messages without a sentiment, and
scoring sets (never increments) what it writes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agora.config import Config
from agora.records import Interaction, ParseIssue
from graph.projection import EdgeEvent
from graph.scoring import ScoreResult, score
from graph.store import GraphStore

__all__ = ["ImportReport", "ScoreReport", "import_path", "classify_pending", "rescore"]

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


@dataclass
class ImportReport:
    """What one import did: records read, new interactions stored, bad records skipped."""

    path: str
    read: int = 0
    new: int = 0
    issues: list[ParseIssue] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


@dataclass
class ScoreReport:
    result: ScoreResult
    edges: int
    seconds: float


def import_path(store: GraphStore, path: Path, config: Config, *, fmt: str | None = None,
                progress: Progress | None = None) -> ImportReport:
    """Read ``path`` (a file or a folder) and store every good interaction.

    Unreadable records are logged with ``file:line`` and their reason, kept in
    the report, and skipped; they never stop the import.
    """
    from listening.importer import read_path

    report = ImportReport(str(path))
    started = time.perf_counter()

    def good() -> Iterator[Interaction]:
        for item in read_path(path, fmt, tz=config.imports.timezone,
                              window_minutes=config.imports.group_chat.window_minutes,
                              lookback=config.imports.group_chat.lookback):
            if isinstance(item, ParseIssue):
                log.warning("skipped %s", item)
                report.issues.append(item)
                continue
            report.read += 1
            yield item

    report.new = store.upsert_interactions(good(), brand_accounts=config.brand_accounts, progress=progress)
    report.seconds = time.perf_counter() - started
    log.info("imported %s: %d read, %d new, %d skipped in %.1f s", path, report.read, report.new,
             len(report.issues), report.seconds)
    return report


def classify_pending(store: GraphStore, config: Config, *, model: Any = None,
                     progress: Progress | None = None, total: Callable[[int], None] | None = None) -> int:
    """Classify every stored message that has no sentiment yet; returns how many.

    ``model`` defaults to the one ``nlp.model`` names, loaded once here.
    """
    pending = store.messages_to_classify()
    if total:
        total(len(pending))
    if not pending:
        return 0
    if model is None:
        from nlp.sentiment import load_model

        model = load_model(config.nlp.model, batch_size=config.nlp.batch_size, max_length=config.nlp.max_length,
                           device=config.nlp.device, backend=config.nlp.backend, cache_dir=config.nlp.cache_dir)
    chunk = max(config.nlp.batch_size * 16, 512)
    for start in range(0, len(pending), chunk):
        part = pending[start:start + chunk]
        sentiments = model.classify([text for _, text in part], progress=progress)
        store.set_sentiments([(mid, s) for (mid, _), s in zip(part, sentiments)], model=model.name)
    log.info("classified %d messages with %s", len(pending), model.name)
    return len(pending)


def rescore(store: GraphStore, config: Config, *, now: datetime | None = None) -> ScoreReport:
    """Recompute the projection, communities and influence and write them back."""
    started = time.perf_counter()
    rows = list(store.edge_rows())
    people = store.people()
    brand = {p["id"] for p in people if p["brand"]}
    events = [EdgeEvent(r.source, r.target, r.kind, r.timestamp, r.polarity, r.message_id)
              for r in rows if r.source not in brand and r.target not in brand]
    s = config.scoring
    customers = [p for p in people if p["id"] not in brand]
    result = score(events, people=[p["id"] for p in customers], weights=s.weights,
                   half_life_days=s.half_life_days, resolution=s.resolution, seed=s.seed,
                   previous_communities=store.community_assignment(), now=now, top_n=s.top_n,
                   mood={p["id"]: (p["sentiment_mean"], p["messages"]) for p in customers})
    own = {p["id"]: p for p in people}
    run_id = uuid.uuid4().hex
    store.write_projection(list(result.projection.edges()), run_id)
    store.write_people_scores([{"id": ps.id, "props": _person_props(ps, own.get(ps.id, {}))}
                               for ps in result.people.values()])
    names = {p["id"]: p["name"] for p in people}
    store.write_communities(
        [{"id": c.id, "size": c.size, "sentiment_mean": c.sentiment_mean,
          "label": names.get(c.top[0], c.top[0]) if c.top else c.id} for c in result.communities.values()],
        [{"person": ps.id, "community": ps.community} for ps in result.people.values()],
        run_id)
    seconds = time.perf_counter() - started
    log.info("scored %d people, %d communities from %d interactions in %.1f s",
             len(result.people), len(result.communities), len(events), seconds)
    return ScoreReport(result, len(events), seconds)


def _person_props(ps: Any, own: dict[str, Any]) -> dict[str, Any]:
    props = {"community": ps.community, "influence": ps.influence, "pagerank": ps.pagerank,
             "community_influence": ps.community_influence, "intensity": ps.intensity,
             "sentiment_mean": own.get("sentiment_mean", ps.sentiment_mean), "messages": own.get("messages", 0)}
    for key in ("first_seen", "last_seen"):
        if own.get(key) is not None:
            props[key] = own[key]
    return props
