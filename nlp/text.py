"""Light text normalisation shared by training and inference.

Usernames and links carry no sentiment but many wordpieces, so every
``@handle`` becomes ``@user`` and every link ``http`` (the convention of the
TweetEval / XLM-T models, so hub models trained that way see what they expect).
Whitespace runs collapse to one space. Case, accents and hashtags are left to
the tokenizer.

With ``emoji=True`` (the bundled model, whose English WordPiece vocabulary
turns every emoji into ``[UNK]``) each emoji becomes its Unicode name in
lower case, ``😡`` -> ``pouting face``; a run of the same emoji counts once,
and skin-tone modifiers and joiners are dropped. Hub models that know emoji
get them unchanged.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalise", "emoji_names", "is_empty"]

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_USER = re.compile(r"(?<![\w@])@\w+")
_SPACE = re.compile(r"\s+")


_DROP = {0x200D, 0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400)}  # joiner, variation selectors, skin tones


def normalise(text: str, *, emoji: bool = False) -> str:
    """Return ``text`` with handles as ``@user``, links as ``http`` and
    whitespace collapsed; with ``emoji=True`` also :func:`emoji_names`.

    >>> normalise("@INPS_it  il sito non va https://t.co/x1 !")
    '@user il sito non va http !'
    >>> normalise("scrivi a mario@example.com")
    'scrivi a mario@example.com'
    >>> normalise("Ancora in coda 😡😡", emoji=True)
    'Ancora in coda pouting face'
    """
    text = _URL.sub("http", text)
    text = _USER.sub("@user", text)
    if emoji:
        text = emoji_names(text)
    return _SPACE.sub(" ", text).strip()


def emoji_names(text: str) -> str:
    """Replace each pictographic symbol (Unicode category ``So`` from U+2190
    on: arrows, dingbats, emoji) by its lower-case Unicode name between
    spaces, once per run of the same symbol; drop skin-tone modifiers,
    zero-width joiners and variation selectors.

    >>> emoji_names("ok👍🏻👍!")
    'ok thumbs up sign !'
    """
    out: list[str] = []
    last = ""
    for ch in text:
        code = ord(ch)
        if code in _DROP:
            continue
        if code >= 0x2190 and unicodedata.category(ch) == "So":
            if ch != last:
                name = unicodedata.name(ch, "")
                out.append(f" {name.lower()} " if name else " ")
            last = ch
            continue
        last = ""
        out.append(ch)
    return "".join(out)


def is_empty(text: str | None) -> bool:
    """True when ``text`` is ``None``, empty or only whitespace."""
    return text is None or not text.strip()
