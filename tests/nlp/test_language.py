import time

import pytest

from nlp.language import detect_language, detect_languages

pytest.importorskip("py3langid")


def test_italian_and_english() -> None:
    assert detect_languages([
        "Servizio pessimo, non compro più da voi",
        "Adoro questo caffè, buonissimo! @bar_sport https://t.co/x",
        "The flight was delayed again and nobody told us anything",
        "Love this coffee, so good",
    ]) == ["it", "it", "en", "en"]


def test_nothing_to_detect() -> None:
    assert detect_language(None) is None
    assert detect_language("   ") is None
    assert detect_language("@mario https://t.co/x #") is None


def test_fast_enough() -> None:
    detect_language("warm up")
    texts = ["Il servizio clienti non risponde da tre giorni, vergogna"] * 2000
    started = time.perf_counter()
    detect_languages(texts)
    assert len(texts) / (time.perf_counter() - started) > 2000  # texts/s; ~20,000 on one core
