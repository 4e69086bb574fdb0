"""read_path over files and folders, the parser registry, and the bundled sample's exports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agora.records import Interaction, ParseIssue
from listening.formats import PARSERS
from listening.importer import iter_files, read_path, summarise

FIXTURES = Path(__file__).parent / "fixtures"


def test_registry_names() -> None:
    assert set(PARSERS) == {"jsonl", "csv", "twitter-v1", "twitter-v2", "whatsapp", "telegram"}


def test_a_folder_is_read_recursively_sorted_without_hidden_or_media_files(tmp_path: Path,
                                                                          shared_data: Path) -> None:
    shutil.copytree(shared_data / "chat-exports", tmp_path / "exports")
    shutil.copytree(FIXTURES, tmp_path / "exports" / "twitter")
    (tmp_path / "exports" / ".hidden.csv").write_text("actor,target\na,b\n")
    (tmp_path / "exports" / ".git").mkdir()
    (tmp_path / "exports" / ".git" / "x.csv").write_text("actor,target\na,b\n")
    (tmp_path / "exports" / "telegram" / "photos").mkdir()
    (tmp_path / "exports" / "telegram" / "photos" / "photo_1.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "exports" / "notes.txt").write_text("nothing to see\n")
    files = iter_files(tmp_path / "exports")
    assert files == sorted(files) and not any(".hidden" in str(f) or ".git" in str(f) or f.suffix == ".jpg"
                                              for f in files)
    summary = summarise(read_path(tmp_path / "exports"))
    # each undetectable file is one issue: notes.txt, two target.json, the archive's account.js
    assert sorted(Path(i.source).name for i in summary.issues) == ["account.js", "notes.txt", "target.json",
                                                                   "target.json"]
    assert all(i.line is None for i in summary.issues)
    assert summary.by_platform == {"whatsapp": 30, "telegram": 4, "twitter": 16}


def test_format_given_overrides_detection(shared_data: Path) -> None:
    path = shared_data / "chat-exports" / "whatsapp" / "test_ddmmyy_24hrs.txt"
    items = list(read_path(path, "whatsapp", tz="Europe/Rome", window_minutes=5, lookback=1))
    assert len(items) == 6 and all(isinstance(i, Interaction) for i in items)
    (issue,) = list(read_path(path, "telegram"))
    assert isinstance(issue, ParseIssue) and issue.reason.startswith("not valid JSON")


def test_caller_errors_raise_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        list(read_path(tmp_path, "xml"))
    with pytest.raises(ValueError, match="time zone"):
        list(read_path(tmp_path, tz="Mars/Olympus"))
    with pytest.raises(FileNotFoundError):
        list(read_path(tmp_path / "missing"))


def test_reading_twice_gives_identical_records(tmp_path: Path, shared_data: Path) -> None:
    once = list(read_path(shared_data / "chat-exports"))
    assert once == list(read_path(shared_data / "chat-exports"))


def test_the_bundled_sample_imports_without_issues(tmp_path: Path) -> None:
    sample = pytest.importorskip("agora.sample")
    manifest = sample.generate_sample(tmp_path / "sample")
    items = list(read_path(manifest.directory, tz="Europe/Rome"))
    assert [i for i in items if isinstance(i, ParseIssue)] == []
    per_file: dict[str, int] = {}
    for it in items:
        file = Path(it.source.split(":messages[")[0].rsplit(":", 1)[0] if it.platform != "telegram"
                    else it.source.split(":messages[")[0])
        rel = file.relative_to(manifest.directory).as_posix()
        per_file[rel] = per_file.get(rel, 0) + 1
    assert per_file == manifest.per_file
    assert len({it.id for it in items}) == len(items) == manifest.interactions
