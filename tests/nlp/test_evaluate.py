"""Reading labelled files for ``agora sentiment eval`` and scoring them."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora.records import Sentiment
from nlp.evaluate import LabelledText, evaluate, read_labelled


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_tsv_with_lang_and_numeric_labels(tmp_path: Path) -> None:
    rows, issues = read_labelled(write(tmp_path / "a.tsv", "id\tLang\tText\tLabel\n1\tit\tche bello\t2\n"
                                                              "2\ten\tawful, really\tNegative\n3\t\tboh\tneutral\n"))
    assert issues == []
    assert rows == [LabelledText(2, "che bello", "positive", "it"), LabelledText(3, "awful, really", "negative", "en"),
                    LabelledText(4, "boh", "neutral", None)]


def test_csv_quoting_bad_rows_and_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "b.csv",
                 'text,label\n"first, with a comma",positive\n"two\nlines",0\nthird,meh\n\nfourth,1,extra\nlast,2\n')
    rows, issues = read_labelled(path)
    assert [(r.line, r.text, r.label) for r in rows] == [(2, "first, with a comma", "positive"),
                                                         (3, "two\nlines", "negative"), (8, "last", "positive")]
    assert issues == [f"{path}:5: label 'meh' is not negative/neutral/positive or 0/1/2",
                      f"{path}:7: 3 fields, the header has 2 (quote texts that contain the delimiter)"]


def test_delimiter_sniffed_without_a_known_extension(tmp_path: Path) -> None:
    rows, _ = read_labelled(write(tmp_path / "c.txt", "\ufefflabel;text\npositive;ok\n"))
    assert rows == [LabelledText(2, "ok", "positive", None)]
    rows, _ = read_labelled(write(tmp_path / "d.data", "text\tlabel\na, b\tneutral\n"))
    assert rows == [LabelledText(2, "a, b", "neutral", None)]


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty file"),
    ("text,sentiment\nhello,positive\n", "header has no 'label' column"),
    ("body,lab\nx,1\n", "header has no 'text' or 'label' column"),
])
def test_unusable_files_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path / "e.csv", content)
    with pytest.raises(ValueError, match=message) as info:
        read_labelled(path)
    assert str(path) in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("text,label\ncaff\xe8,positive\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"f\.csv: not UTF-8"):
        read_labelled(path)


class Fixed:
    """A stand-in model: fixed answers, so the scoring is checked by hand."""

    name, backend = "fixed", "test"

    def __init__(self, answers: list[tuple[str, str | None]]) -> None:
        self.answers = answers

    def classify(self, texts: list[str], progress: object = None) -> list[Sentiment]:
        assert len(texts) == len(self.answers)
        return [Sentiment(label, 0.9, 0.0, lang) for label, lang in self.answers]


def test_scores_languages_and_confusion() -> None:
    rows = [LabelledText(2, "a", "positive", "it"), LabelledText(3, "b", "negative", None),
            LabelledText(4, "c", "negative", None), LabelledText(5, "d", "neutral", "it")]
    model = Fixed([("positive", "en"), ("negative", "en"), ("neutral", None), ("neutral", "en")])
    report = evaluate(model, rows)
    assert report["n"] == 4 and report["accuracy"] == 0.75
    assert report["confusion"]["matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    # the lang column wins over detection; undetected texts are "unknown"
    assert report["by_language"] == {"en": {"n": 1, "accuracy": 1.0, "macro_f1": 1.0},
                                     "it": {"n": 2, "accuracy": 1.0, "macro_f1": 1.0},
                                     "unknown": {"n": 1, "accuracy": 0.0, "macro_f1": 0.0}}
    assert report["language_from"] == "column+detected"
    assert report["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3, abs=1e-4)
    with pytest.raises(ValueError, match="no rows"):
        evaluate(model, [])
