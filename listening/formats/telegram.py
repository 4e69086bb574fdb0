"""Telegram Desktop exports (``result.json``) as chat interactions.

Reads a single-chat export (``{"name", "type", "id", "messages": [...]}``) and
a whole-account export (``{"chats": {"list": [...]}, "left_chats": {"list": [...]}}``).

* Only ``type: "message"`` records are read; service records (joins, pins,
  title changes) are skipped silently.
* **Time**: ``date_unixtime`` (UTC epoch) when present, else ``date`` (local
  time without zone, read in ``tz``).
* **Author**: native id ``from_id`` (``user123``, ``channel456``) when present,
  else the ``from`` name; the handle is the ``from`` name.
* **Text**: a string, or a list of strings and entity objects ``{type, text}``
  concatenated; two adjacent entity objects with no whitespace between them
  get one space (``[bold "Link:", link "https://…"]`` → ``"Link: https://…"``,
  as in the chat-miner golden files). Empty text (a photo without caption)
  is ``None``.
* **Mentions**: entities ``mention`` (``@alice`` → native id ``@alice``,
  lowercased, handle ``alice``: a username is not a user id) and
  ``mention_name`` (``user_id`` 123 → ``user123``, the ``from_id`` form; without
  ``user_id`` the shown name, as for authors without ``from_id``).
* **Kind and targets**: ``reply_to_message_id`` whose message is in the chat
  → ``reply`` to that message's author (``parent_id`` its id). A reply to a
  message missing from the export keeps ``parent_id`` but is a ``message``
  and gets its targets from the group-chat rule, like every other plain
  message (:mod:`listening.formats.groupchat`). ``forwarded_from`` → ``share``
  with the original author as target (``forwarded_from_id`` when present,
  else the name).
* **Ids**: chat id from the export's ``id``, else ``name-<hash of the chat
  name>``; conversation ``telegram:<chat id>``; message
  ``telegram:<chat id>:<message id>`` (a message without ``id`` gets a hash
  of chat, time, author, text and occurrence index).

A bad message gives a :class:`ParseIssue` whose ``line`` is the message's
0-based index in its ``messages`` array (the reason names the JSON path); a
file that is not valid JSON gives one issue with the line of the JSON error.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from agora.records import AccountRef, Interaction, Kind, ParseIssue
from listening.formats.common import ImportOptions, Item, clean, decode_text, stable_hash, utc_from_epoch
from listening.formats.groupchat import infer_group_targets

__all__ = ["read_telegram", "parse_export", "parse_chat", "iter_chats", "message_text"]

PLATFORM = "telegram"


class _Bad(ValueError):
    pass


def read_telegram(path: Path, options: ImportOptions = ImportOptions()) -> Iterator[Item]:
    """Read one Telegram Desktop ``result.json`` (see the module docstring)."""
    try:
        doc = json.loads(decode_text(path))
    except ValueError as exc:
        yield ParseIssue(str(path), getattr(exc, "lineno", None), f"not valid JSON: {exc}")
        return
    yield from parse_export(doc, source=str(path), zone=options.zone, window=options.window,
                            lookback=options.lookback)


def parse_export(doc: Any, *, source: str, zone: tzinfo, window: timedelta = timedelta(minutes=30),
                 lookback: int = 2) -> Iterator[Item]:
    """Every chat of a decoded export, chat by chat."""
    chats = list(iter_chats(doc))
    if not chats:
        yield ParseIssue(source, None, "no 'messages' or 'chats' in this JSON: not a Telegram Desktop export")
    for where, chat in chats:
        yield from parse_chat(chat, source=source, where=where, zone=zone, window=window, lookback=lookback)


def iter_chats(doc: Any) -> Iterator[tuple[str, Any]]:
    """``(json path, chat)`` for a single-chat or whole-account export."""
    if not isinstance(doc, dict):
        return
    if "messages" in doc:
        yield "", doc
        return
    for key in ("chats", "left_chats"):
        section = doc.get(key)
        chats = section.get("list") if isinstance(section, dict) else section
        if isinstance(chats, list):
            for i, chat in enumerate(chats):
                yield f"{key}.list[{i}].", chat


def parse_chat(chat: Any, *, source: str, where: str = "", zone: tzinfo,
               window: timedelta = timedelta(minutes=30), lookback: int = 2) -> list[Item]:
    """The records of one chat object, in message order, with the group-chat rule applied."""
    if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
        return [ParseIssue(source, None, f"{where or 'chat'}: a chat without a 'messages' list")]
    chat_id = clean(chat.get("id")) or f"name-{stable_hash(chat.get('name'))[:12]}"
    conversation = f"{PLATFORM}:{chat_id}"
    raw = chat["messages"]
    authors: dict[str, AccountRef] = {}
    for msg in raw:
        if isinstance(msg, dict) and msg.get("id") is not None:
            try:
                authors[str(msg["id"])] = _author(msg)
            except _Bad:
                pass
    items: list[Item] = []
    positions: list[int] = []  # index in items of each interaction, for the group rule
    seen: Counter[tuple[str, ...]] = Counter()
    for i, msg in enumerate(raw):
        try:
            record = _map_message(msg, chat_id=chat_id, conversation=conversation, authors=authors, zone=zone,
                                  source=f"{source}:{where}messages[{i}]", seen=seen)
        except (_Bad, TypeError, ValueError, KeyError, OverflowError) as exc:
            items.append(ParseIssue(source, i, f"{where}messages[{i}] (JSON index, not a line): {exc}"))
            continue
        if record is not None:
            positions.append(len(items))
            items.append(record)
    ruled = infer_group_targets([items[p] for p in positions], window=window, lookback=lookback)  # type: ignore[misc]
    for p, record in zip(positions, ruled):
        items[p] = record
    return items


def _author(msg: dict[str, Any]) -> AccountRef:
    name = clean(msg.get("from"))
    native = clean(msg.get("from_id")) or name
    if native is None:
        raise _Bad("no 'from_id' and no 'from': the author is unknown")
    return AccountRef(PLATFORM, native, name)


def _timestamp(msg: dict[str, Any], zone: tzinfo) -> datetime:
    if msg.get("date_unixtime") not in (None, ""):
        return utc_from_epoch(msg["date_unixtime"])
    if msg.get("date"):
        ts = datetime.fromisoformat(str(msg["date"]))
        return ts if ts.tzinfo else ts.replace(tzinfo=zone)
    raise _Bad("no 'date_unixtime' and no 'date'")


def message_text(text: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """The plain text of a message's ``text`` field, and its entity objects."""
    if text is None:
        return None, []
    if isinstance(text, str):
        return text or None, []
    if not isinstance(text, list):
        raise _Bad(f"'text' is a {type(text).__name__}, expected a string or a list")
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    previous_entity = False
    for piece in text:
        if isinstance(piece, str):
            out.append(piece)
            previous_entity = False
            continue
        if not isinstance(piece, dict) or not isinstance(piece.get("text", ""), str):
            raise _Bad(f"a 'text' element is neither a string nor an entity object: {piece!r:.80}")
        chunk = piece.get("text", "")
        if previous_entity and out and out[-1] and chunk and not out[-1][-1].isspace() and not chunk[0].isspace():
            out.append(" ")
        out.append(chunk)
        entities.append(piece)
        previous_entity = True
    return "".join(out) or None, entities


def _mentions(entities: list[dict[str, Any]]) -> list[AccountRef]:
    refs = []
    for e in entities:
        kind, shown = e.get("type"), clean(e.get("text"))
        if kind == "mention" and shown:
            username = shown.lstrip("@")
            refs.append(AccountRef(PLATFORM, "@" + username.lower(), username))
        elif kind == "mention_name" and shown:
            user_id = clean(e.get("user_id"))
            refs.append(AccountRef(PLATFORM, f"user{user_id}" if user_id else shown, shown))
    return refs


def _map_message(msg: Any, *, chat_id: str, conversation: str, authors: dict[str, AccountRef], zone: tzinfo,
                 source: str, seen: Counter[tuple[str, ...]]) -> Interaction | None:
    if not isinstance(msg, dict):
        raise _Bad(f"a message is a {type(msg).__name__}, expected an object")
    if msg.get("type", "message") != "message":
        return None
    actor = _author(msg)
    ts = _timestamp(msg, zone)
    text, entities = message_text(msg.get("text"))
    mid = clean(msg.get("id"))
    if mid is None:
        key = (ts.isoformat(), actor.native_id, text or "")
        mid = f"h{stable_hash(chat_id, *key, seen[key])}"
        seen[key] += 1
    kind, targets, parent = Kind.MESSAGE, [], None
    reply_to = clean(msg.get("reply_to_message_id"))
    forwarded = clean(msg.get("forwarded_from"))
    if reply_to is not None:
        parent = f"{PLATFORM}:{chat_id}:{reply_to}"
        replied = authors.get(reply_to)
        if replied is not None:
            kind, targets = Kind.REPLY, [replied] if replied.key != actor.key else []
    elif forwarded is not None or clean(msg.get("forwarded_from_id")):
        origin = clean(msg.get("forwarded_from_id")) or forwarded
        kind, targets = Kind.SHARE, [AccountRef(PLATFORM, origin, forwarded)]
    mentions = [m for m in _mentions(entities) if m.key != actor.key]
    return Interaction(id=f"{PLATFORM}:{chat_id}:{mid}", platform=PLATFORM, kind=kind, actor=actor, timestamp=ts,
                       text=text, targets=tuple(t for t in targets if t.key != actor.key),
                       mentions=tuple(dict((m.key, m) for m in mentions).values()), parent_id=parent,
                       conversation_id=conversation, source=source)
