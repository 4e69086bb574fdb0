"""Classification metrics: accuracy and macro-F1 over Agora's three labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nlp.labels import LABELS

__all__ = ["scores", "scores_by"]


def scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (mean of the per-label F1 over the labels present in
    ``gold``), per-label F1 and the count ``n``.

    >>> scores(["negative", "positive"], ["negative", "negative"])["macro_f1"]
    0.3333
    """
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    n = len(gold)
    f1 = {}
    for label in LABELS:
        tp = sum(1 for g, p in zip(gold, predicted) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted) if g == label and p != label)
        if tp + fn == 0:
            continue
        f1[label] = 2 * tp / (2 * tp + fp + fn)
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / n if n else 0.0
    macro = sum(f1.values()) / len(f1) if f1 else 0.0
    return {"n": n, "accuracy": round(accuracy, 4), "macro_f1": round(macro, 4),
            "f1": {k: round(v, 4) for k, v in f1.items()}}


def scores_by(keys: Sequence[str], gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, Any]]:
    """:func:`scores` for each distinct key (e.g. language or source), sorted by key."""
    out = {}
    for key in sorted(set(keys)):
        idx = [i for i, k in enumerate(keys) if k == key]
        out[key] = scores([gold[i] for i in idx], [predicted[i] for i in idx])
    return out
