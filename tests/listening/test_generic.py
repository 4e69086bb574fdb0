"""Generic JSONL/CSV interactions and bare edge lists."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from agora.records import AccountRef, Interaction, Kind, ParseIssue
from listening.formats.common import ImportOptions
from listening.formats.generic import UNDATED, read_csv, read_jsonl


def good(items: list) -> list[Interaction]:
    return [i for i in items if isinstance(i, Interaction)]


def bad(items: list) -> list[ParseIssue]:
    return [i for i in items if isinstance(i, ParseIssue)]


CSV = """id,platform,kind,actor,target,timestamp,text,parent_id,conversation_id,actor_handle,mentions,lang
c1,instagram,reply,1784,1785;instagram:1786,2024-03-01T10:00:00Z,"Bello, grazie!",p0,p0,giulia.r,1787 1788,it
c2,instagram,,1785,,2024-03-01 11:00:00,"riga
su due righe",,,,,
instagram:c3,instagram,share,1786,twitter:42,1709290800,,c1,p0,,,
"""


def test_csv_with_every_column(tmp_path: Path) -> None:
    path = tmp_path / "comments.csv"
    path.write_text(CSV, encoding="utf-8")
    items = list(read_csv(path, ImportOptions(tz="Europe/Rome")))
    assert bad(items) == []
    first, second, third = good(items)
    assert first == Interaction(
        id="instagram:c1", platform="instagram", kind=Kind.REPLY,
        actor=AccountRef("instagram", "1784", "giulia.r"),
        timestamp=datetime(2024, 3, 1, 10, tzinfo=timezone.utc), text="Bello, grazie!",
        targets=(AccountRef("instagram", "1785"), AccountRef("instagram", "1786")),
        mentions=(AccountRef("instagram", "1787"), AccountRef("instagram", "1788")),
        parent_id="instagram:p0", conversation_id="instagram:p0", language="it", source=f"{path}:2")
    assert second.kind is Kind.POST and second.text == "riga\nsu due righe" and second.language is None
    assert second.timestamp == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)  # naive: read in Europe/Rome
    assert second.parent_id is None and second.targets == ()
    assert third.id == "instagram:c3" and third.source == f"{path}:5"  # line of the record after a 2-line cell
    assert third.targets == (AccountRef("twitter", "42"),) and third.timestamp == datetime(2024, 3, 1, 11,
                                                                                           tzinfo=timezone.utc)


def test_bare_edge_lists(tmp_path: Path) -> None:
    with_header = tmp_path / "edges.csv"
    with_header.write_text("actor,target\nann,bob\nbob,ann\nann,bob\n", encoding="utf-8")
    headerless = tmp_path / "plain.csv"
    headerless.write_text("ann,bob\nbob,ann\nann,bob\n", encoding="utf-8")
    jsonl = tmp_path / "edges.jsonl"
    jsonl.write_text("\n".join(json.dumps({"actor": a, "target": b}) for a, b in
                               [("ann", "bob"), ("bob", "ann"), ("ann", "bob")]), encoding="utf-8")
    runs = [good(list(read_csv(with_header))), good(list(read_csv(headerless))), good(list(read_jsonl(jsonl)))]
    for records in runs:
        assert [(r.platform, r.kind, r.actor.key, [t.key for t in r.targets]) for r in records] == [
            ("generic", Kind.MENTION, "generic:ann", ["generic:bob"]),
            ("generic", Kind.MENTION, "generic:bob", ["generic:ann"]),
            ("generic", Kind.MENTION, "generic:ann", ["generic:bob"])]
        assert all(r.timestamp == UNDATED and r.source.endswith("#undated") for r in records)
        assert records[0].id != records[2].id, "identical rows stay two records"
        assert all(r.id.startswith("generic:row-") for r in records)
    # the derived ids depend on the row, not on the file or its layout
    assert [r.id for r in runs[0]] == [r.id for r in runs[1]] == [r.id for r in runs[2]]


def test_ids_survive_reimport_and_appended_rows(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    path.write_text("actor,target\nann,bob\n", encoding="utf-8")
    before = [r.id for r in good(list(read_csv(path)))]
    assert before == [r.id for r in good(list(read_csv(path)))]
    path.write_text("actor,target\nann,bob\ncarl,ann\n", encoding="utf-8")
    assert [r.id for r in good(list(read_csv(path)))][:1] == before


def test_jsonl_rows_like_the_sample_writes(tmp_path: Path) -> None:
    row = {"id": "17900000000000001", "platform": "instagram", "kind": "reply", "actor": "17841",
           "actor_handle": "giulia.r", "target": None, "timestamp": "2026-09-01T08:00:00Z", "text": "Che bello",
           "parent_id": "17900000000000000", "conversation_id": "17900000000000000", "lang": "it",
           "mentions": ["17842", "17841"]}
    path = tmp_path / "comments.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    (it,) = list(read_jsonl(path))
    assert it.mentions == (AccountRef("instagram", "17842"),)  # never the actor themself
    assert it.targets == () and it.kind is Kind.REPLY and it.parent_id == "instagram:17900000000000000"


def test_bad_rows_are_reported_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("actor,target,kind,timestamp\n"
                    "ann,bob,reply,2024-01-01T00:00:00Z\n"
                    ",bob,reply,2024-01-01T00:00:00Z\n"
                    "ann,bob,shout,2024-01-01T00:00:00Z\n"
                    "ann,bob,reply,31/02/2024\n"
                    "garbage\n"
                    "bob,ann,mention,1704067200\n", encoding="utf-8")
    items = list(read_csv(path))
    issues = bad(items)
    assert [i.line for i in issues] == [3, 4, 5, 6]
    for issue, word in zip(issues, ["no 'actor'", "unknown kind 'shout'", "unreadable timestamp", "1 cells"]):
        assert word in issue.reason and issue.source == str(path)
    assert [r.actor.native_id for r in good(items)] == ["ann", "bob"]

    jpath = tmp_path / "bad.jsonl"
    jpath.write_text('{"actor": "ann", "target": "bob"}\n{"actor": \n[1]\n\n{"target": "x"}\n'
                     '{"actor": "bob"}\n', encoding="utf-8")
    items = list(read_jsonl(jpath))
    assert [i.line for i in bad(items)] == [2, 3, 5]
    assert [r.actor.native_id for r in good(items)] == ["ann", "bob"]


def test_csv_without_actor_column_is_one_issue(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("name,age,city\nann,3,rome\n", encoding="utf-8")
    (issue,) = list(read_csv(path))
    assert issue.line == 1 and "actor" in issue.reason


def test_semicolon_delimited_csv_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("\ufeffactor;target;timestamp\nann;bob;2024-01-01T00:00:00+01:00\n".encode("utf-8"))
    (it,) = list(read_csv(path))
    assert it.timestamp == datetime(2023, 12, 31, 23, tzinfo=timezone.utc) and it.targets[0].native_id == "bob"
