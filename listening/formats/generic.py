"""Generic interactions from JSON Lines or CSV, including bare ``actor,target`` edge lists.

Columns (JSON keys): ``id, platform, kind, actor, target, timestamp, text,
parent_id, conversation_id``, optional ``actor_handle, mentions, lang``.
Only ``actor`` is required. The rules:

* ``platform`` missing → ``generic``.
* ``actor``, ``target`` and ``mentions`` values are native ids on the row's
  platform, or full keys ``platform:id`` (recognised when the part before the
  first ``:`` is the row's platform or a known platform name such as
  ``twitter``; otherwise the whole value is the native id). ``target`` may
  hold several accounts separated by ``;``; ``mentions`` are separated by
  ``;`` when the value contains one, else by whitespace (a JSON list also
  works). The actor is never their own target or mention.
* ``kind`` missing → ``mention`` when the row has a target, else ``post``.
  Accepted: the record kinds plus the aliases ``retweet``/``repost`` (share),
  ``comment`` (reply), ``dm`` (message), ``like`` (reaction).
* ``timestamp``: ISO 8601 (``Z`` or an offset; a naive time is read in
  ``tz``) or epoch seconds/milliseconds. **Missing** → :data:`UNDATED`
  (1970-01-01T00:00:00Z), and the record's ``source`` ends with
  ``#undated``: never the file's modification time, which changes on copy.
  A bare edge list is therefore undated; time decay treats it as old, so give
  it timestamps when recency matters.
* ``id`` → ``<platform>:<id>`` (kept as is when it already starts with
  ``<platform>:``). **Missing** → ``<platform>:row-<hash>`` of the row's
  values and the occurrence index of identical rows in the file: re-importing
  (or appending rows to) the file gives the same ids; two identical rows
  stay two records.
* ``parent_id`` and ``conversation_id`` get the same ``<platform>:`` prefix.
* CSV: the first row is the header (names case-insensitive; ``source``/``from``
  are accepted for ``actor`` and ``to`` for ``target``); a file whose first row
  has two cells and no known column name is a headerless ``actor,target``
  list. The delimiter (``,``, ``;``, tab or ``|``) is taken from the first
  line. A row with another number of cells than the header is an issue.

Bad rows (no actor, unknown kind, unreadable timestamp, wrong cell count,
invalid JSON) become :class:`ParseIssue` with their 1-based line.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

from agora.records import AccountRef, Interaction, Kind, ParseIssue
from listening.formats.common import (ImportOptions, Item, clean, decode_text, dedupe_refs, iter_json_records,
                                      stable_hash, utc_from_epoch)

__all__ = ["read_jsonl", "read_csv", "map_row", "row_fingerprint", "UNDATED", "COLUMNS", "KNOWN_PLATFORMS"]

UNDATED = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""The timestamp of a row without one (its ``source`` ends with ``#undated``)."""

COLUMNS = ("id", "platform", "kind", "actor", "target", "timestamp", "text", "parent_id", "conversation_id",
           "actor_handle", "mentions", "lang")
KNOWN_PLATFORMS = frozenset({"generic", "twitter", "x", "telegram", "whatsapp", "facebook", "instagram",
                             "messenger", "mastodon", "bluesky", "reddit", "youtube", "tiktok", "linkedin",
                             "discord", "slack", "email", "sms"})
_ALIASES = {"source": "actor", "from": "actor", "to": "target", "language": "lang"}
_KINDS = {k.value: k for k in Kind} | {"retweet": Kind.SHARE, "repost": Kind.SHARE, "comment": Kind.REPLY,
                                       "dm": Kind.MESSAGE, "like": Kind.REACTION}


_FINGERPRINT_COLUMNS = tuple(c for c in COLUMNS if c != "id")


def row_fingerprint(row: Mapping[str, Any]) -> str:
    """The row's documented values, normalised, as one string (the seed of a derived id)."""
    return json.dumps(list(_fingerprint_key(row)), ensure_ascii=False)


_Key = tuple[str | None, ...]


def _fingerprint_key(row: Mapping[str, Any]) -> _Key:
    """The values :func:`row_fingerprint` encodes, as a tuple: two rows have equal keys exactly when their
    fingerprints are equal, and the key costs a fraction of the JSON (counted for every row, while the
    fingerprint itself is needed only by rows without an id)."""
    return tuple([_flat(row.get(c)) for c in _FINGERPRINT_COLUMNS])


def _flat(value: Any) -> str | None:
    if value.__class__ is str:  # the common case, as clean() would give it
        return value.strip() or None
    if isinstance(value, (list, tuple)):
        return ";".join(v for v in (clean(x) for x in value) if v) or None
    return clean(value)


def _prefixed(value: Any, platform: str) -> str | None:
    text = clean(value)
    if text is None:
        return None
    return text if text.startswith(f"{platform}:") else f"{platform}:{text}"


def _account(value: str, platform: str, handle: str | None = None) -> AccountRef:
    head, sep, rest = value.partition(":")
    if sep and rest and (head == platform or head.lower() in KNOWN_PLATFORMS):
        return AccountRef(head.lower(), rest, handle)
    return AccountRef(platform, value, handle)


def _accounts(value: Any, platform: str, *, whitespace: bool) -> list[AccountRef]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        parts = [clean(v) for v in value]
    else:
        text = clean(value) or ""
        parts = text.split(";") if ";" in text or not whitespace else text.split()
    return [_account(p.strip(), platform) for p in parts if p and p.strip()]


def _timestamp(value: Any, zone: tzinfo) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return utc_from_epoch(value)
    text = str(value).strip()
    if text.lstrip("-").replace(".", "", 1).isdigit():
        return utc_from_epoch(text)
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"unreadable timestamp {text!r} (expected ISO 8601 or epoch seconds)") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=zone)


def map_row(row: Mapping[str, Any], *, source: str, zone: tzinfo = timezone.utc, occurrence: int = 0) -> Interaction:
    """One row (column name → value) as an interaction, by the rules of the module docstring.

    ``occurrence`` is how many identical rows came before in the same file (for derived ids).
    Raises ``ValueError`` for a row that cannot be read.
    """
    platform = (clean(row.get("platform")) or "generic").lower()
    actor_id = clean(row.get("actor"))
    if actor_id is None:
        raise ValueError("no 'actor'")
    actor = _account(actor_id, platform, clean(row.get("actor_handle")))
    targets = dedupe_refs(_accounts(row.get("target"), platform, whitespace=False), without=actor)
    mentions = dedupe_refs(_accounts(row.get("mentions"), platform, whitespace=True), without=actor)
    kind_text = clean(row.get("kind"))
    if kind_text is None:
        kind = Kind.MENTION if targets else Kind.POST
    elif kind_text.lower() in _KINDS:
        kind = _KINDS[kind_text.lower()]
    else:
        raise ValueError(f"unknown kind {kind_text!r} (expected one of {', '.join(k.value for k in Kind)})")
    ts = _timestamp(row.get("timestamp"), zone)
    if ts is None:
        ts, source = UNDATED, f"{source}#undated"
    rid = _prefixed(row.get("id"), platform) or f"{platform}:row-{stable_hash(row_fingerprint(row), occurrence)}"
    return Interaction(id=rid, platform=platform, kind=kind, actor=actor, timestamp=ts, text=clean(row.get("text")),
                       targets=targets, mentions=mentions, parent_id=_prefixed(row.get("parent_id"), platform),
                       conversation_id=_prefixed(row.get("conversation_id"), platform),
                       language=clean(row.get("lang")), source=source)


def read_jsonl(path: Path, options: ImportOptions = ImportOptions()) -> Iterator[Item]:
    """Read generic interactions, one JSON object per line."""
    source = str(path)
    seen: Counter[_Key] = Counter()
    zone = options.zone
    for record in iter_json_records(path):
        if isinstance(record, ParseIssue):
            yield record
            continue
        row = record.value
        if not isinstance(row, dict):
            yield ParseIssue(source, record.position, f"{record.where()}: a {type(row).__name__}, expected an object")
            continue
        row = {_ALIASES.get(k.lower(), k.lower()): v for k, v in row.items() if isinstance(k, str)}
        yield _mapped(row, source, record.position, zone, seen, record.where())


def read_csv(path: Path, options: ImportOptions = ImportOptions()) -> Iterator[Item]:
    """Read generic interactions (or an edge list) from a CSV file with a header row."""
    source = str(path)
    text = decode_text(path)
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    zone = options.zone
    seen: Counter[_Key] = Counter()
    header: list[str] | None = None
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            yield ParseIssue(source, start, f"unreadable CSV: {exc}")
            continue
        end = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            names = [_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in cells]
            if "actor" in names:
                header = names
                continue
            if len(cells) == 2 and not set(names) & set(COLUMNS):
                header = ["actor", "target"]  # a headerless edge list: this row is data
            else:
                yield ParseIssue(source, start, f"no 'actor' column in the header {cells!r}")
                return
        if len(cells) != len(header):
            yield ParseIssue(source, start, f"{len(cells)} cells, the header has {len(header)}")
            continue
        yield _mapped(dict(zip(header, cells)), source, start, zone, seen, f"line {start}")


def _mapped(row: dict[str, Any], source: str, position: int | None, zone: tzinfo, seen: Counter[_Key],
            where: str) -> Item:
    key = _fingerprint_key(row)
    try:
        item = map_row(row, source=f"{source}:{position}", zone=zone, occurrence=seen[key])
    except (ValueError, TypeError, OverflowError) as exc:
        return ParseIssue(source, position, f"{where}: {exc}")
    seen[key] += 1
    return item
