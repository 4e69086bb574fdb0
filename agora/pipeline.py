"""The pipeline stages as plain functions: import, classify, score.

``agora run`` calls them in-process; the Celery tasks in ``workers/`` call
the same functions. Each stage is safe to re-run: importing a file twice adds
nothing, classification only touches messages without a sentiment, and
scoring sets (never increments) what it writes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from agora.config import Config
from agora.records import Interaction, ParseIssue
from graph.churn import ChurnModel
from graph.incremental import rescore_batch, score_incremental
from graph.messages import MessageRow
from graph.projection import EventColumns, Projection
from graph.scoring import ScoreResult, score
from graph.sway import sway_evidence
from graph.store import SCORING_RUN, GraphStore

__all__ = ["ImportReport", "ScoreReport", "import_path", "classify_pending", "rescore", "Rescorer", "churn_model"]

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
    full rescore. ``ScoreReport.mode`` says which ran. (It still reads every
    row: a process that keeps its last result, like a worker, reads only the
    new ones with :class:`Rescorer`.)
    """
    return _rescore(store, config, now=now, incremental=incremental)[0]


def _rescore(store: GraphStore, config: Config, *, now: datetime | None = None,
             incremental: bool = False) -> tuple[ScoreReport, str, list[MessageRow], set[str]]:
    """:func:`rescore`, and the run id it wrote, the message rows it read and the brand's people."""
    started = time.perf_counter()
    rows = list(store.edge_rows())
    message_rows = store.message_rows()
    people = store.people()
    brand = {p["id"] for p in people if p["brand"]}
    # straight from the rows to columns: no EdgeEvent object per interaction
    events = EventColumns.from_events([r for r in rows if r.source not in brand and r.target not in brand])
    messages = [m for m in message_rows if m.person not in brand]
    s = config.scoring
    customers = [p for p in people if p["id"] not in brand]
    # each person's mood (mean polarity, classified messages) comes from these messages
    common = dict(people=[p["id"] for p in customers], weights=s.weights, half_life_days=s.half_life_days,
                  seed=s.seed, now=now, messages=messages, **_model_options(config))
    mode, touched = "full", None
    if incremental:
        previous = store.previous_scores()
        inc = score_incremental(events, previous_counts=previous["counts"],
                                previous_communities=previous["communities"], previous_rank=previous["pagerank"],
                                max_changed_share=s.incremental.max_changed_share, **common)
        result, mode, touched = inc.result, inc.mode, inc.touched
    else:
        result = score(events, previous_communities=store.community_assignment(), **common)
    run_id = _write_scores(store, result, {p["id"]: p for p in people}, {p["id"]: p["name"] for p in people})
    seconds = time.perf_counter() - started
    log.info("scored %d people, %d communities from %d interactions in %.1f s (%s)",
             len(result.people), len(result.communities), len(events), seconds, mode)
    return ScoreReport(result, len(events), seconds, mode, touched), run_id, message_rows, brand


def _write_scores(store: GraphStore, result: ScoreResult, own: dict[str, dict[str, Any]],
                  names: dict[str, str], *, decayed: tuple[float, Projection] | None = None) -> str:
    """Write ``result`` back (projection, people, communities) and name it the last rescore; returns its
    run id. ``decayed``: ``result`` extends the result last written, whose pairs are to be multiplied by
    the factor in place, then the pairs of the projection given (those a batch changed) written."""
    evidence = sway_evidence(result.sway, result.events or [], result.projection.nodes) if result.sway else {}
    run_id = uuid.uuid4().hex
    if decayed is None:
        store.write_projection(list(result.projection.edges()), run_id)
    else:
        store.decay_projection(decayed[0], list(decayed[1].edges()), run_id)
    store.write_people_scores([{"id": ps.id, "props": _person_props(ps, own.get(ps.id, {}), evidence.get(ps.id))}
                               for ps in result.people.values()])
    store.write_communities(
        [{"id": c.id, "size": c.size, "sentiment_mean": c.sentiment_mean,
          "label": names.get(c.top[0], c.top[0]) if c.top else c.id} for c in result.communities.values()],
        [{"person": ps.id, "community": ps.community} for ps in result.people.values()],
        run_id)
    store.set_cursor(SCORING_RUN, run_id)
    return run_id


# A message written (by a transaction that read the server's clock) more than this long before its
# transaction commits is missed by an incremental read; the overlap it leaves is read twice and dropped.
OVERLAP_MS = 300_000


@dataclass
class _Kept:
    result: ScoreResult
    run_id: str
    since: int  # the server's clock just before the last read
    recent: dict[str, float | None]  # messages read then and written within the overlap of it: id → polarity
    brand: set[str]
    full_at: float  # time.monotonic() of the last full rescore
    key: str  # the scoring options and brand accounts it ran with


class Rescorer:
    """Rescores that build on the last one, kept in memory: what a long-lived
    worker runs (one per process).

    The first rescore is a full one (:func:`rescore`). After it, only the
    messages written since (``Message.changed``, on the graph server's clock,
    less :data:`OVERLAP_MS`) are read, with their interactions, and
    :func:`graph.incremental.rescore_batch` extends the last result with them:
    the same figures as a full rescore given the same communities (PageRank
    warm-started, within 1e-5 in L1). A full rescore runs instead when there
    is no last result in this process, when the scoring options changed,
    every ``scoring.incremental.full_every_s``, when another rescore was
    written since or people were merged, split or erased (the store's
    ``scoring:run`` cursor), when an older message was written again
    (classified late, stored again, edited), and when the batch touches more
    than ``scoring.incremental.max_changed_share`` of the people. Inside the
    overlap, a message read before is taken as unchanged when its polarity
    is. People with no message yet (from a CRM file) appear at the next full
    rescore.
    """

    def __init__(self, *, overlap_ms: int = OVERLAP_MS) -> None:
        self._kept: _Kept | None = None
        self.overlap_ms = overlap_ms
        self._lock = threading.Lock()

    def rescore(self, store: GraphStore, config: Config, *, now: datetime | None = None) -> ScoreReport:
        with self._lock:  # one at a time in this process, whatever the workers' Redis lock does
            return self._rescore(store, config, now)

    def _rescore(self, store: GraphStore, config: Config, now: datetime | None) -> ScoreReport:
        kept, key = self._kept, _options_key(config)
        if kept is not None and key == kept.key and store.get_cursor(SCORING_RUN) == kept.run_id \
                and time.monotonic() - kept.full_at < config.scoring.incremental.full_every_s:
            report = self._incremental(store, config, kept, now)
            if report is not None:
                return report
        self._kept = None
        since = store.clock()
        report, run_id, rows, brand = _rescore(store, config, now=now)
        written = store.changed_ids(since - self.overlap_ms)
        self._kept = _Kept(report.result, run_id, since, {r.id: r.polarity for r in rows if r.id in written}, brand,
                           time.monotonic(), key)
        return report

    def _incremental(self, store: GraphStore, config: Config, kept: _Kept,
                     now: datetime | None) -> ScoreReport | None:
        started = time.perf_counter()
        since = store.clock()
        changed = store.changed_messages(kept.since - self.overlap_ms)
        fresh: list[MessageRow] = []
        for row, stored_at, _ in changed:
            if row.id in kept.recent:
                if kept.recent[row.id] != row.polarity:  # read before, classified since
                    return None
            elif stored_at < kept.since - self.overlap_ms:  # an older message written again
                return None
            else:
                fresh.append(row)
        edges = list(store.edge_rows([r.id for r in fresh])) if fresh else []
        old = kept.result.projection.index
        unknown = sorted(({r.person for r in fresh} | {e.source for e in edges} | {e.target for e in edges})
                         - old.keys())
        people = store.people_named(unknown) if unknown else []
        brand = kept.brand | {p["id"] for p in people if p["brand"]}
        edges = [e for e in edges if e.source not in brand and e.target not in brand]
        messages = [r for r in fresh if r.person not in brand]
        newcomers = [p["id"] for p in people if not p["brand"]]
        s = config.scoring
        touched = {e.source for e in edges} | {e.target for e in edges}
        if len(touched) > s.incremental.max_changed_share * (len(old) + len(newcomers)):
            return None
        inc = rescore_batch(kept.result, EventColumns.from_events(edges), weights=s.weights,
                            half_life_days=s.half_life_days, people=newcomers, now=now, seed=s.seed,
                            resolution=s.resolution, max_changed_share=s.incremental.max_changed_share,
                            messages=messages)
        if inc.mode != "incremental":
            return None
        result = inc.result
        tops = [c.top[0] for c in result.communities.values() if c.top]
        names = {p["id"]: p["name"] for p in store.people_named(tops)} if tops else {}
        run_id = _write_scores(store, result, _own(result), names,
                               decayed=_projection_change(kept.result.projection, result.projection,
                                                          s.half_life_days))
        self._kept = _Kept(result, run_id, since,
                           {row.id: row.polarity for row, _, at in changed if at >= since - self.overlap_ms},
                           brand, kept.full_at, kept.key)
        seconds = time.perf_counter() - started
        log.info("scored %d people, %d communities from %d new messages in %.1f s (incremental)",
                 len(result.people), len(result.communities), len(fresh), seconds)
        return ScoreReport(result, len(result.events or []), seconds, "incremental", inc.touched)


def _projection_change(old: Projection, new: Projection, half_life_days: float) -> tuple[float, Projection]:
    """The decay factor from ``old`` to ``new`` (which extends it: its nodes start with ``old``'s), and
    ``new`` cut to its pairs that are new or whose count grew."""
    factor = 0.5 ** ((new.now.timestamp() - old.now.timestamp()) / 86_400.0 / half_life_days)
    n = new.n
    okey, nkey = old.src * n + old.dst, new.src * n + new.dst  # both sorted (src-major)
    at = np.minimum(np.searchsorted(okey, nkey), max(len(okey) - 1, 0))
    same = (okey[at] == nkey) & (old.count[at] == new.count) if len(okey) else np.zeros(len(nkey), bool)
    keep = ~same
    return factor, Projection(new.nodes, new.src[keep], new.dst[keep], new.weight[keep], new.count[keep],
                              new.last_at[keep], new.sentiment_sum[keep], new.now, new.index)


def _options_key(config: Config) -> str:
    return json.dumps([config.scoring.model_dump(mode="json"), sorted(config.brand_accounts)], sort_keys=True,
                      default=str)


def _own(result: ScoreResult) -> dict[str, dict[str, Any]]:
    """Each person's message count, mean polarity, first and last message, as :meth:`GraphStore.people`
    gives them, from the messages the result holds."""
    state = result.state
    if state is None:
        return {}
    m, nodes = state.messages, result.projection.nodes
    count = np.diff(m.start)
    out: dict[str, dict[str, Any]] = {}
    for i in np.flatnonzero(count).tolist():
        lo, hi = int(m.start[i]), int(m.start[i + 1])
        out[nodes[i]] = {"messages": int(count[i]), "sentiment_mean": state.mood.get(nodes[i], (None, 0))[0],
                         "first_seen": datetime.fromtimestamp(float(m.ts[lo]), timezone.utc),
                         "last_seen": datetime.fromtimestamp(float(m.ts[hi - 1]), timezone.utc)}
    return out


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
