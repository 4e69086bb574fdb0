"""The bundled model's tokenizer without transformers (and so without torch).

On the ONNX backends nothing else needs torch, and importing transformers
costs about 220 MB and 2 s; :class:`FastTokenizer` reads the base model's
``tokenizer.json`` with the ``tokenizers`` library and offers the part of the
transformers tokenizer interface :class:`nlp.sentiment.SentimentModel` uses.
A test checks it gives the same ids as ``AutoTokenizer`` on real tweets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

__all__ = ["FastTokenizer"]


class FastTokenizer:
    """``tokenizer(texts, truncation=True, max_length=n)`` ->
    ``{"input_ids", "token_type_ids", "attention_mask"}`` lists, unpadded;
    plus ``pad_token_id``, ``padding_side`` and ``model_max_length``."""

    padding_side = "right"

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        folder = Path(folder)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        config_path = folder / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        self.model_max_length = int(config.get("model_max_length", 512))
        pad = config.get("pad_token", "[PAD]")
        self.pad_token_id = self._tokenizer.token_to_id(pad if isinstance(pad, str) else pad.get("content", "[PAD]"))

    def __call__(self, texts: Sequence[str], *, truncation: bool = True,
                 max_length: int | None = None) -> dict[str, list[list[int]]]:
        # Change the truncation only when it differs: it mutates the Rust
        # tokenizer, which concurrent encode_batch calls may be reading.
        limit = (max_length or self.model_max_length) if truncation else None
        current = self._tokenizer.truncation
        if limit is None and current is not None:
            self._tokenizer.no_truncation()
        elif limit is not None and (current is None or current.get("max_length") != limit):
            self._tokenizer.enable_truncation(limit)
        encodings = self._tokenizer.encode_batch(list(texts))
        return {"input_ids": [e.ids for e in encodings], "token_type_ids": [e.type_ids for e in encodings],
                "attention_mask": [e.attention_mask for e in encodings]}
