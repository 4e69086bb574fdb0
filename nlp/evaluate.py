"""Evaluating a sentiment model on any labelled file (``agora sentiment eval``).

:func:`read_labelled` reads a TSV or CSV whose header names a ``text`` and a
``label`` column (labels ``negative``/``neutral``/``positive``, any case, or
``0``/``1``/``2`` in that order) and optionally ``lang``; other columns are
ignored. Rows it cannot use are skipped and reported as ``file:line: reason``.
:func:`evaluate` classifies the rows and returns accuracy, macro-F1 overall
and per language (the ``lang`` column, else the detected language), the
confusion matrix and the throughput.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp.labels import LABELS
from nlp.metrics import scores, scores_by

__all__ = ["LabelledText", "confusion", "evaluate", "parse_label", "read_labelled"]

#: The language key of texts with no ``lang`` value whose language was not detected.
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One usable row: its line in the file, text, gold label and language (``None`` when not given)."""

    line: int
    text: str
    label: str
    lang: str | None


def parse_label(value: str) -> str | None:
    """Agora's label for a gold value, or ``None`` when it is not one.

    >>> [parse_label(v) for v in ("Negative", " neutral ", "2", "0", "pos", "")]
    ['negative', 'neutral', 'positive', 'negative', None, None]
    """
    v = value.strip().lower()
    if v in LABELS:
        return v
    if v in ("0", "1", "2"):
        return LABELS[int(v)]
    return None


def _delimiter(path: Path, header: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    if "\t" in header:
        return "\t"
    try:
        return csv.Sniffer().sniff(header, delimiters=",;|").delimiter
    except csv.Error:
        return ","


def read_labelled(path: Path | str) -> tuple[list[LabelledText], list[str]]:
    """The usable rows of ``path`` and one ``file:line: reason`` per skipped row.

    The delimiter is a tab for ``.tsv``, a comma for ``.csv``, else sniffed
    from the header. Column names are matched ignoring case and spaces.
    Raises :class:`ValueError` naming the file when it is not UTF-8 text or
    its header lacks ``text`` or ``label``.
    """
    path = Path(path)
    good: list[LabelledText] = []
    issues: list[str] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = handle.readline()
            handle.seek(0)
            reader = csv.reader(handle, delimiter=_delimiter(path, header))
            names = [c.strip().lower() for c in next(reader, [])]
            if not names:
                raise ValueError(f"{path}: empty file; expected a header with 'text' and 'label' columns")
            missing = [c for c in ("text", "label") if c not in names]
            if missing:
                raise ValueError(f"{path}:1: header has no {' or '.join(repr(m) for m in missing)} column "
                                 f"(found: {', '.join(repr(n) for n in names)})")
            ti, li = names.index("text"), names.index("label")
            gi = names.index("lang") if "lang" in names else None
            line = reader.line_num + 1  # where the next record starts
            for row in reader:
                here, line = line, reader.line_num + 1
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != len(names):
                    issues.append(f"{path}:{here}: {len(row)} fields, the header has {len(names)}"
                                  + (" (quote texts that contain the delimiter)" if len(row) > len(names) else ""))
                    continue
                label = parse_label(row[li])
                if label is None:
                    issues.append(f"{path}:{here}: label {row[li]!r} is not negative/neutral/positive or 0/1/2")
                    continue
                lang = (row[gi].strip().lower() or None) if gi is not None else None
                good.append(LabelledText(here, row[ti], label, lang))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise ValueError(f"{path}:{reader.line_num}: {exc}") from exc
    return good, issues


def confusion(gold: Sequence[str], predicted: Sequence[str]) -> list[list[int]]:
    """Counts ``[g][p]`` of gold label ``LABELS[g]`` predicted as ``LABELS[p]``.

    >>> confusion(["negative", "positive"], ["negative", "neutral"])
    [[1, 0, 0], [0, 0, 0], [0, 1, 0]]
    """
    index = {k: i for i, k in enumerate(LABELS)}
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for g, p in zip(gold, predicted):
        matrix[index[g]][index[p]] += 1
    return matrix


def evaluate(model: Any, rows: Sequence[LabelledText], *,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Classify ``rows`` with ``model`` (a :class:`nlp.sentiment.SentimentModel`)
    and score the predictions against the gold labels.

    Returns ``n``, ``accuracy``, ``macro_f1``, ``f1`` per label,
    ``by_language`` (``n``, ``accuracy``, ``macro_f1`` per language: the
    row's ``lang``, else the detected one, else ``"unknown"``),
    ``language_from`` (``column``, ``detected`` or ``column+detected``),
    ``confusion`` (``labels`` and ``matrix`` rows gold, columns predicted),
    ``seconds`` and ``texts_per_second`` of the classification.
    """
    if not rows:
        raise ValueError("no rows to evaluate")
    if getattr(model, "detect_language", False):
        from nlp.language import detect_language

        detect_language("warm-up")  # loads the identifier once, outside the timing
    t0 = time.perf_counter()
    results = model.classify([r.text for r in rows], progress=progress)
    seconds = time.perf_counter() - t0
    gold = [r.label for r in rows]
    predicted = [s.label for s in results]
    langs = [r.lang or s.language or UNKNOWN for r, s in zip(rows, results)]
    given = sum(r.lang is not None for r in rows)
    overall = scores(gold, predicted)
    return {
        "model": model.name,
        "backend": model.backend,
        "n": len(rows),
        "accuracy": overall["accuracy"],
        "macro_f1": overall["macro_f1"],
        "f1": overall["f1"],
        "by_language": {k: {"n": v["n"], "accuracy": v["accuracy"], "macro_f1": v["macro_f1"]}
                        for k, v in scores_by(langs, gold, predicted).items()},
        "language_from": "column" if given == len(rows) else "detected" if given == 0 else "column+detected",
        "confusion": {"labels": list(LABELS), "matrix": confusion(gold, predicted)},
        "seconds": round(seconds, 3),
        "texts_per_second": round(len(rows) / seconds, 1) if seconds > 0 else None,
    }
