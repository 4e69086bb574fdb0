"""Do the ONNX backends give the torch model's answers? ``python -m nlp.agreement --help``.

Classifies the validation split the bundled model was validated on (the same
file, seed, fraction and excluded sources as its training, from
``manifest.json``) with each backend, and reports for each: macro-F1 overall
and per language, the share of labels equal to torch float32's, the largest
probability difference, and texts/s. The ONNX backends run first, in the
same process, so torch's idle OpenMP threads do not slow them down.

:func:`choose_auto` applies the rule ``nlp.backend: auto`` follows: the
fastest backend whose macro-F1 on every language is within
:data:`nlp.backend.MAX_F1_DROP` of torch float32's. ``--write`` records the
figures and that choice in ``nlp/model/backends.json`` with the weights'
SHA-256, so a retrained model falls back to float32 ONNX until it is
measured again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nlp.backend import BACKENDS, BACKENDS_FILE, MAX_F1_DROP
from nlp.bundled import MODEL_DIR, read_manifest
from nlp.data import Example, default_data_path, read_examples, stratified_split
from nlp.metrics import scores, scores_by

__all__ = ["choose_auto", "compare", "main", "validation_split"]


def validation_split(model_dir: Path = MODEL_DIR, data: Path | None = None) -> list[Example]:
    """The held-out examples of the model in ``model_dir``, re-made from its
    manifest's training settings (seed, fraction, excluded sources) on
    ``data`` (default: :func:`nlp.data.default_data_path`).

    Raises :class:`ValueError` when the file differs from the one trained on
    (its SHA-256 is in the manifest), since the split would then differ too.
    """
    training = read_manifest(model_dir)["training"]
    path = Path(data or default_data_path())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if training.get("data_sha256") not in (None, digest):
        raise ValueError(f"{path} is not the file {model_dir} was trained on (sha256 {digest[:12]}..., "
                         f"manifest {training['data_sha256'][:12]}...); its validation split cannot be re-made")
    examples = read_examples(path, exclude_sources=training.get("excluded_sources", ()))
    return stratified_split(examples, training["validation"], seed=training["seed"])[1]


def compare(name: str, examples: Sequence[Example], *, backends: Sequence[str] = BACKENDS,
            cache_dir: Path | None = None, batch_size: int = 64) -> dict[str, dict[str, Any]]:
    """Classify ``examples`` with model ``name`` on each backend; returns per
    backend its macro-F1 (``overall`` and per language), ``agreement`` (share
    of labels equal to torch's), ``max_prob_diff`` and ``texts_per_second``
    (language detection off, tokenisation included)."""
    from nlp.sentiment import load_model

    order = sorted(backends, key=lambda b: b == "torch")  # torch last: see the module docstring
    texts = [e.text for e in examples]
    gold = [e.label for e in examples]
    langs = [e.lang for e in examples]
    runs: dict[str, Any] = {}
    for backend in order:
        model = load_model(name, backend=backend, cache_dir=cache_dir, batch_size=batch_size, detect_language=False)
        model.classify(texts[:batch_size])  # warm-up
        t0 = time.perf_counter()
        results = model.classify(texts)
        seconds = time.perf_counter() - t0
        runs[backend] = (results, seconds)
    reference = runs["torch"][0] if "torch" in runs else None
    out: dict[str, dict[str, Any]] = {}
    for backend in backends:
        results, seconds = runs[backend]
        predicted = [r.label for r in results]
        row: dict[str, Any] = {"overall": scores(gold, predicted)["macro_f1"]}
        row.update({lang: s["macro_f1"] for lang, s in scores_by(langs, gold, predicted).items()})
        if reference is not None:
            row["agreement"] = round(sum(r.label == t.label for r, t in zip(results, reference)) / len(results), 4)
            row["max_polarity_diff"] = round(max(abs(r.polarity - t.polarity) for r, t in zip(results, reference)), 4)
        row["texts_per_second"] = round(len(texts) / seconds, 1)
        out[backend] = row
    return out


def choose_auto(results: Mapping[str, Mapping[str, Any]], *, max_drop: float = MAX_F1_DROP) -> str:
    """The fastest backend whose macro-F1 on every language (and overall) is
    at most ``max_drop`` below torch's; torch itself always qualifies.

    >>> choose_auto({"torch": {"en": 0.79, "it": 0.63, "texts_per_second": 300},
    ...              "onnx-int8": {"en": 0.785, "it": 0.62, "texts_per_second": 700}})
    'onnx-int8'
    >>> choose_auto({"torch": {"en": 0.79, "it": 0.63, "texts_per_second": 300},
    ...              "onnx-int8": {"en": 0.79, "it": 0.60, "texts_per_second": 700}})
    'torch'
    """
    reference = results["torch"]
    keys = [k for k in reference if k not in ("agreement", "max_polarity_diff", "texts_per_second")]
    fair = [b for b, row in results.items() if all(row[k] >= reference[k] - max_drop - 1e-9 for k in keys)]
    return max(fair, key=lambda b: results[b]["texts_per_second"])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison from the command line; print it (and write it with ``--write``)."""
    p = argparse.ArgumentParser(prog="python -m nlp.agreement", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Examples:\n"
                                       "  python -m nlp.agreement                 # all 4,589 validation texts, ~1 min\n"
                                       "  python -m nlp.agreement --write         # and record the auto choice\n"
                                       "  python -m nlp.agreement --limit 500     # a seeded sample, quicker")
    p.add_argument("--data", type=Path, default=None, help=f"labelled TSV (default: {default_data_path()})")
    p.add_argument("--limit", type=int, default=None, help="a seeded sample of this many validation texts")
    p.add_argument("--batch-size", type=int, default=64, help="inference batch size (default: %(default)s)")
    p.add_argument("--cache-dir", type=Path, default=None, help="where ONNX exports are kept (default: .agora/models)")
    p.add_argument("--write", action="store_true", help=f"record the result in {MODEL_DIR / BACKENDS_FILE}")
    args = p.parse_args(argv)
    if args.write and args.limit is not None:
        p.error("--write records the full validation split; drop --limit")
    examples = validation_split(MODEL_DIR, args.data)
    if args.limit is not None and args.limit < len(examples):
        examples = random.Random(0).sample(examples, args.limit)
    results = compare("bundled", examples, cache_dir=args.cache_dir, batch_size=args.batch_size)
    manifest = read_manifest(MODEL_DIR)
    weights = MODEL_DIR / manifest["weights"]["file"]
    import onnxruntime
    import torch

    record = {
        "model": manifest["name"],
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "auto": choose_auto(results),
        "rule": f"fastest backend with macro-F1 at most {MAX_F1_DROP} below torch float32 overall and on every language",
        "validation_texts": len(examples),
        "batch_size": args.batch_size,
        "results": results,
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "measured": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    text = json.dumps(record, indent=2) + "\n"
    print(text, end="")
    if args.write:
        (MODEL_DIR / BACKENDS_FILE).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
