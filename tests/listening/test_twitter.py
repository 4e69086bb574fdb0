"""Twitter/X: v1.1 statuses, v2 pages with includes, twarc2 flattened tweets, the official archive."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from agora.records import AccountRef, Interaction, Kind, ParseIssue
from listening.formats.twitter import flatten, map_status_v1, parse_v1_time, read_twitter_v1, read_twitter_v2

FIXTURES = Path(__file__).parent / "fixtures"

ALICE = AccountRef("twitter", "2244994945", "alice_rossi")
BOB = AccountRef("twitter", "783214", "bobcoffee")
CARLA = AccountRef("twitter", "1580661436132757506", "CarlaB")
DAN = AccountRef("twitter", "17874544", "dan")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def summary(it: Interaction) -> tuple:
    return (it.id, it.kind, it.actor, it.targets, it.mentions, it.parent_id, it.timestamp)


def test_v1_statuses() -> None:
    path = FIXTURES / "twitter_v1.jsonl"
    items = list(read_twitter_v1(path))
    assert not [i for i in items if isinstance(i, ParseIssue)]
    got = [summary(it) for it in items]
    assert got == [
        ("twitter:1050118621198921728", Kind.POST, ALICE, (), (), None, utc(2018, 10, 10, 20, 19, 24)),
        ("twitter:1050120000000000001", Kind.MENTION, BOB, (ALICE, CARLA), (ALICE, CARLA), None,
         utc(2018, 10, 10, 20, 25)),
        ("twitter:1050125000000000002", Kind.REPLY, CARLA, (ALICE,), (ALICE,), "twitter:1050118621198921728",
         utc(2018, 10, 10, 20, 44, 10)),
        ("twitter:1050130000000000003", Kind.QUOTE, BOB, (ALICE,), (), "twitter:1050118621198921728",
         utc(2018, 10, 10, 21, 2, 33)),
        ("twitter:1050140000000000004", Kind.SHARE, CARLA, (ALICE,), (), "twitter:1050118621198921728",
         utc(2018, 10, 10, 21, 30)),
        # line 6 is a streaming "delete" notice: skipped
        ("twitter:1050150000000000005", Kind.MENTION, ALICE, (BOB,), (BOB,), None, utc(2018, 10, 10, 22)),
    ]
    assert items[4].text == "La nuova miscela è fantastica ☕"  # a retweet carries the original's text
    assert items[5].text.endswith("Grazie a tutti!")  # extended_tweet.full_text, not the truncated text
    assert items[5].language is None and items[0].language == "it"  # "und" is no language
    assert items[5].source == f"{path}:7"
    assert all(it.platform == "twitter" and it.conversation_id is None for it in items)


def test_v2_pages_resolve_referenced_authors_through_includes() -> None:
    path = FIXTURES / "twitter_v2_pages.jsonl"
    items = list(read_twitter_v2(path))
    assert not [i for i in items if isinstance(i, ParseIssue)]
    ghost = AccountRef("twitter", "@ghost_account", "Ghost_Account")
    gone = AccountRef("twitter", "99999", "sparito")
    assert [summary(it) for it in items] == [
        ("twitter:1585012000000000004", Kind.SHARE, BOB, (DAN,), (), "twitter:1585000000000000000",
         utc(2022, 10, 25, 10, 20)),
        ("twitter:1585011000000000003", Kind.QUOTE, CARLA, (DAN,), (), "twitter:1585000000000000000",
         utc(2022, 10, 25, 10, 10)),
        ("twitter:1585010500000000002", Kind.REPLY, BOB, (ALICE,), (ALICE,), "twitter:1585010000000000001",
         utc(2022, 10, 25, 10, 5, 12)),
        ("twitter:1585010000000000001", Kind.POST, ALICE, (), (), None, utc(2022, 10, 25, 10)),
        # page 2: a reply to a deleted tweet (its author only from in_reply_to_user_id) ...
        ("twitter:1585030000000000006", Kind.REPLY, CARLA, (gone,), (gone,), "twitter:1584990000000000000",
         utc(2022, 10, 25, 11, 30)),
        # ... and a mention without a user id: native id "@" + lowercased username
        ("twitter:1585020000000000005", Kind.MENTION, ALICE, (BOB, ghost), (BOB, ghost), None,
         utc(2022, 10, 25, 11)),
    ]
    assert items[0].text == "Il nostro nuovo blend è online"
    assert items[2].conversation_id == "twitter:1585010000000000001"
    assert [it.source for it in items] == [f"{path}:1"] * 4 + [f"{path}:2"] * 2


def test_flatten_inlines_authors_and_referenced_tweets_without_touching_the_page() -> None:
    page = json.loads((FIXTURES / "twitter_v2_pages.jsonl").read_text(encoding="utf-8").splitlines()[0])
    before = json.dumps(page, sort_keys=True)
    share, quote, reply, post = flatten(page)
    assert json.dumps(page, sort_keys=True) == before
    assert share["author"]["username"] == "bobcoffee"
    assert share["referenced_tweets"][0]["type"] == "retweeted"
    assert share["referenced_tweets"][0]["author"]["username"] == "dan"
    assert reply["in_reply_to_user"]["username"] == "alice_rossi"
    assert reply["referenced_tweets"][0]["text"] == post["text"]  # a referenced tweet found among the data
    assert flatten({"meta": {"result_count": 0}}) == []


def test_twarc2_flattened_tweets_give_the_same_records_as_pages() -> None:
    flat = list(read_twitter_v2(FIXTURES / "twitter_v2_flat.jsonl"))
    pages = {it.id: it for it in read_twitter_v2(FIXTURES / "twitter_v2_pages.jsonl")}
    assert len(flat) == 2
    for it in flat:
        assert summary(it) == summary(pages[it.id])


def test_official_archive_tweets_js_takes_the_author_from_account_js() -> None:
    items = list(read_twitter_v1(FIXTURES / "archive" / "data" / "tweets.js"))
    assert [summary(it) for it in items] == [
        ("twitter:1600000000000000001", Kind.REPLY, ALICE, (BOB,), (BOB,), "twitter:1599990000000000000",
         utc(2022, 12, 6, 10)),
        ("twitter:1600000000000000002", Kind.SHARE, ALICE, (DAN,), (), None, utc(2022, 12, 6, 11)),
    ]


def test_archive_without_account_js_reports_each_tweet(tmp_path: Path) -> None:
    path = tmp_path / "tweets.js"
    path.write_bytes((FIXTURES / "archive" / "data" / "tweets.js").read_bytes())
    items = list(read_twitter_v1(path))
    assert [(i.line, "JSON array index" in i.reason) for i in items] == [(0, True), (1, True)]


def test_corrupted_lines_are_reported_and_good_tweets_kept(tmp_path: Path) -> None:
    v1 = (FIXTURES / "twitter_v1.jsonl").read_text(encoding="utf-8").splitlines()
    status = json.loads(v1[0])
    lines = [v1[0], '{"id_str": "1", "user": {"id_str": "2"', "[1, 2]",
             json.dumps(status | {"created_at": "Wed Foo 10 20:19:24 +0000 2018", "id_str": "3"}),
             json.dumps({k: v for k, v in status.items() if k != "user"} | {"id_str": "4"}), *v1[1:]]
    path = tmp_path / "v1.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(read_twitter_v1(path))
    assert [(i.line, i.reason.split(":")[0]) for i in items if isinstance(i, ParseIssue)] == [
        (2, "not valid JSON"), (3, "line 3"), (4, "line 4"), (5, "line 5")]
    assert len([i for i in items if isinstance(i, Interaction)]) == 6

    v2 = (FIXTURES / "twitter_v2_pages.jsonl").read_text(encoding="utf-8").splitlines()
    page = json.loads(v2[0])
    page["data"][1] = {k: v for k, v in page["data"][1].items() if k != "created_at"}
    path = tmp_path / "v2.jsonl"
    path.write_text("\n".join([json.dumps(page), "{broken", v2[1]]) + "\n", encoding="utf-8")
    items = list(read_twitter_v2(path))
    bad = [i for i in items if isinstance(i, ParseIssue)]
    assert [(i.line, i.reason.split(":")[0]) for i in bad] == [(1, "line 1, data[1]"), (2, "not valid JSON")]
    assert len([i for i in items if isinstance(i, Interaction)]) == 5


def test_parse_v1_time() -> None:
    assert parse_v1_time("Wed Oct 10 20:19:24 +0000 2018") == utc(2018, 10, 10, 20, 19, 24)
    assert parse_v1_time("Wed Oct 10 22:19:24 +0200 2018") == utc(2018, 10, 10, 20, 19, 24)


def test_self_reply_targets_nobody() -> None:
    status = {"id_str": "9", "created_at": "Wed Oct 10 20:19:24 +0000 2018", "text": "thread 2/2",
              "user": {"id_str": "1", "screen_name": "me"}, "in_reply_to_status_id_str": "8",
              "in_reply_to_user_id_str": "1", "in_reply_to_screen_name": "me"}
    it = map_status_v1(status)
    assert it.kind is Kind.REPLY and it.targets == () and it.parent_id == "twitter:8"
