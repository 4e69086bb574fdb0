"""The alert rules, as pure functions over plain rows read from the graph.

Each rule takes rows (:class:`PersonRow`, :class:`MessageRow`,
:class:`CommunityTop`, :class:`MoodWindows`), its settings from
``config.alerts.<rule>`` and two times, and returns the alerts it finds; it
reads nothing and stores nothing (:mod:`alerts.engine` does), so each can be
tested on rows made by hand.

``reference`` is the end of the time windows and ``created_at`` the time the
alerts are raised. The engine takes ``reference`` from the newest message in
the graph, not from the wall clock, so history imported from exports (dated
in the past) is judged on its own timeline.

Rules:

* :func:`influencer_negative`: an influential person (community or overall
  percentile at or above the thresholds) whose classified messages in the
  last ``window_days`` have a mean polarity at or below ``max_polarity``.
* :func:`new_influencer`: someone in the top ``top_n`` of their community now
  who was in no community's top ``top_n`` at the previous scoring.
* :func:`community_mood_drop`: a community whose mean message polarity over the
  last ``window_days`` is lower than over the ``window_days`` before by
  ``drop`` or more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from agora.config import CommunityMoodDropAlert, InfluencerNegativeAlert, NewInfluencerAlert
from alerts.records import MAX_EVIDENCE, Alert, Evidence, alert_id

__all__ = ["RULES", "PersonRow", "MessageRow", "CommunityTop", "MoodWindows",
           "influencer_negative", "new_influencer", "community_mood_drop"]

RULES = ("influencer_negative", "new_influencer", "community_mood_drop")
_EPS = 1e-9  # "at or below" / "at least" must hold for values that print equal to the threshold


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A scored person: percentiles are 0–100, ``None`` when not scored."""

    id: str
    name: str | None = None
    community: str | None = None
    influence: float | None = None
    community_influence: float | None = None
    brand: bool = False

    @property
    def display(self) -> str:
        return self.name or self.id


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message by ``author`` (a person id); ``polarity`` in [-1, 1], ``None`` if unclassified."""

    id: str
    author: str
    ts: datetime
    polarity: float | None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class CommunityTop:
    """A community at one scoring: ``top`` lists its members (brand accounts
    left out), most influential within the community first."""

    id: str
    label: str | None
    size: int
    sentiment_mean: float | None
    top: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MoodWindows:
    """A community's classified messages in two consecutive windows: count and mean polarity."""

    community: str
    label: str | None
    recent_messages: int
    recent_mean: float | None
    previous_messages: int
    previous_mean: float | None


def influencer_negative(people: Iterable[PersonRow], messages: Iterable[MessageRow],
                        settings: InfluencerNegativeAlert, *, reference: datetime,
                        created_at: datetime) -> list[Alert]:
    """Influential people posting negatively.

    A person qualifies when ``community_influence >= min_community_influence``
    or ``influence >= min_influence`` (a threshold set to ``None`` is not
    used) and is not a brand account. Their classified messages with
    ``reference - window_days < ts <= reference`` must number at least
    ``min_messages`` and have a mean polarity ``<= max_polarity``. The event
    time is their newest such message; the evidence their most negative
    messages in the window.

    >>> t = datetime(2025, 6, 1, tzinfo=timezone.utc)
    >>> giulia = PersonRow("tw:1", "Giulia Rossi", "c1", influence=70, community_influence=95)
    >>> msgs = [MessageRow(f"tw:{i}", "tw:1", t - timedelta(days=i), -0.6) for i in range(3)]
    >>> [a.title for a in influencer_negative([giulia], msgs, InfluencerNegativeAlert(), reference=t, created_at=t)]
    ['Influential customer Giulia Rossi is posting negatively']
    """
    start = reference - timedelta(days=settings.window_days)
    by_author: dict[str, list[MessageRow]] = {}
    for m in messages:
        if m.polarity is not None and start < m.ts <= reference:
            by_author.setdefault(m.author, []).append(m)
    unique = {p.id: p for p in people}
    out = []
    for p in sorted(unique.values(), key=lambda p: p.id):
        if p.brand or not _influential(p, settings):
            continue
        msgs = list({m.id: m for m in by_author.get(p.id, [])}.values())
        if len(msgs) < settings.min_messages:
            continue
        mean = sum(m.polarity for m in msgs) / len(msgs)  # type: ignore[misc]
        if mean > settings.max_polarity + _EPS:
            continue
        event_at = max(m.ts for m in msgs)
        worst = sorted(msgs, key=lambda m: (m.polarity, -m.ts.timestamp(), m.id))[:MAX_EVIDENCE]
        out.append(Alert(
            id=alert_id("influencer_negative", p.id, event_at, settings.cooldown_hours),
            rule="influencer_negative", severity=settings.severity, subject=p.id, subject_kind="Person",
            title=f"Influential customer {p.display} is posting negatively",
            reason=(f"{_influence_figures(p, settings)}; mean polarity {mean:+.2f} over {len(msgs)} messages "
                    f"in the {settings.window_days:g} days to {_when(reference)} (alert at <= "
                    f"{settings.max_polarity:+.2f} with at least {settings.min_messages} messages)"),
            evidence=tuple(Evidence(m.id, m.text, m.ts, m.polarity) for m in worst),
            created_at=created_at, event_at=event_at))
    return out


def new_influencer(now: Iterable[CommunityTop], before: Iterable[CommunityTop], people: Mapping[str, PersonRow],
                   settings: NewInfluencerAlert, *, top_n: int, reference: datetime,
                   created_at: datetime) -> list[Alert]:
    """People who entered the top ``top_n`` of their community.

    ``now`` and ``before`` are the communities after and before this scoring.
    Nobody is new when ``before`` is empty (the first scoring is a baseline).
    A person is new when they are in the top ``top_n`` of a community of at
    least ``min_community_size`` people now and were in no community's top
    ``top_n`` before (a top member whose community was renumbered, split or
    merged is not news). The event time is ``reference``; evidence is added by
    the engine (the latest messages addressed to them).

    >>> t = datetime(2025, 6, 1, tzinfo=timezone.utc)
    >>> was = [CommunityTop("c1", "Ada", 12, 0.1, ("ada", "bob", "cy"))]
    >>> is_ = [CommunityTop("c1", "Ada", 12, 0.1, ("ada", "dan", "bob"))]
    >>> [a.subject for a in new_influencer(is_, was, {}, NewInfluencerAlert(), top_n=2, reference=t, created_at=t)]
    ['dan']
    """
    before = list(before)
    if not before:
        return []
    was_top = {pid for c in before for pid in c.top[:top_n]}
    was_rank = {pid: (c.id, rank) for c in before for rank, pid in enumerate(c.top, 1)}
    out = []
    for c in sorted(now, key=lambda c: c.id):
        if c.size < settings.min_community_size:
            continue
        for rank, pid in enumerate(c.top[:top_n], 1):
            if pid in was_top:
                continue
            p = people.get(pid, PersonRow(pid))
            where = _community_name(c.id, c.label, avoid=p.display)
            title = (f"{p.display} is now the most influential person in {where}" if rank == 1 else
                     f"{p.display} is now one of the {top_n} most influential people in {where}")
            previously = (f"previously #{was_rank[pid][1]} in community {was_rank[pid][0]}" if pid in was_rank
                          else "previously not ranked in any community")
            figures = []
            if p.community_influence is not None:
                figures.append(f"community influence {p.community_influence:.0f}/100")
            if p.influence is not None:
                figures.append(f"overall influence {p.influence:.0f}/100")
            out.append(Alert(
                id=alert_id("new_influencer", pid, reference, settings.cooldown_hours),
                rule="new_influencer", severity=settings.severity, subject=pid, subject_kind="Person",
                title=title,
                reason=(f"#{rank} of {c.size} in community {c.id} by influence within the community"
                        f"{' (' + ', '.join(figures) + ')' if figures else ''}; {previously}; top {top_n} "
                        f"counted, communities under {settings.min_community_size} people skipped"),
                evidence=(), created_at=created_at, event_at=reference))
    return out


def community_mood_drop(windows: Iterable[MoodWindows], settings: CommunityMoodDropAlert, *, reference: datetime,
                        created_at: datetime) -> list[Alert]:
    """Communities whose mood fell.

    ``recent`` is ``(reference - window_days, reference]`` and ``previous``
    the ``window_days`` before it. A community fires when each window has at
    least ``min_messages`` classified messages and ``previous_mean -
    recent_mean >= drop`` (means over messages, so each message weighs the
    same). The event time is ``reference``; evidence (the most negative recent
    messages) is added by the engine.

    >>> t = datetime(2025, 6, 1, tzinfo=timezone.utc)
    >>> w = MoodWindows("c2", "Bea", recent_messages=12, recent_mean=-0.3, previous_messages=20, previous_mean=0.2)
    >>> [a.title for a in community_mood_drop([w], CommunityMoodDropAlert(), reference=t, created_at=t)]
    ['The mood in the community around Bea (c2) fell over the last 7 days']
    """
    out = []
    for w in sorted(windows, key=lambda w: w.community):
        if w.recent_mean is None or w.previous_mean is None:
            continue
        if min(w.recent_messages, w.previous_messages) < settings.min_messages:
            continue
        drop = w.previous_mean - w.recent_mean
        if drop < settings.drop - _EPS:
            continue
        days = f"{settings.window_days:g}"
        out.append(Alert(
            id=alert_id("community_mood_drop", w.community, reference, settings.cooldown_hours),
            rule="community_mood_drop", severity=settings.severity, subject=w.community, subject_kind="Community",
            title=f"The mood in {_community_name(w.community, w.label)} fell over the last {days} days",
            reason=(f"mean polarity {w.recent_mean:+.2f} over {w.recent_messages} messages in the {days} days to "
                    f"{_when(reference)}, down from {w.previous_mean:+.2f} over {w.previous_messages} messages "
                    f"in the {days} days before: a drop of {drop:.2f} (alert at >= {settings.drop:.2f} with at "
                    f"least {settings.min_messages} messages in each window)"),
            evidence=(), created_at=created_at, event_at=reference))
    return out


def _influential(p: PersonRow, s: InfluencerNegativeAlert) -> bool:
    return ((s.min_community_influence is not None and p.community_influence is not None
             and p.community_influence >= s.min_community_influence - _EPS)
            or (s.min_influence is not None and p.influence is not None and p.influence >= s.min_influence - _EPS))


def _influence_figures(p: PersonRow, s: InfluencerNegativeAlert) -> str:
    parts = []
    if p.community_influence is not None:
        limit = f" (alert at >= {s.min_community_influence:g})" if s.min_community_influence is not None else ""
        parts.append(f"influence {p.community_influence:.0f}/100 within community {p.community}{limit}")
    if p.influence is not None:
        limit = f" (alert at >= {s.min_influence:g})" if s.min_influence is not None else ""
        parts.append(f"overall influence {p.influence:.0f}/100{limit}")
    return ", ".join(parts)


def _community_name(cid: str, label: str | None, avoid: str | None = None) -> str:
    """``the community around Giulia Rossi (c3)``: communities are labelled by their top member."""
    if label and label != cid and label != avoid:
        return f"the community around {label} ({cid})"
    return f"community {cid}"


def _when(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
