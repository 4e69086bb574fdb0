"""The group-chat rule: who a message addresses when it names nobody."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agora.records import AccountRef, Interaction, Kind
from listening.formats.groupchat import infer_group_targets

T0 = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)


def m(n: int, who: str, minute: float, *, chat: str = "x:g", kind: Kind = Kind.MESSAGE,
      targets: tuple[str, ...] = ()) -> Interaction:
    return Interaction(f"x:{n}", "x", kind, AccountRef("x", who), T0 + timedelta(minutes=minute),
                       targets=tuple(AccountRef("x", t) for t in targets), conversation_id=chat)


def names(messages: list[Interaction]) -> list[list[str]]:
    return [[t.native_id for t in it.targets] for it in messages]


def test_last_two_other_speakers_within_the_window() -> None:
    chat = [m(1, "a", 0), m(2, "b", 1), m(3, "b", 2), m(4, "c", 3), m(5, "a", 4), m(6, "b", 40), m(7, "d", 80)]
    assert names(infer_group_targets(chat)) == [[], ["a"], ["a"], ["b", "a"], ["c", "b"], [], []]


def test_lookback_counts_people_not_messages_and_skips_the_author() -> None:
    chat = [m(1, "a", 0), m(2, "b", 1), m(3, "b", 2), m(4, "b", 3), m(5, "c", 4)]
    out = infer_group_targets(chat, lookback=2)
    assert names(out)[4] == ["b", "a"]
    assert names(infer_group_targets(chat, lookback=1))[4] == ["b"]
    assert names(infer_group_targets(chat, window=timedelta(minutes=2)))[4] == ["b"]  # a spoke 4 min before


def test_direct_chat_addresses_the_other_person_whatever_the_gap() -> None:
    chat = [m(1, "a", 0), m(2, "a", 1), m(3, "b", 600), m(4, "a", 6000)]
    assert names(infer_group_targets(chat)) == [["b"], ["b"], ["a"], ["b"]]


def test_explicit_targets_and_other_kinds_are_left_alone() -> None:
    chat = [m(1, "a", 0), m(2, "b", 1), m(3, "c", 2, kind=Kind.REPLY, targets=("a",)),
            m(4, "d", 3, kind=Kind.REPLY), m(5, "a", 4, kind=Kind.SHARE, targets=("z",))]
    out = infer_group_targets(chat)
    assert names(out) == [[], ["a"], ["a"], [], ["z"]]
    assert out[2] is chat[2] and out[3] is chat[3]


def test_conversations_are_separate_and_input_order_is_kept() -> None:
    chat = [m(1, "a", 0, chat="x:1"), m(2, "b", 0, chat="x:2"), m(3, "c", 1, chat="x:1"), m(4, "d", 2, chat="x:2"),
            m(5, "e", 3, chat="x:1")]
    out = infer_group_targets(chat)
    assert [o.id for o in out] == [c.id for c in chat]
    assert names(out) == [[], ["d"], ["a"], ["b"], ["c", "a"]]  # x:2 has two people: a direct chat


def test_time_order_not_input_order_decides() -> None:
    chat = [m(3, "c", 2), m(1, "a", 0), m(2, "b", 1)]
    assert names(infer_group_targets(chat)) == [["b", "a"], [], ["a"]]


def test_lookback_must_be_positive() -> None:
    with pytest.raises(ValueError):
        infer_group_targets([], lookback=0)
