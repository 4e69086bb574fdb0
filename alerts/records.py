"""The alert record and its de-duplication id.

An :class:`Alert` is one thing a community manager should look at: an
influential customer turning negative, a new influencer, a community whose
mood fell. Its ``id`` is ``rule:subject:bucket``, where ``bucket`` numbers the
cooldown window the event falls in, so the same finding made again (a re-run
on the same graph, a retried task) has the same id and is stored once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = ["Alert", "Evidence", "Severity", "SEVERITIES", "alert_id", "bucket"]

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
MAX_EVIDENCE = 5
_MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class Evidence:
    """A message behind an alert: its id, text (``None`` when not kept, cut
    to 500 characters), time and polarity."""

    message_id: str
    text: str | None
    ts: datetime | None
    polarity: float | None

    def __post_init__(self) -> None:
        if self.text is not None and len(self.text) > _MAX_TEXT:
            object.__setattr__(self, "text", self.text[:_MAX_TEXT - 1] + "…")

    def as_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "text": self.text,
                "ts": self.ts.isoformat() if self.ts else None, "polarity": self.polarity}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Evidence":
        ts = data.get("ts")
        return cls(data["message_id"], data.get("text"), datetime.fromisoformat(ts) if ts else None,
                   data.get("polarity"))


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert.

    ``id`` is :func:`alert_id` of (``rule``, ``subject``, ``event_at``, the
    rule's cooldown); ``subject`` is a person or community id
    (``subject_kind`` says which); ``title`` is one line for a marketer and
    ``reason`` the figures and thresholds behind it; ``evidence`` at most five
    messages; ``event_at`` the time of what happened (the data's time, which
    decides the cooldown window); ``created_at`` when the alert was raised (UTC).
    """

    id: str
    rule: str
    severity: Severity
    subject: str
    title: str
    reason: str
    evidence: tuple[Evidence, ...]
    created_at: datetime
    subject_kind: Literal["Person", "Community"] = "Person"
    event_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert {self.id}: severity must be one of {', '.join(SEVERITIES)}")
        if len(self.evidence) > MAX_EVIDENCE:
            object.__setattr__(self, "evidence", tuple(self.evidence[:MAX_EVIDENCE]))

    @property
    def key(self) -> str:
        """``rule:subject``: what de-duplication and the cooldown are about."""
        return f"{self.rule}:{self.subject}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (times as ISO strings), e.g. for a webhook."""
        return {"id": self.id, "rule": self.rule, "severity": self.severity, "subject": self.subject,
                "subject_kind": self.subject_kind, "title": self.title, "reason": self.reason,
                "evidence": [e.as_dict() for e in self.evidence], "created_at": self.created_at.isoformat(),
                "event_at": self.event_at.isoformat() if self.event_at else None}


def bucket(event_at: datetime, cooldown_hours: float) -> int:
    """The number of the cooldown window ``event_at`` falls in:
    ``floor(epoch seconds / cooldown)``.

    >>> t = datetime(2025, 6, 1, 13, tzinfo=timezone.utc)
    >>> bucket(t, 24) == bucket(t.replace(hour=0), 24), bucket(t, 24) == bucket(t.replace(day=2), 24)
    (True, False)
    """
    if event_at.tzinfo is None:
        raise ValueError("event_at must be timezone-aware")
    return math.floor(event_at.timestamp() / (cooldown_hours * 3600.0))


def alert_id(rule: str, subject: str, event_at: datetime, cooldown_hours: float) -> str:
    """``rule:subject:bucket``, stable for every event in one cooldown window.

    >>> alert_id("new_influencer", "twitter:42", datetime(2025, 6, 1, tzinfo=timezone.utc), 168)
    'new_influencer:twitter:42:2891'
    """
    return f"{rule}:{subject}:{bucket(event_at, cooldown_hours)}"
