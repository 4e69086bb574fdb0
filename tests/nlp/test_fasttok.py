"""The bundled model's torch-free tokenizer gives transformers' ids."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from nlp.bundled import base_dir
from nlp.data import default_data_path, read_examples
from nlp.fasttok import FastTokenizer
from nlp.text import normalise

REPO = Path(__file__).resolve().parents[2]
HARD = ["caffè perché così 😡 " * 60, "ÀÉÎ façade naïve", "\u200b", "x", "@user http 3/5 #brand ¿qué?", "中文 mixed"]


def test_same_ids_as_autotokenizer() -> None:
    from transformers import AutoTokenizer

    texts = list(HARD)
    if default_data_path().is_file():
        texts += [normalise(e.text) for e in random.Random(0).sample(read_examples(default_data_path()), 1000)]
    reference = AutoTokenizer.from_pretrained(base_dir())
    ours = FastTokenizer(base_dir())
    for limit in (128, 16):
        expected = reference(texts, truncation=True, max_length=limit)
        got = ours(texts, truncation=True, max_length=limit)
        for key in ("input_ids", "token_type_ids", "attention_mask"):
            assert got[key] == [list(row) for row in expected[key]], key
    assert (ours.pad_token_id, ours.model_max_length) == (reference.pad_token_id, reference.model_max_length)


def test_cached_onnx_path_does_not_import_torch(tmp_path: Path) -> None:
    code = ("import sys\n"
            "from nlp.sentiment import load_model\n"
            f"m = load_model('bundled', backend='onnx-int8', cache_dir={str(tmp_path)!r})\n"
            "label = m.classify(['Vergogna, da tre settimane aspetto il rimborso'])[0].label\n"
            "print(label, 'torch' in sys.modules)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert first.stdout.split() == ["negative", "True"], first.stderr  # exporting needs torch once
    again = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.stdout.split() == ["negative", "False"], again.stderr
