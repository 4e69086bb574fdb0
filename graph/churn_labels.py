"""Learning churn weights from labels the user gives (``agora churn fit LABELS.csv``).

The CSV has a header and two columns, ``person_id`` (a person id, an account
key or a handle) and ``churned`` (``1`` churned, ``0`` stayed; ``true`` /
``false`` / ``yes`` / ``no`` too). Each labelled person's factors are the
ones the last rescore wrote (``Person.churn_factors``), so run ``agora
score`` first. Unreadable rows and unknown people are reported as
``file:line: reason`` and skipped.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from graph.churn import FACTORS, fit
from graph.store import GraphStore

__all__ = ["LabelIssue", "FitReport", "read_labels", "fit_labels"]

_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n"}


@dataclass(frozen=True, slots=True)
class LabelIssue:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class FitReport:
    """The fitted model and its figures (see :func:`graph.churn.fit`), where it was saved, what was skipped."""

    model: dict[str, Any]
    saved_to: str
    issues: list[LabelIssue] = field(default_factory=list)


def read_labels(path: Path) -> tuple[list[tuple[int, str, int]], list[LabelIssue]]:
    """``(line, person reference, 0/1)`` per good row, and the issues of the others."""
    rows: list[tuple[int, str, int]] = []
    issues: list[LabelIssue] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"person_id", "churned"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}:1: missing column(s) {', '.join(sorted(missing))} (need person_id,churned)")
        for row in reader:
            line = reader.line_num
            ref, value = (row.get("person_id") or "").strip(), (row.get("churned") or "").strip().lower()
            if not ref:
                issues.append(LabelIssue(str(path), line, "empty person_id"))
            elif value not in _TRUE | _FALSE:
                issues.append(LabelIssue(str(path), line, f"churned must be 0 or 1, got {value!r}"))
            else:
                rows.append((line, ref, int(value in _TRUE)))
    return rows, issues


def fit_labels(store: GraphStore, path: Path, *, weights_file: Path) -> FitReport:
    """Fit churn weights on the labels in ``path`` and save them to ``weights_file``."""
    labels, issues = read_labels(path)
    people = store.fetch("MATCH (p:Person) OPTIONAL MATCH (a:Account)-[:OF]->(p) "
                         "RETURN p.id AS id, p.churn_factors AS factors, collect(a.key) AS keys, "
                         "collect(toLower(a.handle)) AS handles")
    factors = {r["id"]: json.loads(r["factors"]) for r in people if r["factors"]}
    alias: dict[str, set[str]] = {}
    for r in people:
        for ref in [r["id"], *r["keys"], *(h for h in r["handles"] if h)]:
            alias.setdefault(ref, set()).add(r["id"])
    x, y, seen = [], [], set()
    for line, ref, label in labels:
        ids = alias.get(ref) or alias.get(ref.removeprefix("@").lower())
        if not ids:
            issues.append(LabelIssue(str(path), line, f"no person {ref!r}"))
            continue
        if len(ids) > 1:
            issues.append(LabelIssue(str(path), line, f"{ref!r} names several people"))
            continue
        pid = next(iter(ids))
        if pid not in factors:
            issues.append(LabelIssue(str(path), line, f"{ref!r} has no churn factors yet (run `agora score`)"))
            continue
        if pid in seen:
            issues.append(LabelIssue(str(path), line, f"{ref!r} labelled twice; the first label is kept"))
            continue
        seen.add(pid)
        x.append([float(factors[pid].get(f, 0.0)) for f in FACTORS])
        y.append(label)
    if len(y) < 4:
        raise ValueError(f"{path}: only {len(y)} usable labels; need at least 4, both churned and stayed")
    model = fit(np.array(x), np.array(y))
    model["fitted_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    model["labels_file"] = str(path)
    weights_file = Path(weights_file)
    weights_file.parent.mkdir(parents=True, exist_ok=True)
    weights_file.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    return FitReport(model, str(weights_file), issues)
