"""What every file parser shares: options, the item type, stable ids, JSON reading.

Parsers are pure functions over lines or decoded objects; the readers in each
format module open the file and hand its content to them. Nothing here knows
about a particular format.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agora.records import AccountRef, Interaction, ParseIssue

__all__ = ["Item", "ImportOptions", "Reader", "stable_hash", "zone", "clean", "dedupe_refs",
           "JsonRecord", "iter_json_records", "decode_text", "utc_from_epoch"]

Item = Interaction | ParseIssue
"""What a reader yields: a good record, or the reason a record could not be read."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """Settings that change how exports are read.

    ``tz`` is the IANA zone of timestamps written without one (WhatsApp lines,
    Telegram ``date``, generic naive timestamps); ``window`` and ``lookback``
    parametrise the group-chat rule (:mod:`listening.formats.groupchat`).
    """

    tz: str = "UTC"
    window: timedelta = timedelta(minutes=30)
    lookback: int = 2

    @property
    def zone(self) -> tzinfo:
        return zone(self.tz)


class Reader(Protocol):
    """A registered format: read one file, yield every record or issue, never raise for a bad record."""

    def __call__(self, path: Path, options: ImportOptions = ..., /) -> Iterator[Item]: ...


def zone(name: str) -> tzinfo:
    """The tzinfo for an IANA name (``UTC`` is :data:`datetime.timezone.utc`); ``ValueError`` if unknown."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def stable_hash(*parts: object) -> str:
    """A 20-hex-digit digest of ``parts``: the same parts give the same id on every run and machine."""
    digest = hashlib.sha1("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8"))
    return digest.hexdigest()[:20]


def clean(value: Any) -> str | None:
    """``value`` as a stripped string, or ``None`` for missing/empty values (records never hold ``""``)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def dedupe_refs(refs: list[AccountRef], *, without: AccountRef | None = None) -> tuple[AccountRef, ...]:
    """``refs`` in order, each account key once, ``without`` (the actor) left out."""
    seen: set[str] = set() if without is None else {without.key}
    out: list[AccountRef] = []
    for ref in refs:
        if ref.key not in seen:
            seen.add(ref.key)
            out.append(ref)
    return tuple(out)


def decode_text(path: Path) -> str:
    """The file as text: UTF-8 (a BOM is dropped), undecodable bytes as U+FFFD so parsers can report them."""
    return path.read_bytes().decode("utf-8-sig", errors="replace")


@dataclass(frozen=True, slots=True)
class JsonRecord:
    """One decoded JSON value of a file. ``line`` is the 1-based line for JSON Lines, ``index`` the
    0-based position for a JSON array document (then ``line`` is ``None``)."""

    value: Any
    line: int | None = None
    index: int | None = None

    @property
    def position(self) -> int | None:
        return self.line if self.line is not None else self.index

    def where(self) -> str:
        """How to name this record in a message: ``line 7`` or ``[3] (JSON array index)``."""
        return f"line {self.line}" if self.line is not None else f"[{self.index}] (JSON array index)"


def iter_json_records(path: Path, text: str | None = None) -> Iterator[JsonRecord | ParseIssue]:
    """Every JSON value of a JSON Lines file, a JSON array document, or a Twitter archive ``*.js``
    (``window.YTD.<name>.part0 = [...]``).

    A line that is not valid JSON gives a :class:`ParseIssue` for that line and reading goes on;
    an array document that does not parse gives one issue for the whole file.
    """
    source = str(path)
    if text is None:
        text = decode_text(path)
    stripped = text.lstrip()
    if stripped.startswith("window.YTD."):
        head, _, stripped = stripped.partition("=")
        stripped = stripped.strip()
    if stripped.startswith("["):
        try:
            doc = json.loads(stripped)
        except ValueError as exc:
            yield ParseIssue(source, getattr(exc, "lineno", None), f"not valid JSON: {exc}")
            return
        for i, value in enumerate(doc):
            yield JsonRecord(value, index=i)
        return
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            yield JsonRecord(json.loads(line), line=number)
        except ValueError as exc:
            yield ParseIssue(source, number, f"not valid JSON: {exc}")


def utc_from_epoch(value: Any) -> datetime:
    """A UTC datetime from epoch seconds (or milliseconds, when the number is too large for seconds)."""
    number = float(value)
    if abs(number) > 1e11:  # no export carries dates after the year 5138: this is milliseconds
        number /= 1000.0
    return datetime.fromtimestamp(number, timezone.utc)
