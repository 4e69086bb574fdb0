"""Who a group-chat message addresses when it names nobody.

In a WhatsApp or Telegram group most messages carry no reply link and no
mention, yet they answer someone. Agora applies one rule, per conversation,
in time order:

* A message that addresses nobody explicitly (kind ``message``, no targets)
  responds to the last ``lookback`` *other* people who spoke (default 2)
  within ``window`` before it (default 30 minutes): walking back from the
  message, the authors of earlier messages are collected, skipping the
  author's own messages and people already collected, until ``lookback``
  people are found or a message is older than ``window``. A message with
  nobody else in the window addresses nobody.
* In a chat with exactly two participants (a direct chat) every such message
  addresses the other person, whatever the time since they last spoke.
* An explicit reply (Telegram ``reply_to_message_id`` whose message is in
  the export) points at the replied-to author only; the rule never touches
  messages that already have targets or are not of kind ``message``.

Participants are the distinct authors of the conversation in the export.
Messages with the same timestamp keep their input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from agora.records import AccountRef, Interaction, Kind

__all__ = ["infer_group_targets"]


def infer_group_targets(messages: Sequence[Interaction], window: timedelta = timedelta(minutes=30),
                        lookback: int = 2) -> list[Interaction]:
    """``messages`` with the targets of the group-chat rule (module docstring) filled in.

    Messages are grouped by ``conversation_id``; the result keeps the input order and
    leaves every message the rule does not apply to unchanged.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> def msg(i, who, minutes):
    ...     return Interaction(f"x:{i}", "x", Kind.MESSAGE, AccountRef("x", who), t + timedelta(minutes=minutes),
    ...                        conversation_id="x:g")
    >>> out = infer_group_targets([msg(1, "ann", 0), msg(2, "bob", 1), msg(3, "cid", 2), msg(4, "ann", 50)])
    >>> [[a.native_id for a in m.targets] for m in out]
    [[], ['ann'], ['bob', 'ann'], []]
    """
    if lookback < 1:
        raise ValueError(f"lookback must be >= 1, got {lookback}")
    out = list(messages)
    chats: dict[str | None, list[int]] = {}
    for i, m in enumerate(messages):
        chats.setdefault(m.conversation_id, []).append(i)
    for indices in chats.values():
        order = sorted(indices, key=lambda i: messages[i].timestamp)  # stable: ties keep file order
        people: dict[str, AccountRef] = {}
        for i in order:
            people.setdefault(messages[i].actor.key, messages[i].actor)
        direct = len(people) == 2
        for pos, i in enumerate(order):
            m = messages[i]
            if m.kind is not Kind.MESSAGE or m.targets:
                continue
            if direct:
                targets = [ref for key, ref in people.items() if key != m.actor.key]
            else:
                targets = _recent_speakers(messages, order, pos, window, lookback)
            if targets:
                out[i] = replace(m, targets=tuple(targets))
    return out


def _recent_speakers(messages: Sequence[Interaction], order: list[int], pos: int, window: timedelta,
                     lookback: int) -> list[AccountRef]:
    me = messages[order[pos]]
    found: dict[str, AccountRef] = {}
    for j in range(pos - 1, -1, -1):
        prev = messages[order[j]]
        if me.timestamp - prev.timestamp > window:
            break
        key = prev.actor.key
        if key != me.actor.key and key not in found:
            found[key] = prev.actor
            if len(found) == lookback:
                break
    return list(found.values())
