"""WhatsApp exports: the chat-miner golden files, every line format, corruption, idempotent ids."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agora.records import AccountRef, Interaction, Kind, ParseIssue
from listening.formats.common import ImportOptions
from listening.formats.whatsapp import read_whatsapp


def interactions(items: list) -> list[Interaction]:
    return [i for i in items if isinstance(i, Interaction)]


def issues(items: list) -> list[ParseIssue]:
    return [i for i in items if isinstance(i, ParseIssue)]


def write(tmp_path: Path, text: str, name: str = "chat.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def golden_files(shared: Path) -> list[Path]:
    return sorted((shared / "chat-exports" / "whatsapp").glob("*.txt"))


def as_target(it: Interaction) -> tuple[str, str, str]:
    """A record in target.json's terms: naive local time (tz UTC here), author as written, continuation
    lines joined by a space (we keep the ``\\n``)."""
    return (it.timestamp.replace(tzinfo=None).isoformat(), it.actor.handle or "", (it.text or "").replace("\n", " "))


def test_golden_files_parse_to_their_targets(shared_data: Path) -> None:
    folder = shared_data / "chat-exports" / "whatsapp"
    target = json.loads((folder / "target.json").read_text(encoding="utf-8"))
    expected = sorted((t["timestamp"], t["author"], t["message"]) for t in target)  # the target is newest first
    files = golden_files(shared_data)
    assert len(files) == 5
    for path in files:
        items = list(read_whatsapp(path))
        assert issues(items) == [], path.name
        got = [as_target(it) for it in interactions(items)]
        assert got == sorted(got), f"{path.name}: file order is time order"
        assert got == expected, path.name


def test_golden_records_are_complete_interactions(shared_data: Path) -> None:
    path = shared_data / "chat-exports" / "whatsapp" / "test_ddmmyy_24hrs.txt"
    first, second, *_ = interactions(list(read_whatsapp(path)))
    assert first.platform == "whatsapp" and first.kind is Kind.MESSAGE
    assert first.actor == AccountRef("whatsapp", "John Doe", "John Doe")
    assert first.conversation_id == "whatsapp:test_ddmmyy_24hrs"
    assert first.source == f"{path}:1" and second.source == f"{path}:3"
    assert first.id.startswith("whatsapp:") and len(first.id) == len("whatsapp:") + 20


def test_timezone_converts_local_time_to_utc(shared_data: Path) -> None:
    path = shared_data / "chat-exports" / "whatsapp" / "test_ddmmyy_24hrs.txt"
    utc = interactions(list(read_whatsapp(path)))
    rome = interactions(list(read_whatsapp(path, ImportOptions(tz="Europe/Rome"))))
    # 01/01/19 11:25 in Rome (CET, +1) and 10/06/20 15:55 (CEST, +2)
    assert rome[0].timestamp == datetime(2019, 1, 1, 10, 25, tzinfo=timezone.utc)
    assert rome[2].timestamp == datetime(2020, 6, 10, 13, 55, tzinfo=timezone.utc)
    assert [r.id for r in rome] == [u.id for u in utc], "ids do not depend on the zone"


IOS = (
    "\u200e[31/12/21, 9:01:05\u202fPM] Family: \u200eMessages and calls are end-to-end encrypted. No one outside"
    " of this chat, not even WhatsApp, can read or listen to them.\n"
    "[31/12/21, 9:01:05\u202fPM] Ann: Happy new year!\n"
    "\u200e[31/12/21, 9:02:10\u202fPM] \u2068+39 333 123 4567\u2069: \u200eimage omitted\n"
    "[31/12/21, 9:03:00\u202fPM] +39 333 123 4567: Thanks @\u2068Ann\u2069 🎉\n"
    "\u200e[31/12/21, 9:03:30\u202fPM] Ann: \u200eBob added Carl\n"
    "[01/01/22, 12:15:00\u202fAM] Carl: Hi all,\n"
    "glad to be here\n"
    "\n"
    "see you: soon\n"
    "[01/01/22, 12:16:00\u202fAM] Dr. Who: ok\n"
)


def test_ios_export_with_narrow_spaces_marks_media_and_phone_authors(tmp_path: Path) -> None:
    items = list(read_whatsapp(write(tmp_path, IOS)))
    assert issues(items) == []
    got = interactions(items)
    assert [(it.actor.native_id, it.text) for it in got] == [
        ("Ann", "Happy new year!"),
        ("+393331234567", None),  # a media placeholder is a message without text
        ("+393331234567", "Thanks @\u2068Ann\u2069 🎉"),
        ("Carl", "Hi all,\nglad to be here\n\nsee you: soon"),
        ("Dr. Who", "ok"),
    ]
    assert got[1].actor.handle == "+39 333 123 4567"
    assert got[0].timestamp == datetime(2021, 12, 31, 21, 1, 5, tzinfo=timezone.utc)
    assert got[3].timestamp == datetime(2022, 1, 1, 0, 15, tzinfo=timezone.utc)  # 12:15 AM
    assert [m.native_id for m in got[2].mentions] == ["Ann"]
    assert got[2].source.endswith(":4") and got[3].source.endswith(":6")


@pytest.mark.parametrize("line, expected", [
    ("12/31/21, 22:01 - Ann: hi", datetime(2021, 12, 31, 22, 1)),  # month first (31 > 12)
    ("31/12/2021, 22:01 - Ann: hi", datetime(2021, 12, 31, 22, 1)),  # day first, 4-digit year
    ("2021-12-30, 22:01 - Ann: hi", datetime(2021, 12, 30, 22, 1)),  # year first with dashes
    ("31.12.21, 22:01 - Ann: hi", datetime(2021, 12, 31, 22, 1)),  # German dots
    ("12/31/21, 10:01 PM - Ann: hi", datetime(2021, 12, 31, 22, 1)),
    ("31/12/2021, 10:01 p. m. - Ann: hi", datetime(2021, 12, 31, 22, 1)),  # Spanish
    ("31/12/2021, 10:01\u202fa.m. - Ann: hi", datetime(2021, 12, 31, 10, 1)),
    ("31/12/2021, 12:01 am - Ann: hi", datetime(2021, 12, 31, 0, 1)),
    ("[31/12/2021, 12:01:59 PM] Ann: hi", datetime(2021, 12, 31, 12, 1, 59)),
    ("31/12/2021 22:01 - Ann: hi", datetime(2021, 12, 31, 22, 1)),  # no comma
])
def test_line_formats(tmp_path: Path, line: str, expected: datetime) -> None:
    items = list(read_whatsapp(write(tmp_path, line + "\n")))
    assert issues(items) == []
    (it,) = interactions(items)
    assert it.timestamp == expected.replace(tzinfo=timezone.utc)
    assert (it.actor.native_id, it.text) == ("Ann", "hi")


def test_an_ambiguous_file_is_day_first(tmp_path: Path) -> None:
    (it,) = interactions(list(read_whatsapp(write(tmp_path, "03/04/21, 10:00 - Ann: hi\n"))))
    assert it.timestamp.month == 4 and it.timestamp.day == 3


def test_date_order_is_decided_for_the_whole_file(tmp_path: Path) -> None:
    text = "03/04/21, 10:00 - Ann: first\n04/20/21, 10:00 - Bob: second\n"
    first, second = interactions(list(read_whatsapp(write(tmp_path, text))))
    assert (first.timestamp.month, first.timestamp.day) == (3, 4)  # month first: 04/20 decides it
    assert (second.timestamp.month, second.timestamp.day) == (4, 20)


SYSTEM = (
    "20/06/20, 00:08 - +12 345 578 created group \"Groupname\"\n"
    "20/06/20, 00:09 - You were added\n"
    "20/06/20, 00:10 - Ann joined using this group's invite link\n"
    "20/06/20, 00:11 - Bob changed the subject from \"Old\" to \"New: better\"\n"
    "20/06/20, 00:12 - Messages and calls are end-to-end encrypted. No one outside of this chat can read them.\n"
    "20/06/20, 00:13 - Ann:.\n"
    "20/06/20, 00:14 - Ann: <Media omitted>\n"
    "20/06/20, 00:15 - Bob: This message was deleted\n"
)


def test_system_lines_are_skipped_silently_and_media_kept_without_text(tmp_path: Path) -> None:
    items = list(read_whatsapp(write(tmp_path, SYSTEM)))
    assert issues(items) == []
    assert [(it.actor.native_id, it.text, it.source.rsplit(":", 1)[1]) for it in interactions(items)] == [
        ("Ann", None, "7"), ("Bob", None, "8")]


CHAT = (
    "01/02/21, 10:00 - Ann: ciao a tutti\n"
    "01/02/21, 10:01 - Bob: ciao Ann\n"
    "01/02/21, 10:02 - Bob: come va?\n"
    "01/02/21, 10:03 - Ann: bene\n"
    "01/02/21, 10:03 - Ann: bene\n"
    "01/02/21, 10:05 - Carl: @Bob hai visto?\n"
)


def test_reading_twice_gives_identical_ids_and_repeated_messages_stay_distinct(tmp_path: Path) -> None:
    path = write(tmp_path, CHAT)
    once, twice = (interactions(list(read_whatsapp(path))) for _ in range(2))
    assert [i.id for i in once] == [i.id for i in twice]
    assert once == twice
    assert len({i.id for i in once}) == 6, "the two identical 'bene' lines are two messages"
    assert once[5].mentions == (AccountRef("whatsapp", "Bob", "Bob"),)


def test_group_rule_is_applied(tmp_path: Path) -> None:
    got = interactions(list(read_whatsapp(write(tmp_path, CHAT))))
    targets = [[t.native_id for t in it.targets] for it in got]
    assert targets == [[], ["Ann"], ["Ann"], ["Bob"], ["Bob"], ["Ann", "Bob"]]


def test_corrupted_copy_reports_each_bad_line_and_keeps_every_good_record(shared_data: Path,
                                                                          tmp_path: Path) -> None:
    for original in golden_files(shared_data):
        good = interactions(list(read_whatsapp(original)))
        lines = original.read_bytes().split(b"\n")
        # line 1 (before every message), an impossible date, an impossible time and a binary line
        bad = [b"garbage before the first message", *lines[:4],
               b"31/02/21, 10:00 - Mallory: no such day" if b"/" in lines[0] and not lines[0].startswith(b"20")
               else b"2021/02/31, 10:00 - Mallory: no such day",
               *lines[4:6], b"\xff\xfe\x00\x01 binary junk", *lines[6:]]
        copy = tmp_path / original.name
        copy.write_bytes(b"\n".join(bad))
        items = list(read_whatsapp(copy))
        assert [(i.line, i.source) for i in issues(items)] == [(1, str(copy)), (6, str(copy)), (9, str(copy))], \
            (original.name, issues(items))
        kept = interactions(items)
        assert [as_target(k) for k in kept] == [as_target(g) for g in good], original.name


def test_impossible_times_and_stray_text_are_reported(tmp_path: Path) -> None:
    text = "stray line\n01/02/21, 25:00 - Ann: too late\nits continuation\n01/02/21, 11:00 - Bob: fine\n"
    items = list(read_whatsapp(write(tmp_path, text)))
    assert [(i.line, i.reason.split(":")[0]) for i in issues(items)] == [
        (1, "text before the first dated line"), (2, "no such time")]
    assert [it.text for it in interactions(items)] == ["fine"]


def test_large_export_parses_linearly(tmp_path: Path) -> None:
    """A 20k-message chat parses without issues (the throughput is measured outside the tests)."""
    lines = [f"{1 + d % 28:02d}/{1 + d % 12:02d}/21, {h:02d}:{m:02d} - Person {k % 40}: message {k}"
             for k, (d, h, m) in enumerate((k // 600, (k // 60) % 10 + 8, k % 60) for k in range(20_000))]
    items = list(read_whatsapp(write(tmp_path, "\n".join(lines))))
    assert len(interactions(items)) == 20_000 and issues(items) == []
