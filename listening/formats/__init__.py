"""File formats Agora imports, by name.

Each reader takes a path (and optional :class:`ImportOptions`) and yields
:class:`~agora.records.Interaction` records, or a
:class:`~agora.records.ParseIssue` for each record it cannot read; it never
raises for a bad record. :func:`listening.detect.detect_format` names the
format of a file; :func:`listening.importer.read_path` reads files and folders.
"""

from __future__ import annotations

from listening.formats.common import ImportOptions, Item, Reader
from listening.formats.generic import read_csv, read_jsonl
from listening.formats.telegram import read_telegram
from listening.formats.twitter import read_twitter_v1, read_twitter_v2
from listening.formats.whatsapp import read_whatsapp

__all__ = ["PARSERS", "ImportOptions", "Item", "Reader"]

PARSERS: dict[str, Reader] = {
    "jsonl": read_jsonl,
    "csv": read_csv,
    "twitter-v1": read_twitter_v1,
    "twitter-v2": read_twitter_v2,
    "whatsapp": read_whatsapp,
    "telegram": read_telegram,
}
"""Format name → reader. Every reader: ``reader(path, options=ImportOptions()) -> Iterator[Item]``."""
