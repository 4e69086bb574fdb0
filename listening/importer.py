"""Read export files and folders into interactions: detection, then the format's reader.

:func:`read_path` is what ``agora import`` and the pipeline call. It never
raises for bad content: an unreadable record, an undetectable file or a file
that cannot be opened becomes a :class:`~agora.records.ParseIssue` and reading
goes on with the next one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from agora.records import Interaction, ParseIssue
from listening.detect import detect_format
from listening.formats import PARSERS
from listening.formats.common import ImportOptions, Item, zone

__all__ = ["read_path", "iter_files", "ImportSummary", "summarise", "SKIPPED_SUFFIXES"]

SKIPPED_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".bmp", ".tif", ".tiff", ".svg", ".ico",
    ".mp4", ".mov", ".avi", ".mkv", ".webm", ".3gp", ".mp3", ".m4a", ".opus", ".ogg", ".oga", ".wav", ".aac",
    ".pdf", ".vcf", ".zip", ".gz", ".html", ".htm", ".css", ".tgs", ".webm",
})
"""Media and page files that exports carry beside the data (Telegram ``photos/``, WhatsApp attachments,
the Twitter archive viewer); a folder import skips them silently."""


def iter_files(path: Path) -> list[Path]:
    """``path`` itself, or every file under the folder ``path``, sorted, without hidden files or
    folders (a name starting with ``.``) and without :data:`SKIPPED_SUFFIXES`."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    files = []
    for p in path.rglob("*"):
        rel = p.relative_to(path).parts
        if any(part.startswith(".") for part in rel) or not p.is_file():
            continue
        if p.suffix.lower() in SKIPPED_SUFFIXES:
            continue
        files.append(p)
    return sorted(files)


def read_path(path: Path, format: str | None = None, *, tz: str = "UTC", window_minutes: float = 30.0,
              lookback: int = 2) -> Iterator[Item]:
    """Every interaction of a file, or of every file under a folder, and every issue met.

    ``format`` names a reader of :data:`listening.formats.PARSERS` for every file; when ``None``
    each file's format is detected (:func:`listening.detect.detect_format`) and an undetectable
    file yields one :class:`ParseIssue` (``line`` ``None``). ``tz`` is the zone of local
    timestamps in chat exports; ``window_minutes`` and ``lookback`` parametrise the group-chat rule.

    Raises ``ValueError`` for an unknown ``format`` or ``tz`` and ``FileNotFoundError`` for a
    missing ``path``, before reading anything.
    """
    if format is not None and format not in PARSERS:
        raise ValueError(f"unknown format {format!r}; known: {', '.join(PARSERS)}")
    zone(tz)
    options = ImportOptions(tz=tz, window=timedelta(minutes=window_minutes), lookback=lookback)
    for file in iter_files(Path(path)):
        try:
            name = format or detect_format(file)
        except ValueError as exc:
            yield ParseIssue(str(file), None, str(exc).removeprefix(f"{file}: "))
            continue
        except OSError as exc:
            yield ParseIssue(str(file), None, f"cannot read: {exc}")
            continue
        try:
            yield from PARSERS[name](file, options)
        except OSError as exc:
            yield ParseIssue(str(file), None, f"cannot read: {exc}")


@dataclass
class ImportSummary:
    """Counts over the items of an import: interactions by platform and kind, issues by file."""

    interactions: int = 0
    issues: list[ParseIssue] = field(default_factory=list)
    by_platform: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    undated: int = 0

    @property
    def issues_by_file(self) -> Counter[str]:
        return Counter(i.source for i in self.issues)


def summarise(items: Iterable[Item]) -> ImportSummary:
    """Count ``items`` (e.g. ``summarise(read_path(p))``); issues are kept in order."""
    summary = ImportSummary()
    for item in items:
        if isinstance(item, Interaction):
            summary.interactions += 1
            summary.by_platform[item.platform] += 1
            summary.by_kind[item.kind.value] += 1
            summary.undated += bool(item.source and item.source.endswith("#undated"))
        else:
            summary.issues.append(item)
    return summary
