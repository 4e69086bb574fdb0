"""The records every room of Agora exchanges.

An :class:`Interaction` is one thing a person did on a channel (a post, a reply,
a mention, a quote, a share, a chat message, a reaction). Parsers and
connectors produce them; the graph store and the scorer consume them. Missing
values are ``None``, never empty strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum

__all__ = ["Kind", "AccountRef", "Interaction", "ParseIssue", "Sentiment"]


class Kind(str, Enum):
    """What an interaction is. Edge weights per kind come from ``scoring.weights``."""

    POST = "post"
    REPLY = "reply"
    MENTION = "mention"
    QUOTE = "quote"
    SHARE = "share"
    MESSAGE = "message"
    REACTION = "reaction"


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account on one channel. ``native_id`` is the platform's stable id
    (user id, phone number, or the author name when an export has nothing
    better); ``handle`` is the human-facing name when known."""

    platform: str
    native_id: str
    handle: str | None = None

    @property
    def key(self) -> str:
        """The account's graph key, ``platform:native_id``."""
        return f"{self.platform}:{self.native_id}"


@dataclass(frozen=True, slots=True)
class Interaction:
    """One interaction.

    ``id`` is ``platform:native_id`` of the message and is what makes imports
    idempotent. ``targets`` are the accounts the actor responds to (the author
    of the replied, quoted or shared message, the people addressed in a chat);
    ``mentions`` the accounts named in the text. One edge is drawn per distinct
    target and per mention that is not also a target. ``timestamp`` is UTC.
    ``parent_id`` is the interaction id of the message replied to, quoted or
    shared. ``source`` says where the record came from (``file:line`` or an
    API name) so errors and explanations can point back to it.
    """

    id: str
    platform: str
    kind: Kind
    actor: AccountRef
    timestamp: datetime
    text: str | None = None
    targets: tuple[AccountRef, ...] = ()
    mentions: tuple[AccountRef, ...] = ()
    parent_id: str | None = None
    conversation_id: str | None = None
    language: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.id or ":" not in self.id:
            raise ValueError(f"interaction id must be 'platform:native_id', got {self.id!r}")
        if self.timestamp.tzinfo is None:
            raise ValueError(f"interaction {self.id}: timestamp must be timezone-aware")
        if self.timestamp.utcoffset() != timezone.utc.utcoffset(None):
            object.__setattr__(self, "timestamp", self.timestamp.astimezone(timezone.utc))
        if self.text == "":
            object.__setattr__(self, "text", None)


@dataclass(frozen=True, slots=True)
class ParseIssue:
    """A record a parser could not read: where (``source`` file and 1-based
    ``line``, ``None`` when not line-addressable) and why."""

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Sentiment:
    """The sentiment of one text: ``label`` is negative, neutral or positive,
    ``score`` the model's probability for that label, ``polarity`` in [-1, 1]
    (P(positive) - P(negative)). ``flags`` note special handling, e.g.
    ``("empty",)`` for a text with nothing to classify."""

    label: str
    score: float
    polarity: float
    language: str | None = None
    flags: tuple[str, ...] = field(default=())
