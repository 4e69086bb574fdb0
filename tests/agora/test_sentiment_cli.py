"""``agora sentiment`` as a user runs it: the real console script in a
subprocess, the bundled model on its default backend, files made here and a
slice of the real validation data."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from nlp.backend import BACKENDS_FILE
from nlp.bundled import MODEL_DIR

AGORA = Path(sys.executable).with_name("agora")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config whose ONNX cache lives in the test's folder (shared by this module's runs)."""
    folder = tmp_path_factory.mktemp("sentiment-cli")
    path = folder / "config.yaml"
    path.write_text("nlp:\n  cache_dir: models\n", encoding="utf-8")
    return path


def agora(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(AGORA), "--config", str(config), *args], capture_output=True, text=True, timeout=600,
                          cwd=config.parent, env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})


def test_help_names_both_forms(config: Path) -> None:
    assert "sentiment" in agora(config, "--help").stdout
    done = agora(config, "sentiment", "--help")
    assert done.returncode == 0
    assert "agora sentiment eval" in done.stdout and "text" in done.stdout and "eval" in done.stdout


@pytest.mark.slow
def test_texts_on_the_command_line(config: Path) -> None:
    done = agora(config, "sentiment", "Vergogna, da tre settimane aspetto il rimborso",
                 "Thank you so much, the crew was amazing!", "", "--json")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [r["label"] for r in results] == ["negative", "positive", "neutral"]
    assert [r["language"] for r in results] == ["it", "en", None]
    assert [r["flags"] for r in results] == [[], [], ["empty"]]
    assert all(0 < r["score"] <= 1 and -1 <= r["polarity"] <= 1 for r in results)
    assert list((config.parent / "models").glob("agora-sentiment-*/*.onnx"))  # the default backend is ONNX


@pytest.mark.slow
def test_eval_small_csv_with_bad_rows(config: Path) -> None:
    path = config.parent / "small.csv"
    path.write_text(
        "text,label\n"
        "\"Vergogna, da tre settimane aspetto il rimborso\",negative\n"
        "Adoro questo caffè, buonissimo,positive\n"  # unquoted comma: 3 fields
        "Grazie mille, personale gentilissimo e bravissimo!,2\n"  # also 3 fields
        "\"Grazie mille, personale gentilissimo e bravissimo!\",2\n"
        "I love this coffee,bof\n"
        "My bag is lost and nobody answers the phone. Terrible.,0\n"
        "What time does the store open tomorrow?,neutral\n"
        "Worst customer service ever,NEGATIVE\n", encoding="utf-8")
    done = agora(config, "sentiment", "eval", str(path))
    assert done.returncode == 0, done.stderr
    assert f"{path}:3: 3 fields, the header has 2" in done.stderr
    assert f"{path}:6: label 'bof' is not negative/neutral/positive or 0/1/2" in done.stderr
    assert f"{path}: 5 texts (3 skipped)" in done.stdout
    for needle in ("macro-F1", "language (detected)", "gold \\ predicted", "texts/s"):
        assert needle in done.stdout
    done = agora(config, "sentiment", "eval", str(path), "--json", "--backend", "torch")
    report = json.loads(done.stdout)
    assert (report["n"], report["skipped"], report["backend"]) == (5, 3, "torch")
    matrix = report["confusion"]["matrix"]
    assert sum(map(sum, matrix)) == 5
    assert report["accuracy"] == round(sum(matrix[i][i] for i in range(3)) / 5, 4)
    assert set(report["by_language"]) <= {"it", "en", "unknown"} and report["language_from"] == "detected"


def test_eval_file_errors(config: Path) -> None:
    path = config.parent / "nolabel.tsv"
    path.write_text("text\tsentiment\nciao\tpositive\n", encoding="utf-8")
    done = agora(config, "sentiment", "eval", str(path))
    assert done.returncode == 1
    assert done.stderr.strip() == f"agora: {path}:1: header has no 'label' column (found: 'text', 'sentiment')"
    done = agora(config, "sentiment", "eval", str(config.parent / "missing.csv"))
    assert done.returncode == 2 and "missing.csv" in done.stderr
    done = agora(config, "sentiment", "ciao", "--backend", "fast")
    assert done.returncode == 2 and "fast" in done.stderr


@pytest.mark.slow
def test_eval_on_real_validation_texts(config: Path) -> None:
    from nlp.agreement import validation_split
    from nlp.data import default_data_path

    if not default_data_path().is_file():
        pytest.skip(f"labelled data not found at {default_data_path()}")
    examples = random.Random(2).sample(validation_split(), 300)
    path = config.parent / "validation.tsv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["lang", "source", "text", "label"])
        writer.writerows([e.lang, e.source, e.text, e.label] for e in examples)
    done = agora(config, "sentiment", "eval", str(path), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    auto = json.loads((MODEL_DIR / BACKENDS_FILE).read_text())["auto"]
    assert (report["n"], report["skipped"], report["backend"], report["language_from"]) == (300, 0, auto, "column")
    assert set(report["by_language"]) == {"en", "it"}
    assert report["by_language"]["en"]["n"] == sum(e.lang == "en" for e in examples)
    assert report["macro_f1"] > 0.65 and report["by_language"]["it"]["macro_f1"] > 0.5
    assert report["texts_per_second"] > 0
