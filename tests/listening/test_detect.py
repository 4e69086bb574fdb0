"""Format detection by content first, extension second."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listening.detect import detect_format

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name, fmt", [
    ("twitter_v1.jsonl", "twitter-v1"),
    ("twitter_v2_pages.jsonl", "twitter-v2"),
    ("twitter_v2_flat.jsonl", "twitter-v2"),
    ("archive/data/tweets.js", "twitter-v1"),
])
def test_fixtures(name: str, fmt: str) -> None:
    assert detect_format(FIXTURES / name) == fmt


def test_shared_chat_exports(shared_data: Path) -> None:
    for path in sorted((shared_data / "chat-exports" / "whatsapp").glob("*.txt")):
        assert detect_format(path) == "whatsapp", path.name
    for path in sorted((shared_data / "chat-exports" / "telegram").glob("test_*.json")):
        assert detect_format(path) == "telegram", path.name
    with pytest.raises(ValueError, match="target.json"):
        detect_format(shared_data / "chat-exports" / "telegram" / "target.json")


@pytest.mark.parametrize("name, content, fmt", [
    ("x.json", json.dumps({"name": "g", "type": "private_group", "id": 1, "messages": []}, indent=1), "telegram"),
    ("result.json", '{\n "about": "Here is the data you requested.",\n "chats": {\n  "list": []}}', "telegram"),
    ("page.json", json.dumps({"data": [{"id": "1", "text": "t", "author_id": "2"}], "includes": {}}, indent=2),
     "twitter-v2"),
    ("statuses.json", json.dumps([{"id_str": "1", "user": {"id_str": "2"}, "created_at": "x"}], indent=2),
     "twitter-v1"),
    ("out.json", '{"id_str": "1", "user": {"id_str": "2"}, "text": "hi"}\n', "twitter-v1"),
    ("rows.json", '{"actor": "a", "target": "b"}\n', "jsonl"),
    ("rows.jsonl", '{"platform": "x", "kind": "post"}\n', "jsonl"),
    ("rows.ndjson", "", "jsonl"),
    ("edges.csv", "actor,target\na,b\n", "csv"),
    ("edges.tsv", "actor\ttarget\na\tb\n", "csv"),
    ("WhatsApp Chat with Ann.txt", "Some header\n12/31/21, 22:01 - Ann: hi\n", "whatsapp"),
    ("_chat.txt", "\u200e[31/12/21, 9:01:05\u202fPM] Ann: hi\n", "whatsapp"),
])
def test_content_and_extension(tmp_path: Path, name: str, content: str, fmt: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert detect_format(path) == fmt


@pytest.mark.parametrize("name, content", [
    ("notes.txt", "just some notes\nnothing dated\n"),
    ("data.json", '{"hello": "world"}'),
    ("like.js", 'window.YTD.like.part0 = [{"like": {"tweetId": "1"}}]'),
    ("blob.bin", "\x00\x01"),
])
def test_undecidable_files_raise_naming_the_file(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=name):
        detect_format(path)
