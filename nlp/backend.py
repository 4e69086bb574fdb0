"""Inference backends: what turns a padded batch of token ids into logits.

A backend is a :class:`Runner`: ``runner(batch) -> logits``, where ``batch``
maps input names (``input_ids``, ``attention_mask``, optionally
``token_type_ids``) to int64 arrays of shape ``(batch, sequence)`` and the
result is a float32 array of shape ``(batch, labels)``. Everything else
(normalisation, tokenisation, batching, labels, language) is shared by
:class:`nlp.sentiment.SentimentModel`, so backends differ only here.

- ``torch``: the transformers model in float32 (:class:`TorchRunner`);
- ``onnx``: the same network exported to ONNX, on onnxruntime's CPU provider;
- ``onnx-int8``: that export with int8 weights (dynamic quantisation).

``auto`` (:func:`choose_backend`) is the fastest honest path: for the
bundled model, the backend recorded in ``nlp/model/backends.json`` by
``python -m nlp.agreement --write`` (int8 only when it kept macro-F1 within
:data:`MAX_F1_DROP` of float32 on every language of the validation split and
was faster); for other models ``onnx`` (float32, the same numbers as torch);
on a GPU ``torch``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = ["BACKENDS", "BACKEND_CHOICES", "MAX_F1_DROP", "OnnxRunner", "Runner", "TorchRunner", "choose_backend",
           "recorded_backend"]

BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")
BACKEND_CHOICES: tuple[str, ...] = ("auto", *BACKENDS)
#: The largest per-language macro-F1 loss against float32 that still counts as the same model.
MAX_F1_DROP = 0.01
BACKENDS_FILE = "backends.json"


class Runner(Protocol):
    """Padded int64 inputs in, float32 logits ``(batch, labels)`` out."""

    backend: str

    def __call__(self, batch: Mapping[str, np.ndarray]) -> np.ndarray: ...


class TorchRunner:
    """Runs a transformers sequence classifier (``model(**batch).logits``)."""

    backend = "torch"

    def __init__(self, model: Any, device: str = "cpu") -> None:
        self.model = model
        self.device = device

    def __call__(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
        import torch

        tensors = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
        with torch.inference_mode():
            logits = self.model(**tensors).logits
        return logits.float().cpu().numpy()


class OnnxRunner:
    """Runs an ONNX export on onnxruntime's CPU provider with ``threads``
    intra-op threads (default: the CPUs this process may use). Inputs the
    graph does not take are dropped; ``token_type_ids`` it takes but the
    tokenizer does not give are zeros."""

    def __init__(self, path: Path, *, backend: str = "onnx", threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        self.threads = threads or _cpus()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.path = Path(path)
        self.backend = backend
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
        feed = {k: batch[k] for k in self.inputs if k in batch}
        if "token_type_ids" in self.inputs and "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(batch["input_ids"])
        return np.asarray(self.session.run(["logits"], feed)[0], dtype=np.float32)


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def recorded_backend(model_dir: Path, weights_sha256: str) -> str | None:
    """The backend ``backends.json`` in ``model_dir`` chose for these exact
    weights, or ``None`` when there is no record, or it was measured on other
    weights (a retrained model must be measured again)."""
    path = Path(model_dir) / BACKENDS_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if record.get("weights_sha256") != weights_sha256 or record.get("auto") not in BACKENDS:
        return None
    return str(record["auto"])


def choose_backend(requested: str, *, device: str = "cpu", recorded: str | None = None) -> str:
    """Resolve ``requested`` (one of :data:`BACKEND_CHOICES`) to a backend.

    >>> choose_backend("auto", recorded="onnx-int8")
    'onnx-int8'
    >>> choose_backend("auto")
    'onnx'
    >>> choose_backend("auto", device="cuda")
    'torch'
    >>> choose_backend("onnx-int8")
    'onnx-int8'

    Raises :class:`ValueError` for an unknown name, or an ONNX backend on a
    device other than the CPU.
    """
    if requested not in BACKEND_CHOICES:
        raise ValueError(f"unknown sentiment backend {requested!r}; choose one of {', '.join(BACKEND_CHOICES)}")
    if requested == "auto":
        if device != "cpu":
            return "torch"
        return recorded or "onnx"
    if requested != "torch" and device != "cpu":
        raise ValueError(f"backend {requested!r} runs on the CPU only; use backend 'torch' for device {device!r}")
    return requested
