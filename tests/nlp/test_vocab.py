"""Italian vocabulary extension: base ids unchanged, new pieces appended and
used, new embeddings start from their base sub-pieces; a bundled model with
its own tokenizer saves, loads and exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.bundled import base_dir
from nlp.vocab import extend_with_words, initial_embeddings

ITALIAN = ["il governo della nazione è pessimo", "governo ladro, vergogna", "la nazione ringrazia il governo",
           "che schifo di servizio", "servizio ottimo, grazie!", "grazie mille al governo 😡"] * 5


def _base_json() -> str:
    return (base_dir() / "tokenizer.json").read_text(encoding="utf-8")


def test_extension_appends_pieces_and_keeps_base_ids() -> None:
    from tokenizers import Tokenizer

    base_json = _base_json()
    ext = extend_with_words(base_json, ITALIAN, size=200, min_frequency=3)
    base_vocab = json.loads(base_json)["model"]["vocab"]
    vocab = json.loads(ext.tokenizer_json)["model"]["vocab"]
    assert ext.base_size == len(base_vocab) and ext.vocab_size == len(vocab) > len(base_vocab)
    assert all(vocab[k] == v for k, v in base_vocab.items())
    assert [vocab[p] for p in ext.added] == list(range(ext.base_size, ext.vocab_size))
    assert "governo" in ext.added and "governo" not in base_vocab
    old, new = Tokenizer.from_str(base_json), Tokenizer.from_str(ext.tokenizer_json)
    for t in (old, new):
        t.no_padding()  # the base tokenizer.json pads to 128
    text = "Il GOVERNO della nazione"
    assert len(new.encode(text).ids) < len(old.encode(text).ids)
    assert "governo" in new.encode(text).tokens  # the same normaliser: lower case
    english = "the flight was delayed"
    assert new.encode(english).ids == old.encode(english).ids


def test_word_extension_is_deterministic_and_frequency_ranked() -> None:
    from tokenizers import Tokenizer

    base_json = _base_json()
    ext = extend_with_words(base_json, ITALIAN, size=3, min_frequency=3)
    assert ext.added == ("governo", "grazie", "nazione")  # 20, 10 and 10 times: ties alphabetically
    assert extend_with_words(base_json, list(reversed(ITALIAN)), size=3, min_frequency=3) == ext
    assert extend_with_words(base_json, ITALIAN, size=100, min_frequency=11).added == ("governo",)
    new = Tokenizer.from_str(ext.tokenizer_json)
    new.no_padding()
    assert new.encode("Governo e NAZIONE").tokens == ["[CLS]", "governo", "e", "nazione", "[SEP]"]


def test_new_embeddings_are_the_mean_of_their_base_pieces() -> None:
    import torch
    from tokenizers import Tokenizer

    base_json = _base_json()
    old = Tokenizer.from_str(base_json)
    old.no_padding()
    embeddings = torch.randn(len(json.loads(base_json)["model"]["vocab"]), 4)
    rows = initial_embeddings(base_json, ["governo", "##zione", "😡"], embeddings)
    expected = embeddings[old.encode("governo", add_special_tokens=False).ids].mean(0)
    assert torch.allclose(rows[0], expected)
    pieces = old.encode("zione", add_special_tokens=False).tokens
    ids = [old.token_to_id("##" + pieces[0]) or old.token_to_id(pieces[0]),
           *[old.token_to_id(p) for p in pieces[1:]]]
    assert torch.allclose(rows[1], embeddings[ids].mean(0))
    assert torch.allclose(rows[2], embeddings[old.token_to_id("[UNK]")])


@pytest.mark.slow
def test_full_training_with_extended_vocabulary_saves_loads_and_exports(tmp_path: Path) -> None:
    from nlp.bundled import read_manifest
    from nlp.sentiment import load_model
    from nlp.train import TrainConfig, train
    from tests.nlp.test_train import make_tsv

    data = make_tsv(tmp_path / "train.tsv", per_cell=20)
    first, out = tmp_path / "first", tmp_path / "model"
    train(TrainConfig(data=data, output=first, top_layers=1, epochs=1, batch_size=16, max_length=32, seed=1),
          log=lambda _: None)
    logged: list[str] = []
    train(TrainConfig(data=data, output=out, train_embeddings=True, extend_vocab=60, vocab_min_frequency=2,
                      epochs=1, batch_size=16, max_length=32, seed=1, init_from=first, max_english=30, threads=1),
          log=logged.append)
    assert any("starting from agora-sentiment-0.1" in line for line in logged)
    manifest = read_manifest(out)
    assert manifest["training"]["init_from"]["training"]["top_layers"] == 1
    assert manifest["training"]["train_examples"] == 30 + 54  # English capped at 30 of 54; all 54 Italian
    record = manifest["tokenizer"]
    assert {p.name for p in out.iterdir()} == {"weights.safetensors", "manifest.json", "metrics.json",
                                              "tokenizer.json", "tokenizer_config.json"}
    assert record["vocab_size"] == record["base_vocab_size"] + record["added_pieces"] > record["base_vocab_size"]
    assert "bert.embeddings.word_embeddings.weight" in manifest["weights"]["tensors"]
    assert manifest["training"]["top_layers"] == 6
    texts = ["pessimo schifo vergogna", "ottimo grazie bravi", "the flight was delayed"]
    on_torch = load_model(str(out), detect_language=False).classify(texts)
    on_onnx = load_model(str(out), backend="onnx", cache_dir=tmp_path / "cache", detect_language=False).classify(texts)
    assert [r.label for r in on_torch] == [r.label for r in on_onnx]
    assert all(abs(a.polarity - b.polarity) < 1e-3 for a, b in zip(on_torch, on_onnx))

    (out / "tokenizer.json").write_text((base_dir() / "tokenizer.json").read_text())
    from nlp.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="tokenizer.json has sha256"):
        load_model(str(out))
