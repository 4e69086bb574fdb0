from collections import Counter
from pathlib import Path

import pytest

from nlp.data import Example, read_examples, stratified_split


def write_tsv(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    lines = ["lang\tsource\ttext\tlabel"] + ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_examples_and_exclusion(tmp_path: Path) -> None:
    path = write_tsv(tmp_path / "t.tsv", [
        ("it", "sentipolc2016", '"Che ""bello"" oggi"', "positive"),
        ("en", "semeval2017", "meh", "neutral"),
    ])
    assert read_examples(path) == [Example("it", "sentipolc2016", 'Che "bello" oggi', "positive"),
                                   Example("en", "semeval2017", "meh", "neutral")]
    assert [e.source for e in read_examples(path, exclude_sources={"sentipolc2016"})] == ["semeval2017"]


def test_bad_label_names_the_line(tmp_path: Path) -> None:
    path = write_tsv(tmp_path / "t.tsv", [("en", "x", "ok", "neutral"), ("en", "x", "hm", "mixed")])
    with pytest.raises(ValueError, match=r"t.tsv:3: label 'mixed'"):
        read_examples(path)


def test_split_is_stratified_and_deterministic() -> None:
    examples = [Example(lang, "s", f"{lang}{label}{i}", label)
                for lang, sizes in (("it", (200, 300, 50)), ("en", (1000, 800, 400)))
                for label, n in zip(("negative", "neutral", "positive"), sizes) for i in range(n)]
    train, val = stratified_split(examples, 0.1, seed=3)
    assert len(train) + len(val) == len(examples)
    assert not {e.text for e in train} & {e.text for e in val}
    cells = Counter((e.lang, e.label) for e in val)
    assert cells == {("it", "negative"): 20, ("it", "neutral"): 30, ("it", "positive"): 5,
                     ("en", "negative"): 100, ("en", "neutral"): 80, ("en", "positive"): 40}
    assert stratified_split(examples, 0.1, seed=3) == (train, val)
    assert stratified_split(examples, 0.1, seed=4)[1] != val


def test_metrics() -> None:
    from nlp.metrics import scores

    s = scores(["negative", "neutral", "positive", "positive"], ["negative", "neutral", "positive", "neutral"])
    assert s["accuracy"] == 0.75
    assert s["f1"] == {"negative": 1.0, "neutral": 0.6667, "positive": 0.6667}
    assert s["macro_f1"] == pytest.approx(0.7778, abs=1e-4)
