"""The pipeline stages as plain functions: import, classify, score.

``agora run`` calls them in-process; the Celery tasks in ``workers/`` call
the same functions. Each stage is safe to re-run: importing a file twice adds
nothing, classification only touches messages without a sentiment, and
scoring sets (never increments) what it writes.
"""

from __future__ import annotations

import json
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
from graph.churn import ChurnModel
from graph.incremental import score_incremental
from graph.projection import EventColumns
from graph.scoring import ScoreResult, score
from graph.sway import sway_evidence
from graph.store import GraphStore

__all__ = ["ImportReport", "ScoreReport", "import_path", "classify_pending", "rescore", "churn_model"]

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
    mode: str = "full"
    touched: int | None = None


def import_path(store: GraphStore, path: Path, config: Config, *, fmt: str | None = None,
                progress: Progress | None = None) -> ImportReport:
    """Read ``path`` (a file or a folder) and store every good interaction.

    Unreadable records are logged with ``file:line`` and their reason, kept in
    the report, and skipped; they never stop the import.
    """
    from listening.importer import read_path

    report = ImportReport(str(path))
    started = time.perf_counter()

    privacy = config.privacy
    brand = frozenset(config.brand_accounts)

    def good() -> Iterator[Interaction]:
        for item in read_path(path, fmt, tz=config.imports.timezone,
                              window_minutes=config.imports.group_chat.window_minutes,
                              lookback=config.imports.group_chat.lookback):
            if isinstance(item, ParseIssue):
                log.warning("skipped %s", item)
                report.issues.append(item)
                continue
            report.read += 1
            if privacy.pseudonymise_handles:
                from graph.privacy import pseudonymise_interaction

                item = pseudonymise_interaction(item, privacy.pseudonym_secret or "", brand)
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


def churn_model(config: Config) -> ChurnModel:
    """The fitted churn model at ``scoring.churn.weights_file`` when there is one, else the formula."""
    fitted = ChurnModel.load(config.scoring.churn.weights_file)
    return fitted if fitted.intercept is not None else ChurnModel(dict(config.scoring.churn.weights))


def _model_options(config: Config) -> dict[str, Any]:
    s = config.scoring
    return {"resolution": s.resolution, "top_n": s.top_n,
            "sway_options": {"window_hours": s.sway.window_hours, "baseline_messages": s.sway.baseline_messages,
                             "min_gap": s.sway.min_gap, "prior": s.sway.prior},
            "churn_options": {"window_days": s.churn.window_days, "baseline_windows": s.churn.baseline_windows,
                              "negative_polarity": s.churn.negative_polarity},
            "churn_model": churn_model(config)}


def rescore(store: GraphStore, config: Config, *, now: datetime | None = None,
            incremental: bool = False) -> ScoreReport:
    """Recompute the projection, communities, influence, sway and churn and write them back.

    With ``incremental``, communities are kept and PageRank warm-started when
    the interactions added since the last scoring touch at most
    ``scoring.incremental.max_changed_share`` of the people
    (:mod:`graph.incremental`); otherwise, and on a first scoring, it is a
    full rescore. ``ScoreReport.mode`` says which ran.
    """
    started = time.perf_counter()
    rows = list(store.edge_rows())
    people = store.people()
    brand = {p["id"] for p in people if p["brand"]}
    # straight from the rows to columns: no EdgeEvent object per interaction
    events = EventColumns.from_events([r for r in rows if r.source not in brand and r.target not in brand])
    messages = [m for m in store.message_rows() if m.person not in brand]
    s = config.scoring
    customers = [p for p in people if p["id"] not in brand]
    common = dict(people=[p["id"] for p in customers], weights=s.weights, half_life_days=s.half_life_days,
                  seed=s.seed, now=now, messages=messages,
                  mood={p["id"]: (p["sentiment_mean"], p["messages"]) for p in customers}, **_model_options(config))
    mode, touched = "full", None
    if incremental:
        previous = store.previous_scores()
        inc = score_incremental(events, previous_counts=previous["counts"],
                                previous_communities=previous["communities"], previous_rank=previous["pagerank"],
                                max_changed_share=s.incremental.max_changed_share, **common)
        result, mode, touched = inc.result, inc.mode, inc.touched
    else:
        result = score(events, previous_communities=store.community_assignment(), **common)
    own = {p["id"]: p for p in people}
    evidence = sway_evidence(result.sway, result.events or [], result.projection.nodes) if result.sway else {}
    run_id = uuid.uuid4().hex
    store.write_projection(list(result.projection.edges()), run_id)
    store.write_people_scores([{"id": ps.id, "props": _person_props(ps, own.get(ps.id, {}), evidence.get(ps.id))}
                               for ps in result.people.values()])
    names = {p["id"]: p["name"] for p in people}
    store.write_communities(
        [{"id": c.id, "size": c.size, "sentiment_mean": c.sentiment_mean,
          "label": names.get(c.top[0], c.top[0]) if c.top else c.id} for c in result.communities.values()],
        [{"person": ps.id, "community": ps.community} for ps in result.people.values()],
        run_id)
    seconds = time.perf_counter() - started
    log.info("scored %d people, %d communities from %d interactions in %.1f s (%s)",
             len(result.people), len(result.communities), len(events), seconds, mode)
    return ScoreReport(result, len(events), seconds, mode, touched)


def _person_props(ps: Any, own: dict[str, Any], evidence: dict[str, Any] | None = None) -> dict[str, Any]:
    props = {"community": ps.community, "influence": ps.influence, "pagerank": ps.pagerank,
             "community_influence": ps.community_influence, "intensity": ps.intensity,
             "sentiment_mean": own.get("sentiment_mean", ps.sentiment_mean), "messages": own.get("messages", 0),
             "sway": ps.sway, "sway_n": ps.sway_n, "susceptibility": ps.susceptibility,
             "susceptibility_n": ps.susceptibility_n, "churn_risk": ps.churn_risk,
             "churn_factors": json.dumps(ps.churn_factors, sort_keys=True),
             "sway_evidence": json.dumps(evidence or {"sway": [], "susceptibility": []}, sort_keys=True)}
    for key in ("first_seen", "last_seen"):
        if own.get(key) is not None:
            props[key] = own[key]
    return props
