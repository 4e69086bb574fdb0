"""The ONNX backends: export on first use into a cache keyed by the weights,
the same answers as torch, and the choice ``auto`` makes."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from pathlib import Path

import pytest

from nlp import export
from nlp.backend import BACKENDS_FILE, choose_backend, recorded_backend
from nlp.bundled import MODEL_DIR, read_manifest
from nlp.errors import ModelLoadError
from nlp.sentiment import EMPTY, load_model

from .conftest import make_tiny_model

TEXTS = [None, "the coffee is good", "bad service", "the coffee is not good , the service is bad !", "",
         "@mario the coffees http://t.co/x", "coffee " * 40, "good"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


def test_onnx_matches_torch_on_padded_batches(tiny_model_dir: Path, cache: Path) -> None:
    torch_model = load_model(str(tiny_model_dir), batch_size=3)
    onnx_model = load_model(str(tiny_model_dir), backend="onnx", cache_dir=cache, batch_size=3)
    single = load_model(str(tiny_model_dir), backend="onnx", cache_dir=cache, batch_size=1)
    assert onnx_model.backend == "onnx" and onnx_model.model is None and torch_model.backend == "torch"
    expected = torch_model.classify(TEXTS)
    for got in (onnx_model.classify(TEXTS), single.classify(TEXTS)):
        assert [r.label for r in got] == [r.label for r in expected]
        for g, e in zip(got, expected):
            assert g.score == pytest.approx(e.score, abs=1e-5)
            assert g.polarity == pytest.approx(e.polarity, abs=1e-5)
            assert g.flags == e.flags
    assert onnx_model.classify([""]) == [EMPTY]


def test_int8_is_smaller_and_close(tiny_model_dir: Path, cache: Path) -> None:
    fp32 = load_model(str(tiny_model_dir), backend="onnx", cache_dir=cache).classify(TEXTS)
    int8 = load_model(str(tiny_model_dir), backend="onnx-int8", cache_dir=cache)
    assert int8.backend == "onnx-int8"
    for a, b in zip(fp32, int8.classify(TEXTS)):
        assert abs(a.polarity - b.polarity) < 0.05
    [folder] = [p for p in cache.iterdir() if p.is_dir() and (p / export.INT8).exists()]
    assert folder.name.startswith(f"{tiny_model_dir.name}-")
    info = json.loads((folder / "info.json").read_text())
    assert info["source"] == str(tiny_model_dir) and len(info["fingerprint"]) == 64
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_cached_export_is_reused_without_torch_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_tiny_model(tmp_path / "m", {0: "negative", 1: "neutral", 2: "positive"})
    first = load_model(str(folder), backend="onnx-int8", cache_dir=tmp_path / "cache").classify(TEXTS)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("exported or loaded torch weights again")

    monkeypatch.setattr(export, "export_onnx", refuse)
    monkeypatch.setattr(export, "quantize_int8", refuse)
    monkeypatch.setattr("nlp.sentiment._load_transformers", refuse)
    again = load_model(str(folder), backend="onnx-int8", cache_dir=tmp_path / "cache").classify(TEXTS)
    assert again == first


def test_new_weights_get_a_new_export(tmp_path: Path) -> None:
    folder = make_tiny_model(tmp_path / "m", {0: "negative", 1: "neutral", 2: "positive"}, seed=1)
    key = export.fingerprint(folder)
    make_tiny_model(folder, {0: "negative", 1: "neutral", 2: "positive"}, seed=2)  # retrained in place
    assert export.fingerprint(folder) != key
    cache = tmp_path / "cache"
    load_model(str(folder), backend="onnx", cache_dir=cache)
    assert [p.name for p in cache.iterdir()] == [export.cache_folder(cache, folder.name, export.fingerprint(folder)).name]
    with pytest.raises(FileNotFoundError, match="no model weights"):
        export.fingerprint(tmp_path)


def test_export_failure(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        caplog: pytest.LogCaptureFixture) -> None:
    import torch

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(ModelLoadError, match=r"cannot export sentiment model .* in .*cache.*unsupported operator.*"
                                             r"nlp.cache_dir.*nlp.backend: torch"):
        load_model(str(tiny_model_dir), backend="onnx", cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.onnx")) and not list((tmp_path / "cache").rglob("*.tmp"))
    with caplog.at_level(logging.WARNING, logger="nlp.sentiment"):
        model = load_model(str(tiny_model_dir), backend="auto", cache_dir=tmp_path / "cache")
    assert model.backend == "torch"
    assert "running it on torch" in caplog.text


def test_backend_names_are_checked(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown sentiment backend 'fast'"):
        load_model(str(tiny_model_dir), backend="fast")
    with pytest.raises(ValueError, match="CPU only"):
        choose_backend("onnx", device="cuda")


def test_config_validates_the_backend(tmp_path: Path) -> None:
    from agora.config import ConfigError, load_config

    path = tmp_path / "config.yaml"
    path.write_text("nlp:\n  backend: fast\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config.yaml: nlp.backend: .*'auto', 'torch', 'onnx' or 'onnx-int8'"):
        load_config(path)
    path.write_text("nlp:\n  backend: onnx-int8\n  cache_dir: models\n", encoding="utf-8")
    nlp = load_config(path).nlp
    assert nlp.backend == "onnx-int8" and nlp.cache_dir == tmp_path / "models"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_recorded_choice_belongs_to_the_weights(tmp_path: Path) -> None:
    (tmp_path / BACKENDS_FILE).write_text(json.dumps({"weights_sha256": "abc", "auto": "onnx-int8"}))
    assert recorded_backend(tmp_path, "abc") == "onnx-int8"
    assert recorded_backend(tmp_path, "retrained") is None
    assert recorded_backend(tmp_path / "nowhere", "abc") is None
    # the shipped record was measured on the shipped weights
    weights = MODEL_DIR / read_manifest(MODEL_DIR)["weights"]["file"]
    assert recorded_backend(MODEL_DIR, _sha256(weights)) in ("onnx", "onnx-int8", "torch")


def test_bundled_auto_is_the_recorded_backend(cache: Path) -> None:
    record = json.loads((MODEL_DIR / BACKENDS_FILE).read_text())
    model = load_model("bundled", backend="auto", cache_dir=cache)
    assert model.backend == record["auto"]
    [folder] = [p for p in cache.iterdir() if p.name.startswith(model.name)]
    assert (folder / export.INT8).stat().st_size < (folder / export.FP32).stat().st_size / 3
    results = record["results"]
    for lang in ("overall", "en", "it"):  # the rule the record claims to follow
        assert results[model.backend][lang] >= results["torch"][lang] - 0.01
    assert [r.label for r in model.classify(["Vergogna, da tre settimane aspetto il rimborso",
                                             "Thank you so much, the crew was amazing!"])] == ["negative", "positive"]


@pytest.mark.slow
def test_agreement_on_real_validation_texts(cache: Path) -> None:
    from nlp.agreement import compare, validation_split
    from nlp.data import default_data_path

    if not default_data_path().is_file():
        pytest.skip(f"labelled data not found at {default_data_path()}")
    examples = random.Random(1).sample(validation_split(), 600)
    results = compare("bundled", examples, cache_dir=cache)
    assert results["onnx"]["agreement"] >= 0.995
    assert results["onnx-int8"]["agreement"] >= 0.97
    for key in ("overall", "en", "it"):
        assert abs(results["onnx-int8"][key] - results["onnx"][key]) <= 0.02, (key, results)


def test_uncached_hub_id_with_an_onnx_backend(tmp_path: Path) -> None:
    name = "agora-tests/no-such-sentiment-model"
    with pytest.raises(ModelLoadError, match=rf"cannot load sentiment model '{name}'.*HF_HUB_OFFLINE"):
        load_model(name, backend="onnx-int8", cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())
