"""The labelled training data: reading ``train.tsv`` and a stratified split.

The file has a header and four tab-separated columns, ``lang``, ``source``,
``text``, ``label`` (see ``../shared/data/README.md`` for sources and terms).
"""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nlp.labels import LABELS

__all__ = ["Example", "NONCOMMERCIAL_SOURCES", "default_data_path", "read_examples", "stratified_split"]

#: Sources whose licence forbids commercial use of what is trained on them.
NONCOMMERCIAL_SOURCES: frozenset[str] = frozenset({"sentipolc2016"})


_RELATIVE = Path("shared") / "data" / "sentiment" / "train.tsv"


def default_data_path() -> Path:
    """Where the labelled tweets are: ``$AGORA_SENTIMENT_DATA`` when set, else
    the first ``shared/data/sentiment/train.tsv`` found beside the repository
    or one of its parents (so a git worktree nested below the checkout finds
    the same data as the checkout); the path beside the
    repository when none exists, so error messages name the expected place."""
    env = os.environ.get("AGORA_SENTIMENT_DATA")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parent.parent
    for folder in repo.parents:
        if (folder / _RELATIVE).is_file():
            return folder / _RELATIVE
    return repo.parent / _RELATIVE


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text: language code, source data set, text, label."""

    lang: str
    source: str
    text: str
    label: str


def read_examples(path: Path | str, *, exclude_sources: Iterable[str] = ()) -> list[Example]:
    """Read ``path`` (``lang, source, text, label`` TSV with a header) in file
    order, leaving out rows whose source is in ``exclude_sources``.

    Raises :class:`ValueError` naming the file and line of a row with a missing
    column or a label outside negative/neutral/positive.
    """
    excluded = set(exclude_sources)
    examples = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"lang", "source", "text", "label"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        for row in reader:
            if any(row.get(k) is None for k in ("lang", "source", "text", "label")):
                raise ValueError(f"{path}:{reader.line_num}: row has fewer than four columns")
            if row["label"] not in LABELS:
                raise ValueError(f"{path}:{reader.line_num}: label {row['label']!r} is not one of {LABELS}")
            if row["source"] in excluded:
                continue
            examples.append(Example(row["lang"], row["source"], row["text"], row["label"]))
    return examples


def stratified_split(examples: Sequence[Example], fraction: float, *, seed: int) -> tuple[list[Example], list[Example]]:
    """Split into (train, validation) with ``fraction`` of every (lang, label)
    group in validation (rounded, at least one when the group has two or more).

    Deterministic for a given ``seed`` and input order; both parts keep the
    input order.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[(ex.lang, ex.label)].append(i)
    rng = random.Random(seed)
    held: set[int] = set()
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        n = round(len(members) * fraction)
        if n == 0 and len(members) >= 2:
            n = 1
        held.update(members[:n])
    train = [ex for i, ex in enumerate(examples) if i not in held]
    validation = [ex for i, ex in enumerate(examples) if i in held]
    return train, validation
