"""Fixtures for the sentiment tests. The hub is never contacted: the offline
switches are set before transformers is imported, and hub-path tests use tiny
models built and saved here."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "the", "coffee", "service", "is", "not",
         "##s", "@", "user", "http", ",", ".", "!"]


def make_tiny_model(folder: Path, id2label: dict[int, str], *, seed: int = 0) -> Path:
    """A tiny random BERT classifier with its WordPiece tokenizer (from a vocab
    file written here), saved with ``save_pretrained`` into ``folder``."""
    import torch
    import transformers
    from transformers import BertConfig, BertForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    if int(transformers.__version__.split(".")[0]) >= 5:
        from transformers import BertTokenizer

        tokenizer = BertTokenizer(vocab=str(vocab_file))
    else:  # transformers 4: the fast tokenizer takes vocab_file
        from transformers import BertTokenizerFast

        tokenizer = BertTokenizerFast(vocab_file=str(vocab_file))
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=len(id2label),
                        id2label=id2label, label2id={v: k for k, v in id2label.items()})
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny three-class model labelled NEG / NEU / POS."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model", {0: "NEG", 1: "NEU", 2: "POS"})


@pytest.fixture(scope="session")
def bundled():  # noqa: ANN201 - SentimentModel, imported lazily
    """Agora's bundled model, loaded once for the session."""
    from nlp.sentiment import load_model

    return load_model("bundled")
