"""Sentiment throughput: torch float32 (the baseline) beside ONNX float32 and ONNX int8.

    .venv/bin/python -m benchmarks.sentiment              # 1,024 texts, batch 1, 32 and 128
    .venv/bin/python -m benchmarks.sentiment --quick      # 128 texts, about a minute
    .venv/bin/python -m benchmarks.sentiment --repeat 3   # best of 3 runs per cell

Every backend runs the bundled model through the same
:meth:`nlp.sentiment.SentimentModel.classify` (normalisation, tokenisation,
padding to the batch's longest text, softmax), on the same seeded sample of
real tweets from the validation split (Italian and English in their
proportions), after a warm-up batch; language detection is off because it is
the same for all backends. Batch 1 runs on the first quarter of the texts.
Each backend is measured in a fresh interpreter, so "peak MB" is that
process's maximum resident memory (model, runtime, the labelled file read to
pick the texts); with
``--repeat`` the runs are interleaved across backends and the fastest is
shown. "CPU ms/text" is the process's user+system CPU time per text (the
lowest seen), which other jobs on the machine disturb less than wall-clock
texts/s (idle threads that spin still count). The ONNX files are built once beforehand (in their own process) into
``--cache-dir``. "disk MB" is what the backend reads: the base and trained
safetensors for torch, the ``.onnx`` file for ONNX.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BACKENDS = ("torch", "onnx", "onnx-int8")
BATCHES = (1, 32, 128)


def _texts(count: int, seed: int) -> list[str]:
    from nlp.agreement import validation_split

    examples = validation_split()
    return [e.text for e in random.Random(seed).sample(examples, min(count, len(examples)))]


def _disk_mb(model: Any) -> float:
    from nlp.bundled import MODEL_DIR, base_dir, read_manifest

    if model.backend == "torch":
        complete = read_manifest(MODEL_DIR)["weights"].get("complete", False)  # base weights' values unused
        files = [*([] if complete else [base_dir() / "model.safetensors"]), *MODEL_DIR.glob("*.safetensors")]
    else:
        files = [model.runner.path]
    return sum(f.stat().st_size for f in files) / 1e6


def measure_one(backend: str, count: int, seed: int, cache_dir: str, batches: tuple[int, ...]) -> dict[str, Any]:
    """Load the bundled model on ``backend`` in this process and time
    ``classify`` at each batch size; returns texts/s per batch, load time,
    disk and peak memory."""
    from nlp.sentiment import load_model

    texts = _texts(count, seed)
    started = time.perf_counter()
    model = load_model("bundled", backend=backend, cache_dir=cache_dir, detect_language=False)
    load_seconds = time.perf_counter() - started
    speeds, cpu = {}, {}
    for batch in batches:
        model.batch_size = batch
        sample = texts[: max(len(texts) // 4, 32)] if batch == 1 else texts
        model.classify(sample[:batch])  # warm-up: first-run allocations and kernel choices
        c0, t0 = _cpu_seconds(), time.perf_counter()
        model.classify(sample)
        speeds[str(batch)] = len(sample) / (time.perf_counter() - t0)
        cpu[str(batch)] = 1000 * (_cpu_seconds() - c0) / len(sample)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if model.backend == "torch":
        import torch

        threads = torch.get_num_threads()
    else:
        threads = model.runner.threads
    return {"backend": model.backend, "texts_per_second": speeds, "cpu_ms_per_text": cpu, "load_seconds": load_seconds,
            "disk_mb": _disk_mb(model), "peak_mb": peak_mb, "threads": threads}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(args: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.sentiment", *args], capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child {args} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sentiment", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1024, help="texts per run (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="128 texts: a short run to check it works")
    parser.add_argument("--repeat", type=int, default=1, help="runs per backend, interleaved; the fastest is shown")
    parser.add_argument("--seed", type=int, default=0, help="sample seed (default: %(default)s)")
    parser.add_argument("--cache-dir", default=".agora/models", help="where the ONNX files are (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is given up")
    parser.add_argument("--one", metavar="BACKEND", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    count = 128 if args.quick else args.texts
    if args.prepare:
        from nlp.sentiment import load_model

        load_model("bundled", backend="onnx-int8", cache_dir=args.cache_dir)  # exports float32, then int8
        print(json.dumps({"prepared": args.cache_dir}))
        return
    if args.one:
        print(json.dumps(measure_one(args.one, count, args.seed, args.cache_dir, BATCHES)))
        return

    _child(["--prepare", "--cache-dir", args.cache_dir], args.timeout)
    best: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeat):
        for backend in BACKENDS:
            run = _child(["--one", backend, "--texts", str(count), "--seed", str(args.seed),
                          "--cache-dir", args.cache_dir], args.timeout)
            if backend not in best:
                best[backend] = run
            else:
                kept = best[backend]
                for b, v in run["texts_per_second"].items():
                    kept["texts_per_second"][b] = max(kept["texts_per_second"][b], v)
                    kept["cpu_ms_per_text"][b] = min(kept["cpu_ms_per_text"][b], run["cpu_ms_per_text"][b])
                kept["peak_mb"] = min(kept["peak_mb"], run["peak_mb"])
    base = best["torch"]["texts_per_second"]
    print(f"bundled model, {count} validation tweets (batch 1: {max(count // 4, 32)}), "
          f"{best['torch']['threads']} threads, best of {args.repeat}; texts/s (x torch fp32 at the same batch)")
    head = "".join(f" | {'batch ' + str(b):>16}" for b in BATCHES)
    print(f"{'backend':<14}{head} | {'peak MB':>7} | {'disk MB':>7} | {'load s':>6} | CPU ms/text at 1/32/128")
    for backend in BACKENDS:
        row = best[backend]
        cells = "".join(f" | {row['texts_per_second'][str(b)]:8.0f} ({row['texts_per_second'][str(b)] / base[str(b)]:4.1f}x)"
                        for b in BATCHES)
        label = {"torch": "torch fp32", "onnx": "onnx fp32", "onnx-int8": "onnx int8"}[backend]
        cpu = " / ".join(f"{row['cpu_ms_per_text'][str(b)]:.1f}" for b in BATCHES)
        print(f"{label:<14}{cells} | {row['peak_mb']:7.0f} | {row['disk_mb']:7.1f} | {row['load_seconds']:6.1f} | {cpu}",
              flush=True)


if __name__ == "__main__":
    main()
