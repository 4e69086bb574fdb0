"""Agora's three sentiment labels and the mapping from a model's own labels.

Models name their classes in many ways (``negative``, ``Negative``, ``NEG``,
``LABEL_0``, ...). :func:`label_mapping` turns a config's ``id2label`` into
class index -> one of :data:`LABELS`, or raises :class:`ValueError` saying why
it cannot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["LABELS", "NEGATIVE", "NEUTRAL", "POSITIVE", "label_mapping"]

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
LABELS: tuple[str, str, str] = (NEGATIVE, NEUTRAL, POSITIVE)

# Lower-cased, letters only -> our label. Italian names too, for local models.
_NAMES = {
    "negative": NEGATIVE, "neg": NEGATIVE, "negativo": NEGATIVE, "negativa": NEGATIVE,
    "neutral": NEUTRAL, "neu": NEUTRAL, "neut": NEUTRAL, "neutro": NEUTRAL, "neutrale": NEUTRAL,
    "positive": POSITIVE, "pos": POSITIVE, "positivo": POSITIVE, "positiva": POSITIVE,
}
_GENERIC = re.compile(r"^label_?(\d+)$")
# Generic LABEL_i names follow the TweetEval / SST-2 conventions.
_BY_COUNT = {3: (NEGATIVE, NEUTRAL, POSITIVE), 2: (NEGATIVE, POSITIVE)}


def label_mapping(id2label: Mapping[int | str, str]) -> dict[int, str]:
    """Map a model's ``id2label`` to Agora's labels.

    Named labels are matched case-insensitively ignoring punctuation
    (``Negative``, ``NEG``, ``neutral``, ``POS``, ...). A model whose labels are
    all generic (``LABEL_0``...) is read by convention: three classes are
    negative, neutral, positive; two are negative, positive. A two-class model
    has no neutral. Every class must map to a distinct label and negative and
    positive must both be present.

    >>> label_mapping({0: "NEG", 1: "NEU", 2: "POS"})
    {0: 'negative', 1: 'neutral', 2: 'positive'}
    >>> label_mapping({"0": "LABEL_0", "1": "LABEL_1"})
    {0: 'negative', 1: 'positive'}

    Raises :class:`ValueError` naming the labels it could not understand.
    """
    items = sorted((int(k), str(v)) for k, v in id2label.items())
    if not items:
        raise ValueError("the model config has no id2label")
    generic = [_GENERIC.match(name.strip().lower()) for _, name in items]
    if all(generic):
        convention = _BY_COUNT.get(len(items))
        if convention is None or sorted(int(m.group(1)) for m in generic if m) != list(range(len(items))):
            raise ValueError(f"generic labels {[n for _, n in items]} cannot be read as sentiment: "
                             "only 2 (negative, positive) or 3 (negative, neutral, positive) LABEL_i classes are")
        return {i: convention[int(m.group(1))] for (i, _), m in zip(items, generic) if m}
    mapping: dict[int, str] = {}
    unknown = []
    for i, name in items:
        key = re.sub(r"[^a-z]", "", name.lower())
        if key in _NAMES:
            mapping[i] = _NAMES[key]
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(f"labels {unknown} are not negative/neutral/positive (all labels: {[n for _, n in items]})")
    if len(set(mapping.values())) != len(mapping):
        raise ValueError(f"labels {[n for _, n in items]} map more than one class to the same sentiment")
    if not {NEGATIVE, POSITIVE} <= set(mapping.values()):
        raise ValueError(f"labels {[n for _, n in items]} lack a negative or a positive class")
    return mapping
