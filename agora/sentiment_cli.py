"""``agora sentiment``: classify texts given on the command line, or evaluate
the model on a labelled file.

``agora sentiment "testo" "text" ...`` is shorthand for ``agora sentiment
text ...``: :class:`_TextsByDefault` puts the ``text`` command in front when
the first word is not a command name, so both forms work with typer.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional

import click
import typer
from typer.core import TyperGroup

__all__ = ["sentiment_app"]


class _TextsByDefault(TyperGroup):
    """A group whose first word, when it is not a command, starts the texts of ``text``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((a for a in args if a == "--" or not a.startswith("-")), None)
        if first is not None and first not in self.commands:
            args = ["text", *args]
        return super().parse_args(ctx, args)


sentiment_app = typer.Typer(
    cls=_TextsByDefault,
    no_args_is_help=True,
    help=(
        "Classify texts, or measure the sentiment model on a labelled file.\n\n"
        "Examples:\n\n"
        '  agora sentiment "Servizio pessimo, non compro più" "Love this coffee!"\n\n'
        "  agora sentiment eval tweets.tsv --json      # columns text, label[, lang]\n\n"
        "  agora sentiment eval tweets.csv --backend torch --model ./my-model\n\n"
        "The model and backend come from nlp.model and nlp.backend in config.yaml unless "
        "--model / --backend say otherwise."
    ),
)

ModelOption = typer.Option(None, "--model", "-m", help="bundled, a local folder or a hub id (default: nlp.model).")
BackendOption = typer.Option(None, "--backend", "-b", help="auto, torch, onnx or onnx-int8 (default: nlp.backend).")
JsonOption = typer.Option(False, "--json", help="Print JSON on stdout.")


def _load(model: Optional[str], backend: Optional[str]) -> Any:
    from agora.cli import err, state
    from nlp.backend import BACKEND_CHOICES
    from nlp.errors import ModelLoadError
    from nlp.sentiment import load_model

    if backend is not None and backend not in BACKEND_CHOICES:
        raise typer.BadParameter(f"{backend!r} is not one of {', '.join(BACKEND_CHOICES)}", param_hint="--backend")
    n = state.config().nlp
    name = model or n.model
    with err.status(f"loading sentiment model {name}"):
        try:
            return load_model(name, batch_size=n.batch_size, max_length=n.max_length, device=n.device,
                              backend=backend or n.backend, cache_dir=n.cache_dir)
        except ModelLoadError as exc:
            err.print(f"agora: sentiment model: {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(4) from exc


@sentiment_app.command("text")
def text(texts: list[str] = typer.Argument(..., help="Texts to classify (quote each one)."),
         model: Optional[str] = ModelOption, backend: Optional[str] = BackendOption,
         json_out: bool = JsonOption) -> None:
    """Classify the TEXTS: label, score (its probability), polarity P(pos) − P(neg) and language.

    `agora sentiment "testo" ...` is the same as `agora sentiment text "testo" ...`.
    """
    from agora.cli import _print_json, _print_table

    m = _load(model, backend)
    results = m.classify(texts)
    if json_out:
        _print_json([{"text": t, "label": r.label, "score": round(r.score, 4), "polarity": round(r.polarity, 4),
                      "language": r.language, "flags": list(r.flags)} for t, r in zip(texts, results)])
        return
    from rich.text import Text

    _print_table(("label", "score", "polarity", "lang", "text"),
                 [(r.label, f"{r.score:.2f}", f"{r.polarity:+.2f}", r.language or "?",
                   Text(t if len(t) <= 70 else t[:69] + "…")) for t, r in zip(texts, results)])


@sentiment_app.command("eval")
def eval_(file: Path = typer.Argument(..., help="TSV or CSV with a header: text, label (negative/neutral/positive "
                                                 "or 0/1/2), optional lang.", exists=True, dir_okay=False),
          model: Optional[str] = ModelOption, backend: Optional[str] = BackendOption,
          json_out: bool = JsonOption) -> None:
    """Measure the model on FILE: accuracy, macro-F1 overall and per language, confusion matrix, texts/s.

    Per-language figures use the lang column, or the detected language where
    it is missing. Rows that cannot be used are reported on stderr as
    file:line: reason and skipped (their count is in the output).
    """
    from agora.cli import _print_json, _progress, err, out
    from nlp.evaluate import evaluate, read_labelled

    try:
        rows, issues = read_labelled(file)
    except ValueError as exc:
        err.print(f"agora: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    for issue in issues[:20]:
        err.print(issue, highlight=False, soft_wrap=True, markup=False)
    if len(issues) > 20:
        err.print(f"... and {len(issues) - 20} more skipped rows", highlight=False)
    if not rows:
        err.print(f"agora: {file}: no usable rows ({len(issues)} skipped)", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    t0 = time.perf_counter()
    m = _load(model, backend)
    load_seconds = time.perf_counter() - t0
    with _progress() as progress:
        task = progress.add_task("classify", total=len(rows))
        report = evaluate(m, rows, progress=lambda k: progress.advance(task, k))
    report = {"file": str(file), **report, "skipped": len(issues), "load_seconds": round(load_seconds, 2)}
    if json_out:
        _print_json(report)
        return
    _print_report(report, out)


def _print_report(report: dict[str, Any], console: Any) -> None:
    from agora.cli import _print_table

    console.print(f"{report['file']}: {report['n']} texts ({report['skipped']} skipped), model {report['model']} "
                  f"on {report['backend']}", highlight=False)
    rows = [("all", str(report["n"]), f"{report['accuracy']:.3f}", f"{report['macro_f1']:.3f}")]
    rows += [(lang, str(s["n"]), f"{s['accuracy']:.3f}", f"{s['macro_f1']:.3f}")
             for lang, s in report["by_language"].items()]
    _print_table((f"language ({report['language_from']})", "texts", "accuracy", "macro-F1"), rows)
    labels = report["confusion"]["labels"]
    _print_table(("gold \\ predicted", *labels),
                 [(g, *map(str, row)) for g, row in zip(labels, report["confusion"]["matrix"])])
    console.print(f"{report['texts_per_second']} texts/s ({report['seconds']} s classifying, "
                  f"{report['load_seconds']} s loading)", highlight=False)
    sys.stdout.flush()
