"""Italian vocabulary extension for the bundled model's English WordPiece.

The base vocabulary (all-MiniLM-L6-v2, English, uncased) splits Italian words
into many short pieces. :func:`extend_with_words` appends the most frequent
whole words of the (Italian) training texts that the base lacks, cut by the
base tokenizer's own normaliser and pre-tokeniser, ties broken
alphabetically; base ids never change, and greedy longest-match WordPiece
finds the longer Italian pieces first. The same texts always give the same
vocabulary, which ``python -m nlp.train --extend-vocab`` needs. (Training a
WordPiece with HF ``tokenizers`` instead was measured and dropped: its trainer
breaks ties in hash-map order, so two runs on the same texts differed by a few
pieces: 6,169 to 6,173 new pieces of 8,000.)
:func:`initial_embeddings` gives each new piece the mean embedding of
the pieces the base tokenizer splits it into, so fine-tuning starts from
something close to what the base model saw.

Only the ``tokenizers`` library is needed here (no torch).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Extension", "extend_with_words", "initial_embeddings"]

_PREFIX = "##"


@dataclass(frozen=True)
class Extension:
    """An extended tokenizer: its JSON (``tokenizer.json`` format), the pieces
    appended to the base vocabulary (ids ``base_size`` on, in order) and the
    settings it was made with (``trained_size``: at most that many words)."""

    tokenizer_json: str
    added: tuple[str, ...]
    base_size: int
    trained_size: int
    min_frequency: int

    @property
    def vocab_size(self) -> int:
        return self.base_size + len(self.added)


def extend_with_words(base_json: str, texts: Iterable[str], *, size: int, min_frequency: int) -> Extension:
    """Append to the vocabulary of ``base_json`` (a BERT WordPiece
    ``tokenizer.json``) the ``size`` most frequent words of ``texts`` (as the
    base normaliser and pre-tokeniser cut them: lower case, punctuation and
    emoji apart) that it lacks and that occur at least ``min_frequency``
    times; ties in frequency go alphabetically. Deterministic."""
    from collections import Counter

    from tokenizers import Tokenizer

    base = Tokenizer.from_str(base_json)
    spec = json.loads(base_json)
    if spec["model"]["type"] != "WordPiece":
        raise ValueError(f"vocabulary extension needs a WordPiece tokenizer, not {spec['model']['type']}")
    vocab: dict[str, int] = spec["model"]["vocab"]
    base_size = len(vocab)
    if sorted(vocab.values()) != list(range(base_size)):
        raise ValueError("the base vocabulary's ids are not 0..n-1; cannot append to it")
    counts: Counter[str] = Counter()
    normaliser, pre = base.normalizer, base.pre_tokenizer
    for text in texts:
        counts.update(w for w, _ in pre.pre_tokenize_str(normaliser.normalize_str(text)))
    ranked = sorted((w for w, n in counts.items() if n >= min_frequency and w not in vocab),
                    key=lambda w: (-counts[w], w))
    added = tuple(ranked[:size])
    for i, piece in enumerate(added):
        vocab[piece] = base_size + i
    return Extension(json.dumps(spec, ensure_ascii=False), added, base_size, size, min_frequency)


def _base_pieces(base: Any, vocab: dict[str, int], piece: str) -> list[int]:
    """The base ids ``piece`` splits into; a ``##`` piece's first sub-piece
    is taken as a continuation piece when the base vocabulary has one."""
    cont = piece.startswith(_PREFIX)
    ids: list[int] = base.encode(piece[len(_PREFIX):] if cont else piece, add_special_tokens=False).ids
    if cont and ids:
        as_cont = vocab.get(_PREFIX + base.id_to_token(ids[0]))
        if as_cont is not None:
            ids[0] = as_cont
    return ids


def initial_embeddings(base_json: str, added: Sequence[str], embeddings: Any) -> Any:
    """Rows for ``added`` (a float tensor, one per piece): the mean of the
    base ``embeddings`` rows of the pieces each splits into under the base
    tokenizer (``[UNK]``'s row for pieces it cannot split, e.g. emoji)."""
    import torch
    from tokenizers import Tokenizer

    base = Tokenizer.from_str(base_json)
    base.no_padding()  # the base tokenizer.json pads every text to 128 tokens
    base.no_truncation()
    model = json.loads(base_json)["model"]
    vocab, unk = model["vocab"], model["vocab"][model["unk_token"]]
    rows = []
    for piece in added:
        ids = _base_pieces(base, vocab, piece) or [unk]
        rows.append(embeddings[torch.tensor(ids)].mean(0))
    return torch.stack(rows) if rows else embeddings.new_zeros((0, embeddings.shape[1]))
