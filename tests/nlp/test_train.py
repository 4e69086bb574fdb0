"""A training smoke run on a small made-up TSV, and the command line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nlp.bundled import read_manifest
from nlp.sentiment import load_model
from nlp.train import TrainConfig, build_parser, main, train

WORDS = {
    ("en", "negative"): ["terrible", "awful", "worst", "hate", "broken", "delayed"],
    ("en", "neutral"): ["today", "flight", "schedule", "tomorrow", "store", "information"],
    ("en", "positive"): ["great", "love", "amazing", "thanks", "wonderful", "best"],
    ("it", "negative"): ["pessimo", "schifo", "vergogna", "rotto", "ritardo", "odio"],
    ("it", "neutral"): ["oggi", "orario", "domani", "negozio", "treno", "informazioni"],
    ("it", "positive"): ["ottimo", "grazie", "bellissimo", "adoro", "perfetto", "bravi"],
}


def make_tsv(path: Path, per_cell: int = 50, seed: int = 0) -> Path:
    rng = random.Random(seed)
    lines = ["lang\tsource\ttext\tlabel"]
    for (lang, label), words in WORDS.items():
        source = "sentipolc2016" if lang == "it" and label != "positive" else f"{lang}_made_up"
        for i in range(per_cell):
            text = f"@user{i} " + " ".join(rng.choice(words) for _ in range(rng.randint(2, 8))) + " http://t.co/x"
            lines.append(f"{lang}\t{source}\t{text}\t{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_training_smoke(tmp_path: Path) -> None:
    data = make_tsv(tmp_path / "train.tsv")
    out = tmp_path / "model"
    logged: list[str] = []
    metrics = train(TrainConfig(data=data, output=out, top_layers=1, epochs=1, batch_size=16, max_length=32,
                                head_lr=3e-3, seed=1), log=logged.append)
    assert {p.name for p in out.iterdir()} == {"weights.safetensors", "manifest.json", "metrics.json"}
    manifest = read_manifest(out)
    assert manifest["name"] == "agora-sentiment-0.1"
    assert manifest["normalisation"]["emoji"] == "kept"
    assert manifest["training"]["train_examples"] + manifest["training"]["validation_examples"] == 300
    assert all(k.startswith(("bert.encoder.layer.5.", "bert.pooler.", "classifier.")) for k in manifest["weights"]["tensors"])
    assert json.loads((out / "metrics.json").read_text())["validation"] == metrics["validation"]
    assert set(metrics["validation"]["by_language"]) == {"it", "en"}
    assert any("epoch 1/1" in line for line in logged)

    model = load_model(str(out), batch_size=8)
    assert model.name == "agora-sentiment-0.1"
    results = model.classify(["great love amazing", None, "pessimo schifo vergogna"])
    assert [r.flags for r in results] == [(), ("empty",), ()]


@pytest.mark.slow
def test_no_noncommercial_drops_sentipolc_and_emoji_names(tmp_path: Path) -> None:
    data = make_tsv(tmp_path / "train.tsv", per_cell=10)
    out = tmp_path / "model"
    assert main(["--data", str(data), "--output", str(out), "--no-noncommercial", "--top-layers", "1",
                 "--epochs", "1", "--max-length", "16", "--emoji-names"]) == 0
    manifest = read_manifest(out)
    assert manifest["name"] == "agora-sentiment-0.1-commercial"
    assert manifest["normalisation"]["emoji"] == "names"
    assert load_model(str(out)).emoji_names
    assert manifest["training"]["excluded_sources"] == ["sentipolc2016"]
    assert manifest["training"]["train_examples"] + manifest["training"]["validation_examples"] == 40


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--no-noncommercial", "--top-layers", "--balance", "--cache-dir", "--data", "--output"):
        assert option in text


def test_missing_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tmp_path / "nope.tsv"), "--output", str(tmp_path / "m")]) == 2
    assert "training data not found" in capsys.readouterr().err
