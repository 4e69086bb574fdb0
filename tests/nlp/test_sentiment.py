"""load_model and classify on tiny local models (the hub path), and the
errors for models that cannot be loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agora.records import Sentiment
from nlp.errors import ModelLoadError
from nlp.sentiment import EMPTY, SentimentModel, load_model

from .conftest import make_tiny_model

REPO = Path(__file__).resolve().parents[2]
TEXTS = ["the coffee is good", "bad service", "the coffee is not good , the service is bad !", "good",
         "@mario the coffees http://t.co/x", "coffee coffee coffee coffee coffee coffee coffee coffee"]


def direct_probs(folder: Path, text: str) -> list[float]:
    """Softmax of the saved model run alone on the normalised text, without Agora."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from nlp.text import normalise

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        return model(**tok(normalise(text), return_tensors="pt")).logits.softmax(-1)[0].tolist()


def test_local_folder_labels_from_config(tiny_model_dir: Path) -> None:
    model = load_model(str(tiny_model_dir), batch_size=4)
    assert model.name == str(tiny_model_dir)
    assert model.labels == {0: "negative", 1: "neutral", 2: "positive"}
    [result] = model.classify(["the coffee is good"])
    p = direct_probs(tiny_model_dir, "the coffee is good")
    best = max(range(3), key=lambda i: p[i])
    assert result.label == ("negative", "neutral", "positive")[best]
    assert result.score == pytest.approx(p[best], abs=1e-5)
    assert result.polarity == pytest.approx(p[2] - p[0], abs=1e-5)
    assert result.flags == ()


def test_permuted_labels_are_followed(tmp_path: Path) -> None:
    folder = make_tiny_model(tmp_path / "m", {0: "Positive", 1: "Negative", 2: "Neutral"}, seed=1)
    model = load_model(str(folder))
    assert model.labels == {0: "positive", 1: "negative", 2: "neutral"}
    for text, result in zip(TEXTS, model.classify(TEXTS)):
        p = direct_probs(folder, text)
        assert result.polarity == pytest.approx(p[0] - p[1], abs=1e-5)
        assert result.label == model.labels[max(range(3), key=lambda i: p[i])]


def test_two_label_model_has_no_neutral(tmp_path: Path) -> None:
    folder = make_tiny_model(tmp_path / "m", {0: "LABEL_0", 1: "LABEL_1"})
    results = load_model(str(folder)).classify(TEXTS)
    assert {r.label for r in results} <= {"negative", "positive"}
    assert all(r.score >= 0.5 and abs(r.polarity) <= 1 for r in results)


def test_unreadable_labels_are_a_load_error(tmp_path: Path) -> None:
    folder = make_tiny_model(tmp_path / "m", {0: "joy", 1: "anger", 2: "fear"})
    with pytest.raises(ModelLoadError, match=r"cannot map its labels.*joy"):
        load_model(str(folder))


def test_empty_texts_never_reach_the_model(tiny_model_dir: Path) -> None:
    model = load_model(str(tiny_model_dir))

    def refuse(**_: object) -> None:
        raise AssertionError("the model was called")

    model.model.forward = refuse  # type: ignore[method-assign]
    assert model.classify([None, "", "  \n\t "]) == [EMPTY, EMPTY, EMPTY]
    assert EMPTY == Sentiment("neutral", 1.0, 0.0, None, ("empty",))


def test_order_batches_and_progress(tiny_model_dir: Path) -> None:
    texts = [None, *TEXTS, "", *reversed(TEXTS)]
    counts: list[int] = []
    batched = load_model(str(tiny_model_dir), batch_size=3).classify(texts, progress=counts.append)
    alone = load_model(str(tiny_model_dir), batch_size=1)
    assert len(batched) == len(texts)
    assert sum(counts) == len(texts)  # empty texts are counted too
    assert counts[0] == 2 and all(n <= 3 for n in counts[1:])
    for text, result in zip(texts, batched):
        [single] = alone.classify([text])
        assert result.label == single.label
        assert result.score == pytest.approx(single.score, abs=1e-4)
        assert result.polarity == pytest.approx(single.polarity, abs=1e-4)


def test_truncation_at_max_length(tiny_model_dir: Path) -> None:
    model = load_model(str(tiny_model_dir), max_length=8)
    long = "coffee " * 500
    [result] = model.classify([long])  # 500 tokens would overflow the 64 positions
    [prefix] = model.classify(["coffee " * 6])  # [CLS] + 6 + [SEP] = 8 tokens
    assert result.score == pytest.approx(prefix.score, abs=1e-5)


def test_language_is_detected(tiny_model_dir: Path) -> None:
    pytest.importorskip("py3langid")
    results = load_model(str(tiny_model_dir)).classify(["Il servizio clienti non risponde da tre giorni",
                                                       "The customer service has not answered for three days"])
    assert [r.language for r in results] == ["it", "en"]
    assert [r.language for r in load_model(str(tiny_model_dir), detect_language=False).classify(["Ciao a tutti voi"])] \
        == [None]


def test_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=str(tmp_path)):
        load_model(str(tmp_path))


def test_uncached_hub_id_offline(tmp_path: Path) -> None:
    """A fresh process, offline, with an empty Hugging Face cache."""
    name = "cardiffnlp/twitter-xlm-roberta-base-sentiment-multilingual"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env.pop("HF_HUB_CACHE", None)
    env.pop("TRANSFORMERS_CACHE", None)
    code = ("from nlp.sentiment import load_model, ModelLoadError\n"
            "try:\n"
            f"    load_model({name!r})\n"
            "except ModelLoadError as exc:\n"
            "    print('ModelLoadError:', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"ModelLoadError: cannot load sentiment model {name!r}")
    assert "HF_HUB_OFFLINE" in out.stdout and "internet" in out.stdout


def test_constructor_checks_arguments(tiny_model_dir: Path) -> None:
    model = load_model(str(tiny_model_dir))
    with pytest.raises(ValueError, match="batch_size"):
        SentimentModel("x", model.model, model.tokenizer, model.labels, batch_size=0)
