"""``agora run``: the whole pipeline in-process (import, classify, score,
alerts), with a progress bar per stage, and the summary it prints and saves."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from rich.progress import Progress

from agora.config import Config
from agora.pipeline import classify_pending, import_path, rescore
from alerts.delivery import Dispatcher, build_notifiers
from alerts.engine import evaluate, snapshot
from graph.queries import communities, top_people
from graph.store import GraphStore

__all__ = ["run_pipeline"]

log = logging.getLogger(__name__)


def run_pipeline(store: GraphStore, config: Config, paths: list[Path] | None = None, *, fmt: str | None = None,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Import ``paths`` (default: the generated sample), classify, score, raise
    alerts, and return the summary that was also written to ``output.dir/run.json``.

    ``alerts`` in the summary are the ones this run raised: a re-run on the
    same data raises none (they are stored in the graph, de-duplicated).
    New alerts go to ``alerts.notifiers`` on background threads while the
    report is built; ``deliveries`` lists each outcome (sent or failed)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    # Built first so that a missing secret stops the run before any work.
    routes = build_notifiers(config.alerts) if config.alerts.enabled and config.alerts.notifiers else []
    if paths is None:
        from agora.sample import generate_sample

        manifest = generate_sample(config.sample.dir, seed=config.sample.seed, people=config.sample.people)
        paths = [manifest.directory]
        config = config.model_copy(update={"brand_accounts": sorted({*config.brand_accounts, *manifest.brand_accounts})})
        timings["sample"] = time.perf_counter() - started

    reports = []
    for path in paths:
        t0 = time.perf_counter()
        task = progress.add_task(f"import {path.name}", total=None) if progress else None
        reports.append(import_path(store, path, config, fmt=fmt,
                                   progress=(lambda n, t=task: progress.advance(t, n)) if progress else None))
        if progress:
            progress.update(task, total=reports[-1].read, completed=reports[-1].read)
        timings[f"import {path.name}"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    task = progress.add_task("classify sentiment", total=None) if progress else None
    classified = classify_pending(store, config,
                                  progress=(lambda n: progress.advance(task, n)) if progress else None,
                                  total=(lambda n: progress.update(task, total=n)) if progress else None)
    timings["classify"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    task = progress.add_task("score influence", total=1) if progress else None
    before = snapshot(store)
    scored = rescore(store, config)
    if progress:
        progress.advance(task)
    timings["score"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    raised = evaluate(store, config, before) if config.alerts.enabled else []
    timings["alerts"] = time.perf_counter() - t0
    dispatcher = Dispatcher(store, routes, threads=config.alerts.delivery_threads) if routes and raised else None
    sending = dispatcher.submit(raised) if dispatcher else []

    groups = communities(store, members=True)
    for group in groups:
        group["influencers"] = top_people(store, config.scoring.top_n, group["id"])
    counts = store.counts()
    summary: dict[str, Any] = {
        "new_interactions": sum(r.new for r in reports),
        "imports": [{"path": r.path, "read": r.read, "new": r.new, "skipped": len(r.issues),
                     "issues": [str(i) for i in r.issues][:100], "per_second": round(r.rate, 1)} for r in reports],
        "classified": classified,
        "scoring": {"interactions": scored.edges, "seconds": round(scored.seconds, 2)},
        "counts": {"people": counts["Person"], "accounts": counts["Account"], "messages": counts["Message (stored)"],
                   "communities": counts["Community"]},
        "alerts": [a.as_dict() for a in raised],
        "deliveries": [],
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "communities": groups,
    }
    if dispatcher:
        t0 = time.perf_counter()
        done = [f.result() for f in sending]  # bounded: retries are finite
        summary["deliveries"] = [d.as_dict() for d in done if d is not None]
        dispatcher.close()
        summary["timings_s"]["deliveries_wait"] = round(time.perf_counter() - t0, 2)
    out_dir = Path(config.output.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "run.json"
    summary["saved_to"] = str(target)
    target.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return summary
