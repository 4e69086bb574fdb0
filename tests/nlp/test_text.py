from nlp.text import is_empty, normalise


def test_handles_and_links_are_normalised() -> None:
    assert normalise("@INPS_it ciao @mario_rossi https://t.co/abc www.example.com/x") == "@user ciao @user http http"


def test_emails_and_text_are_kept() -> None:
    assert normalise("Scrivi a mario@example.com, GRAZIE!") == "Scrivi a mario@example.com, GRAZIE!"


def test_whitespace_collapses() -> None:
    assert normalise("  a \n\t b  ") == "a b"


def test_is_empty() -> None:
    assert is_empty(None) and is_empty("") and is_empty(" \n\t")
    assert not is_empty(" x ")


def test_emoji_are_spelled_out_only_when_asked() -> None:
    assert normalise("Ancora in coda 😡😡😡 #INPS", emoji=True) == "Ancora in coda pouting face #INPS"
    assert normalise("Grazie 🙏🏽❤️ ciao", emoji=True) == "Grazie person with folded hands heavy black heart ciao"
    assert normalise("Ancora in coda 😡") == "Ancora in coda 😡"


def test_plain_symbols_are_kept() -> None:
    assert normalise("© 2024, 20°C, 5€ ±1", emoji=True) == "© 2024, 20°C, 5€ ±1"
