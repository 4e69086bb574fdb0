"""WhatsApp chat exports (``.txt``), Android and iOS, as ``message`` interactions.

A message starts on a line with a date, a time and ``Name: text``::

    12/31/21, 22:01 - Name: text            Android
    [31/12/21, 22:01:05] Name: text         iOS
    2021-12-30, 22:01 - Name: text          year first
    31/12/2021, 10:01 p. m. - Name: text    12-hour clock, localised AM/PM

Lines that do not start with a date continue the previous message (joined
with ``\\n``). The rules, decided once per file:

* **Date order.** Year first when the first field has 3-4 digits. Otherwise
  day-first or month-first, whichever makes more of the file's dates valid
  (so any first field above 12 makes the file day-first, any second field
  above 12 month-first); a tie (every date ambiguous) is day-first.
  Two-digit years are 20yy.
* **Clock.** 24 h, or 12 h with ``AM``/``PM`` in any of the spellings
  ``AM``, ``a.m.``, ``a. m.``, ``am`` (also ``vorm.``/``nachm.``); regular,
  no-break (U+00A0) and narrow no-break (U+202F) spaces and the U+200E/U+200F
  marks iOS inserts are accepted. Seconds are optional.
* **Time zone.** Exports carry local time without a zone; ``tz`` names it
  (default UTC) and timestamps are converted to UTC.
* **Author.** The text before the first ``": "`` (names may contain emoji and
  ``:`` not followed by a space; a name containing ``": "`` cannot be told
  apart and is cut there). An author written as a phone number starting with
  ``+`` gets the native id ``+<digits>`` (``"+39 333 123 4567"`` →
  ``+393331234567``) and keeps the number as written as its handle; any other
  author's native id is the name as written (bidi marks removed).
* **System lines** have no ``Name: `` part ("Messages and calls are
  end-to-end encrypted", "X added Y", "X joined using this group's invite
  link"), or a name with quotes (subject changes), or, on iOS, a text that
  starts with U+200E and is not a media placeholder. They are skipped
  silently, with their continuation lines. ``Name:.`` (no space after the
  colon; how some exports render a deleted/disappearing message) is a system
  line too, as in the chat-miner golden files.
* **Media** (``<Media omitted>``, ``image omitted``, ``<attached: …>``,
  ``This message was deleted`` and localised forms such as
  ``<Media omessi>``) are kept as messages with ``text=None``: the person
  still spoke to the group, but there is no text to classify.
* **Mentions.** ``@`` followed by the name of a participant of the chat
  (longest name first), by a name between the U+2068/U+2069 isolates newer
  exports use, or by a phone number.
* **Targets** come from the group-chat rule (:mod:`listening.formats.groupchat`).
* **Ids.** The conversation id is ``whatsapp:<file stem>`` (for iOS's
  ``_chat.txt``: ``whatsapp:<folder>/_chat``). A message id is
  ``whatsapp:<hash>`` of (conversation, local timestamp as written, author,
  raw text, occurrence index among identical tuples): importing the same file
  twice, even with another ``tz``, gives the same ids.

Bad lines become :class:`ParseIssue` (``file:line``): a line with a date that
does not exist (``31/02``) or an impossible time, a line with undecodable bytes
or control characters, text before the first message. Parsing goes on.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from agora.records import AccountRef, Interaction, Kind, ParseIssue
from listening.formats.common import ImportOptions, Item, decode_text, stable_hash
from listening.formats.groupchat import infer_group_targets

__all__ = ["read_whatsapp", "parse_whatsapp", "conversation_id_for", "HEADER", "MEDIA_PLACEHOLDERS"]

PLATFORM = "whatsapp"
_SP = "[ \u00a0\u202f]"
_AMPM = r"(?P<ampm>[ap]\.?" + _SP + r"?m\.?|vorm\.|nachm\.)"
HEADER = re.compile(
    r"^[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]*\[?"
    r"(?P<a>\d{1,4})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})\.?,?" + _SP + r"*"
    r"(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2}))?(?:" + _SP + r"*" + _AMPM + r")?"
    r"(?:\]" + _SP + r"*|" + _SP + r"*[-\u2013]" + _SP + r"+)"
    r"(?P<rest>.*)$",
    re.IGNORECASE,
)
"""The start of a message or system line: date, time, then ``Name: text``."""

MEDIA_PLACEHOLDERS = frozenset(s.casefold() for s in (
    "<Media omitted>", "<media omitted>", "<Media omessi>", "<Multimedia omitido>", "<Multimedia omitidos>",
    "<Médias omis>", "<Medien ausgeschlossen>", "<Mídia oculta>", "<Arquivo de mídia oculto>",
    "<Media weggelaten>", "image omitted", "video omitted", "audio omitted", "sticker omitted",
    "GIF omitted", "document omitted", "Contact card omitted", "immagine omessa", "video omesso",
    "audio omesso", "sticker omesso", "GIF omessa", "documento omesso", "imagen omitida", "video omitido",
    "audio omitido", "sticker omitido", "This message was deleted", "You deleted this message",
    "Questo messaggio è stato eliminato", "Hai eliminato questo messaggio", "Se eliminó este mensaje",
    "Eliminaste este mensaje",
))
"""Texts (case-insensitive) that stand for media or deleted content: kept as messages with ``text=None``."""

_ATTACHED = re.compile(r"^<(attached|allegato|adjunto|anhang|pièce jointe): .*>$", re.IGNORECASE)
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_PHONE = re.compile(r"^\+[\d\s\-().\u00a0\u202f\u2011]{6,}$")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_MENTION_ISOLATE = re.compile("@\u2068([^\u2069]+)\u2069")
_MENTION_PHONE = re.compile(r"@(\+?\d{7,15})\b")


@dataclass
class _Message:
    line: int
    local: datetime
    author: str
    lines: list[str] = field(default_factory=list)


def read_whatsapp(path: Path, options: ImportOptions = ImportOptions()) -> Iterator[Item]:
    """Read one WhatsApp ``.txt`` export (see the module docstring for every rule)."""
    text = decode_text(path)
    yield from parse_whatsapp(text.split("\n"), source=str(path), conversation=conversation_id_for(path),
                              zone=options.zone, window=options.window, lookback=options.lookback)


def conversation_id_for(path: Path) -> str:
    """``whatsapp:<stem>``; iOS names every export ``_chat.txt``, so its folder name is kept too."""
    stem = path.stem
    if stem.lower() in ("_chat", "chat") and path.parent.name:
        stem = f"{path.parent.name}/{stem}"
    return f"{PLATFORM}:{stem}"


def parse_whatsapp(lines: Iterable[str], *, source: str, conversation: str, zone: tzinfo,
                   window: timedelta = timedelta(minutes=30), lookback: int = 2) -> list[Item]:
    """The records of one chat's lines (without line ends), in file order: messages with the
    group-chat rule applied, and a :class:`ParseIssue` for each unreadable line."""
    lines = [line.rstrip("\r") for line in lines]
    headers = {i: m for i, line in enumerate(lines) if (m := HEADER.match(line))}
    order = _date_order(headers.values())
    issues: list[tuple[int, ParseIssue]] = []
    messages: list[_Message] = []
    current: _Message | None = None
    inside = False  # inside a message or a skipped system/bad line, whose continuation lines follow
    for i, line in enumerate(lines):
        number = i + 1
        if _CONTROL.search(line):
            issues.append((number, ParseIssue(source, number, "undecodable bytes or control characters")))
            if i in headers:
                current, inside = None, True
            continue
        match = headers.get(i)
        if match is None:
            if current is not None:
                current.lines.append(line)
            elif not inside and line.strip():
                issues.append((number, ParseIssue(source, number, "text before the first dated line")))
            continue
        current, inside = None, True
        try:
            local = _local_time(match, order)
        except ValueError as exc:
            issues.append((number, ParseIssue(source, number, str(exc))))
            continue
        split = _split_author(match.group("rest"))
        if split is not None:
            current = _Message(number, local, split[0], [split[1]])
            messages.append(current)
    records = _to_interactions(messages, source=source, conversation=conversation, zone=zone)
    records = infer_group_targets(records, window=window, lookback=lookback)
    items: list[tuple[int, Item]] = [(m.line, r) for m, r in zip(messages, records)] + issues
    items.sort(key=lambda pair: pair[0])
    return [item for _, item in items]


def _date_order(headers: Iterable[re.Match[str]]) -> str:
    fields = [(m.group("a"), int(m.group("b")), m.group("c")) for m in headers]
    if not fields:
        return "dmy"
    if sum(len(a) >= 3 for a, _, _ in fields) * 2 > len(fields):
        return "ymd"
    dmy = mdy = 0
    for a, b, c in fields:
        year = _year(c)
        dmy += _valid(year, b, int(a))
        mdy += _valid(year, int(a), b)
    return "mdy" if mdy > dmy else "dmy"


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if len(text) <= 2 else year


def _valid(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= year <= 9999 and 1 <= day <= calendar.monthrange(year, month)[1]


def _local_time(match: re.Match[str], order: str) -> datetime:
    a, b, c = match.group("a"), int(match.group("b")), match.group("c")
    if order == "ymd":
        year, month, day = _year(a), b, int(c)
    elif order == "mdy":
        year, month, day = _year(c), int(a), b
    else:
        year, month, day = _year(c), b, int(a)
    if not _valid(year, month, day):
        raise ValueError(f"no such date: {match.group('a')}{match.group('sep')}{match.group('b')}"
                         f"{match.group('sep')}{match.group('c')} read as {order}")
    hour, minute, second = int(match.group("H")), int(match.group("M")), int(match.group("S") or 0)
    ampm = match.group("ampm")
    if ampm:
        if hour > 12:
            raise ValueError(f"no such time: {hour}:{minute:02d} with {ampm.strip()}")
        pm = ampm.lower().startswith(("p", "n"))
        hour = (hour % 12) + (12 if pm else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"no such time: {match.group('H')}:{match.group('M')}")
    return datetime(year, month, day, hour, minute, second)


def _split_author(rest: str) -> tuple[str, str] | None:
    """``(author, text)``, or ``None`` for a system line."""
    author, sep, text = rest.partition(": ")
    if not sep:
        if not rest.endswith(":"):
            return None
        author, text = rest[:-1], ""
    author = _BIDI.sub("", author).strip()
    if not author or any(q in author for q in '"\u201c\u201d\u00ab\u00bb') or len(author) > 120:
        return None
    if text.startswith("\u200e"):  # iOS marks system events and media with a leading LRM
        body = text.lstrip("\u200e").strip()
        if not _is_media(body):
            return None
        text = body
    return author, text


def _is_media(text: str) -> bool:
    body = _BIDI.sub("", text).strip()
    return body.casefold() in MEDIA_PLACEHOLDERS or bool(_ATTACHED.match(body))


def _account(author: str) -> AccountRef:
    if _PHONE.match(author):
        return AccountRef(PLATFORM, "+" + re.sub(r"\D", "", author), author)
    return AccountRef(PLATFORM, author, author)


def _to_interactions(messages: list[_Message], *, source: str, conversation: str,
                     zone: tzinfo) -> list[Interaction]:
    accounts = {m.author: _account(m.author) for m in messages}
    names = sorted(accounts, key=len, reverse=True)
    seen: Counter[tuple[str, str, str]] = Counter()
    chat = conversation.split(":", 1)[1]
    out = []
    for m in messages:
        raw = "\n".join(m.lines)
        actor = accounts[m.author]
        stamp = m.local.isoformat()
        occurrence = seen[(stamp, actor.native_id, raw)]
        seen[(stamp, actor.native_id, raw)] += 1
        text = None if _is_media(raw) else (raw.strip() or None)
        out.append(Interaction(
            id=f"{PLATFORM}:{stable_hash(chat, stamp, actor.native_id, raw, occurrence)}",
            platform=PLATFORM, kind=Kind.MESSAGE, actor=actor,
            timestamp=m.local.replace(tzinfo=zone),
            text=text, mentions=_mentions(text, names, accounts, actor),
            conversation_id=conversation, source=f"{source}:{m.line}",
        ))
    return out


def _mentions(text: str | None, names: list[str], accounts: dict[str, AccountRef],
              actor: AccountRef) -> tuple[AccountRef, ...]:
    if not text or "@" not in text:
        return ()
    found: dict[str, AccountRef] = {}
    for m in _MENTION_ISOLATE.finditer(text):
        ref = accounts.get(m.group(1)) or _account(m.group(1))
        found.setdefault(ref.key, ref)
    for m in _MENTION_PHONE.finditer(text):
        digits = m.group(1).lstrip("+")
        ref = AccountRef(PLATFORM, "+" + digits, None)
        known = [a for a in accounts.values() if a.native_id == ref.native_id]
        ref = known[0] if known else ref
        found.setdefault(ref.key, ref)
    start = text.find("@")
    while start != -1:
        for name in names:
            end = start + 1 + len(name)
            if text.startswith(name, start + 1) and not (end < len(text) and text[end].isalnum()):
                found.setdefault(accounts[name].key, accounts[name])
                break
        start = text.find("@", start + 1)
    found.pop(actor.key, None)
    return tuple(found.values())
