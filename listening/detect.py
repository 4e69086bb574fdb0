"""Name the format of an export file from its extension and its first bytes.

Content decides first, the extension only when the content says nothing:

* ``window.YTD.tweets.part0 = [`` (a Twitter archive ``tweets.js``) → ``twitter-v1``;
* the first JSON object (the first line, or the first element of an array) with
  ``data`` and ``includes``/``meta`` → ``twitter-v2``; with ``id_str`` and ``user``
  (or an archive ``{"tweet": …}`` wrapper) → ``twitter-v1``; a tweet with
  ``id``, ``text`` and ``author_id``/``author`` (twarc2 flattened) → ``twitter-v2``;
  with ``messages`` or ``chats`` → ``telegram``; with ``actor`` → ``jsonl``;
* a pretty-printed JSON document: the same keys found in its first 64 KiB;
* a ``.txt`` file with a WhatsApp date line among its first 50 lines → ``whatsapp``;
* ``.csv``/``.tsv`` → ``csv``; ``.jsonl``/``.ndjson`` → ``jsonl``.

Anything else raises ``ValueError`` naming the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from listening.formats.whatsapp import HEADER

__all__ = ["detect_format", "classify_object"]

HEAD_BYTES = 64 * 1024
_YTD = re.compile(r"^window\.YTD\.(\w+)\.part\d+\s*=")
_KEY = '"{}"\\s*:'


def classify_object(obj: Any) -> str | None:
    """The format one decoded JSON object belongs to, or ``None``."""
    if isinstance(obj, list):
        return classify_object(obj[0]) if obj else None
    if not isinstance(obj, dict):
        return None
    keys = obj.keys()
    if "data" in keys and ("includes" in keys or "meta" in keys):
        return "twitter-v2"
    if isinstance(obj.get("tweet"), dict):
        return classify_object(obj["tweet"]) or "twitter-v1"
    if "id_str" in keys and ("user" in keys or "created_at" in keys):
        return "twitter-v1"
    if "messages" in keys or "chats" in keys or "left_chats" in keys:
        return "telegram"
    if "id" in keys and "text" in keys and ("author_id" in keys or "author" in keys):
        return "twitter-v2"
    if "actor" in keys:
        return "jsonl"
    return None


def _has(head: str, *keys: str) -> bool:
    return all(re.search(_KEY.format(k), head) for k in keys)


def _sniff_json(head: str) -> str | None:
    for line in head.split("\n")[:20]:
        line = line.strip()
        if not line:
            continue
        try:
            return classify_object(json.loads(line))
        except ValueError:
            break  # not one value per line: a pretty-printed document
    if _has(head, "messages") or _has(head, "chats") or _has(head, "personal_information"):
        return "telegram"
    if _has(head, "data") and (_has(head, "includes") or _has(head, "meta")):
        return "twitter-v2"
    if _has(head, "id_str", "user"):
        return "twitter-v1"
    if _has(head, "id", "text", "author_id"):
        return "twitter-v2"
    if _has(head, "actor"):
        return "jsonl"
    return None


def detect_format(path: Path) -> str:
    """The name of ``path``'s format in :data:`listening.formats.PARSERS`; ``ValueError`` when undecidable."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff")
    suffix = path.suffix.lower()
    stripped = head.lstrip()
    ytd = _YTD.match(stripped)
    if ytd:
        if ytd.group(1) in ("tweets", "tweet"):
            return "twitter-v1"
        raise ValueError(f"{path}: a Twitter archive file of {ytd.group(1)!r}, not tweets; cannot import it")
    if suffix in (".txt", "") and any(HEADER.match(line) for line in head.split("\n")[:50]):
        return "whatsapp"
    if stripped.startswith(("{", "[")):
        found = _sniff_json(stripped)
        if found:
            return found
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ValueError(f"{path}: cannot tell its format (expected a generic .jsonl/.csv, a Twitter v1.1 or v2 "
                     "JSON file, a WhatsApp .txt export or a Telegram result.json); name it with --format")
