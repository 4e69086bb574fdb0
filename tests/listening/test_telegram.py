"""Telegram Desktop exports: chat-miner golden files, replies, mentions, corruption, idempotent ids."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agora.records import AccountRef, Interaction, Kind, ParseIssue
from listening.formats.common import ImportOptions
from listening.formats.telegram import message_text, read_telegram


def interactions(items: list) -> list[Interaction]:
    return [i for i in items if isinstance(i, Interaction)]


def issues(items: list) -> list[ParseIssue]:
    return [i for i in items if isinstance(i, ParseIssue)]


@pytest.mark.parametrize("name", ["test_single_export.json", "test_batch_export.json"])
def test_golden_files_parse_to_their_target(shared_data: Path, name: str) -> None:
    folder = shared_data / "chat-exports" / "telegram"
    target = json.loads((folder / "target.json").read_text(encoding="utf-8"))
    items = list(read_telegram(folder / name))
    assert issues(items) == []
    got = [(it.timestamp.replace(tzinfo=None).isoformat(), it.actor.handle, it.text) for it in interactions(items)]
    assert got == [(t["timestamp"], t["author"], t["message"]) for t in target]


def test_golden_two_person_chat_is_direct(shared_data: Path) -> None:
    items = interactions(list(read_telegram(shared_data / "chat-exports" / "telegram" / "test_single_export.json")))
    assert [[t.native_id for t in it.targets] for it in items] == [["Author 2"], ["Author 1"]]
    assert all(it.kind is Kind.MESSAGE and it.actor.native_id == it.actor.handle for it in items)
    assert items[0].id != items[1].id and items[0].conversation_id == items[1].conversation_id


def msg(mid: int, who: str, minute: int, text, **extra) -> dict:
    ts = datetime(2023, 5, 1, 9, minute, tzinfo=timezone.utc)
    return {"id": mid, "type": "message", "date": ts.replace(tzinfo=None).isoformat(),
            "date_unixtime": str(int(ts.timestamp())), "from": who.title(), "from_id": f"user_{who}",
            "text": text, **extra}


def user(who: str) -> AccountRef:
    return AccountRef("telegram", f"user_{who}", who.title())


CHAT = {
    "name": "Baristi ☕", "type": "public_supergroup", "id": 1712345678,
    "messages": [
        {"id": 1, "type": "service", "date": "2023-05-01T10:00:00", "date_unixtime": "1682928000",
         "actor": "Ann", "actor_id": "user3ann", "action": "create_group", "title": "Baristi ☕", "text": ""},
        msg(2, "ann", 1, "Buongiorno!"),
        msg(3, "bob", 2, ["ciao ", {"type": "mention", "text": "@Ann_Rossi"}, " e ",
                          {"type": "mention_name", "text": "Carl", "user_id": 4444}, "!"]),
        msg(4, "carl", 3, "risposta", reply_to_message_id=2),
        msg(5, "dora", 4, "", photo="(File not included.)", width=1280, height=960),
        msg(6, "bob", 5, "inoltro", forwarded_from="Caffè News", forwarded_from_id="channel777"),
        msg(7, "ann", 6, "a un messaggio perso", reply_to_message_id=999),
        msg(8, "ann", 7, [{"type": "bold", "text": "Link:"}, {"type": "link", "text": "https://t.me/x"},
                          " fine"]),
    ],
}


def test_a_group_chat(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(CHAT, ensure_ascii=False), encoding="utf-8")
    items = list(read_telegram(path))
    assert issues(items) == []
    got = interactions(items)
    assert [it.id for it in got] == [f"telegram:1712345678:{n}" for n in (2, 3, 4, 5, 6, 7, 8)]
    assert {it.conversation_id for it in got} == {"telegram:1712345678"}
    kinds = [(it.kind, [t.key for t in it.targets], it.parent_id) for it in got]
    assert kinds == [
        (Kind.MESSAGE, [], None),
        (Kind.MESSAGE, [user("ann").key], None),  # the rule: the last other speaker
        (Kind.REPLY, [user("ann").key], "telegram:1712345678:2"),  # explicit reply overrides the rule
        (Kind.MESSAGE, [user("carl").key, user("bob").key], None),
        (Kind.SHARE, ["telegram:channel777"], None),
        (Kind.MESSAGE, [user("bob").key, user("dora").key], "telegram:1712345678:999"),  # parent not exported
        (Kind.MESSAGE, [user("bob").key, user("dora").key], None),
    ]
    bob = got[1]
    assert bob.text == "ciao @Ann_Rossi e Carl!"
    assert bob.mentions == (AccountRef("telegram", "@ann_rossi", "Ann_Rossi"), AccountRef("telegram", "user4444", "Carl"))
    assert got[3].text is None  # a photo without caption
    assert got[6].text == "Link: https://t.me/x fine"
    assert got[0].timestamp == datetime(2023, 5, 1, 9, 1, tzinfo=timezone.utc)
    assert got[0].actor == user("ann")
    assert got[0].source == f"{path}:messages[1]"


def test_whole_account_export_reads_every_chat_and_left_chats(tmp_path: Path) -> None:
    other = {"name": "Old group", "type": "private_group", "id": 42, "messages": [msg(1, "eve", 0, "bye")]}
    doc = {"about": "Here is the data you requested.", "chats": {"about": "…", "list": [CHAT]},
           "left_chats": {"about": "…", "list": [other]}}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    got = interactions(list(read_telegram(path)))
    assert len(got) == 8 and got[-1].id == "telegram:42:1" and got[-1].conversation_id == "telegram:42"


def test_local_date_is_read_in_the_given_zone_when_there_is_no_unixtime(tmp_path: Path) -> None:
    doc = {"name": "x", "id": 1, "messages": [{"id": 1, "type": "message", "date": "2023-07-01T12:00:00",
                                               "from": "Ann", "from_id": "user1", "text": "hi"}]}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    (it,) = interactions(list(read_telegram(path, ImportOptions(tz="Europe/Rome"))))
    assert it.timestamp == datetime(2023, 7, 1, 10, 0, tzinfo=timezone.utc)


def test_corrupted_messages_are_reported_by_index_and_the_rest_kept(tmp_path: Path) -> None:
    broken = dict(CHAT, messages=[*CHAT["messages"][:3],
                                  {"id": 50, "type": "message", "text": "no author, no date"},
                                  "not an object",
                                  msg(51, "zed", 9, {"weird": "text"}),
                                  msg(52, "zed", 9, "bad date") | {"date_unixtime": "yesterday"},
                                  *CHAT["messages"][3:]])
    path = tmp_path / "result.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    items = list(read_telegram(path))
    assert [(i.line, i.reason.split(" ")[0]) for i in issues(items)] == [
        (3, "messages[3]"), (4, "messages[4]"), (5, "messages[5]"), (6, "messages[6]")]
    assert all(i.source == str(path) and "JSON index" in i.reason for i in issues(items))
    assert [it.id for it in interactions(items)] == [f"telegram:1712345678:{n}" for n in (2, 3, 4, 5, 6, 7, 8)]


def test_a_file_that_is_not_json_is_one_issue(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text('{"name": "x", "messages": [\n{"id": 1,,}\n', encoding="utf-8")
    (issue,) = list(read_telegram(path))
    assert isinstance(issue, ParseIssue) and issue.line == 2 and issue.reason.startswith("not valid JSON")


def test_reading_twice_gives_identical_ids(shared_data: Path) -> None:
    path = shared_data / "chat-exports" / "telegram" / "test_batch_export.json"
    once, twice = (list(read_telegram(path)) for _ in range(2))
    assert once == twice and len({i.id for i in interactions(once)}) == 2


def test_message_text_joins_pieces() -> None:
    assert message_text("plain") == ("plain", [])
    assert message_text("") == (None, [])
    text, entities = message_text(["a ", {"type": "italic", "text": "b"}, {"type": "bold", "text": " c"}])
    assert text == "a b c" and len(entities) == 2
