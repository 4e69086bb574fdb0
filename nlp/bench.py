"""Measure classification throughput: ``python -m nlp.bench --help``.

Classifies a fixed, seeded sample of the labelled tweets (Italian and English
in the file's proportions) with the full :meth:`SentimentModel.classify` path
(normalisation, tokenization, batching, language detection) after a short
warm-up, and prints texts per second with the settings used.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence

from nlp.data import read_examples
from nlp.train import DEFAULT_DATA

__all__ = ["main", "measure"]


def measure(name: str, texts: Sequence[str], *, batch_size: int = 64, max_length: int = 128,
            detect_language: bool = True, repeats: int = 1, backend: str = "torch",
            cache_dir: str | None = None) -> dict[str, float | int | str]:
    """Load ``name`` on ``backend`` and return the best texts/s over ``repeats`` runs on ``texts``."""
    import torch

    from nlp.sentiment import load_model

    t0 = time.perf_counter()
    model = load_model(name, batch_size=batch_size, max_length=max_length, detect_language=detect_language,
                       backend=backend, cache_dir=cache_dir)
    load_seconds = time.perf_counter() - t0
    model.classify(list(texts[:batch_size]))
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.classify(texts)
        best = max(best, len(texts) / (time.perf_counter() - t0))
    return {"model": model.name, "backend": model.backend, "texts": len(texts), "texts_per_second": round(best, 1),
            "batch_size": batch_size, "max_length": max_length, "language_detection": detect_language,
            "torch_threads": torch.get_num_threads(), "load_seconds": round(load_seconds, 2)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line and print the result as JSON."""
    p = argparse.ArgumentParser(prog="python -m nlp.bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Example: python -m nlp.bench --model bundled --texts 2000 --batch-size 64")
    p.add_argument("--model", default="bundled", help="bundled, a local folder or a hub id (default: bundled)")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="TSV to sample texts from (default: %(default)s)")
    p.add_argument("--texts", type=int, default=2000, help="how many texts (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64, help="inference batch size (default: %(default)s)")
    p.add_argument("--max-length", type=int, default=128, help="tokens per text (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3, help="runs; the best is reported (default: %(default)s)")
    p.add_argument("--backend", default="torch", choices=("auto", "torch", "onnx", "onnx-int8"),
                   help="inference backend (default: %(default)s); benchmarks.sentiment compares them all")
    p.add_argument("--no-language", dest="language", action="store_false", help="skip language detection")
    p.add_argument("--seed", type=int, default=0, help="sample seed (default: %(default)s)")
    args = p.parse_args(argv)
    examples = read_examples(args.data)
    texts = [e.text for e in random.Random(args.seed).sample(examples, min(args.texts, len(examples)))]
    result = measure(args.model, texts, batch_size=args.batch_size, max_length=args.max_length,
                     detect_language=args.language, repeats=args.repeats, backend=args.backend)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
