import pytest

from nlp.labels import label_mapping


@pytest.mark.parametrize("id2label, expected", [
    ({0: "negative", 1: "neutral", 2: "positive"}, {0: "negative", 1: "neutral", 2: "positive"}),
    ({"0": "Negative", "1": "Neutral", "2": "Positive"}, {0: "negative", 1: "neutral", 2: "positive"}),
    ({0: "POS", 1: "NEG", 2: "NEU"}, {0: "positive", 1: "negative", 2: "neutral"}),
    ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, {0: "negative", 1: "neutral", 2: "positive"}),
    ({0: "LABEL_0", 1: "LABEL_1"}, {0: "negative", 1: "positive"}),
    ({0: "NEGATIVE", 1: "POSITIVE"}, {0: "negative", 1: "positive"}),
    ({0: "negativo", 1: "neutro", 2: "positivo"}, {0: "negative", 1: "neutral", 2: "positive"}),
])
def test_known_mappings(id2label: dict, expected: dict) -> None:
    assert label_mapping(id2label) == expected


@pytest.mark.parametrize("id2label, fragment", [
    ({0: "1 star", 1: "2 stars", 2: "3 stars", 3: "4 stars", 4: "5 stars"}, "1 star"),
    ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2", 3: "LABEL_3"}, "LABEL_i"),
    ({0: "joy", 1: "anger"}, "joy"),
    ({0: "neg", 1: "negative", 2: "pos"}, "same sentiment"),
    ({0: "neutral", 1: "positive"}, "lack a negative"),
    ({}, "no id2label"),
])
def test_unreadable_mappings_raise(id2label: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        label_mapping(id2label)
