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
* :func:`churn_risk`: an influential customer whose churn risk (set by
  scoring, 0..1) is at or above ``min_churn_risk``.
* :func:`volume_spike`: a community (or the whole graph) with far more
  messages in the last ``window_hours`` than in the ``baseline_windows``
  windows before it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from agora.config import (ALERT_RULES, ChurnRiskAlert, CommunityMoodDropAlert, InfluencerNegativeAlert, NewInfluencerAlert,
                          VolumeSpikeAlert)
from alerts.records import MAX_EVIDENCE, Alert, Evidence, alert_id

__all__ = ["RULES", "PersonRow", "MessageRow", "CommunityTop", "MoodWindows", "ChurnRow", "VolumeSeries",
           "OVERALL", "influencer_negative", "new_influencer", "community_mood_drop", "churn_risk", "volume_spike",
           "churn_factors_text"]

RULES = ALERT_RULES
OVERALL = "all"  # the subject of a volume spike across the whole graph
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


@dataclass(frozen=True, slots=True)
class ChurnRow:
    """A scored person with their churn risk (0..1, ``None`` when not computed)
    and its factors as scoring stored them (a JSON string, ``None`` if absent)."""

    person: PersonRow
    churn_risk: float | None
    churn_factors: str | None = None


@dataclass(frozen=True, slots=True)
class VolumeSeries:
    """Message counts of a community (or :data:`OVERALL`) in consecutive
    windows, the last (newest) window first: ``counts[0]`` is the window
    ending at the reference time, ``counts[1:]`` the baseline."""

    subject: str
    label: str | None
    counts: tuple[int, ...]


def churn_risk(rows: Iterable[ChurnRow], settings: ChurnRiskAlert, *, reference: datetime,
               created_at: datetime) -> list[Alert]:
    """Influential customers who have become a churn risk.

    A person fires when ``churn_risk >= min_churn_risk``, they are influential
    (as for :func:`influencer_negative`: community or overall percentile at or
    above the thresholds, a ``None`` threshold unused) and not a brand
    account. People whose ``churn_risk`` is ``None`` are skipped. The reason
    gives the risk, the influence and the factors (largest first); the event
    time is ``reference``; evidence (their latest messages) is added by the engine.

    >>> t = datetime(2025, 6, 1, tzinfo=timezone.utc)
    >>> p = PersonRow("tw:1", "Giulia Rossi", "c1", influence=70, community_influence=95)
    >>> [a.reason for a in churn_risk([ChurnRow(p, 0.82, '{"activity_drop": 0.5, "negative_recent": 0.3}')],
    ...                               ChurnRiskAlert(), reference=t, created_at=t)]
    ['churn risk 0.82 (alert at >= 0.70); influence 95/100 within community c1 (alert at >= 80), overall influence 70/100 (alert at >= 80); factors: activity_drop 0.50, negative_recent 0.30']
    """
    out, seen = [], set()
    for row in sorted(rows, key=lambda r: r.person.id):
        p = row.person
        if p.id in seen or row.churn_risk is None or p.brand:
            continue
        seen.add(p.id)
        if row.churn_risk < settings.min_churn_risk - _EPS or not _influential(p, settings):
            continue
        factors = churn_factors_text(row.churn_factors)
        out.append(Alert(
            id=alert_id("churn_risk", p.id, reference, settings.cooldown_hours),
            rule="churn_risk", severity=settings.severity, subject=p.id, subject_kind="Person",
            title=f"Influential customer {p.display} may be about to leave",
            reason=(f"churn risk {row.churn_risk:.2f} (alert at >= {settings.min_churn_risk:.2f}); "
                    f"{_influence_figures(p, settings)}" + (f"; factors: {factors}" if factors else "")),
            evidence=(), created_at=created_at, event_at=reference))
    return out


def volume_spike(series: Iterable[VolumeSeries], settings: VolumeSpikeAlert, *, reference: datetime,
                 created_at: datetime) -> list[Alert]:
    """Communities (and the whole graph, subject :data:`OVERALL`) whose message
    volume spiked in the last window.

    With ``n = counts[0]`` and the baseline ``counts[1:]`` (mean ``mu``,
    population standard deviation ``sd``), a series fires when ``n >=
    min_messages``, ``n >= min_ratio * mu`` and, if ``min_z`` is set, ``(n -
    mu) / sd >= min_z`` (a flat baseline, ``sd = 0``, counts as an infinite
    z for any ``n > mu``). A baseline shorter than ``baseline_windows`` (a
    graph younger than the windows) is not judged: it would make every first
    day a spike. The event time is ``reference``; evidence (the latest messages
    of the window) is added by the engine.

    >>> t = datetime(2025, 6, 1, tzinfo=timezone.utc)
    >>> s = VolumeSeries("c1", "Ada", (60,) + (10, 12, 8, 10) * 6)
    >>> [a.title for a in volume_spike([s], VolumeSpikeAlert(), reference=t, created_at=t)]
    ['Message volume spike in the community around Ada (c1)']
    """
    out = []
    hours = f"{settings.window_hours:g}"
    for s in sorted(series, key=lambda s: s.subject):
        if not s.counts or len(s.counts) - 1 < settings.baseline_windows:
            continue
        n, base = s.counts[0], s.counts[1:settings.baseline_windows + 1]
        mu = sum(base) / len(base)
        sd = math.sqrt(sum((c - mu) ** 2 for c in base) / len(base))
        if n < settings.min_messages or n < settings.min_ratio * mu - _EPS:
            continue
        z = (n - mu) / sd if sd > 0 else (math.inf if n > mu else 0.0)
        if settings.min_z is not None and z < settings.min_z - _EPS:
            continue
        ratio = f"{n / mu:.1f}x" if mu > 0 else "from none"
        where = "across all communities" if s.subject == OVERALL else f"in {_community_name(s.subject, s.label)}"
        z_text = "z inf" if math.isinf(z) else f"z {z:.1f}"
        limits = f"alert at >= {settings.min_messages} messages and >= {settings.min_ratio:g}x" + (
            f" and z >= {settings.min_z:g}" if settings.min_z is not None else "")
        out.append(Alert(
            id=alert_id("volume_spike", s.subject, reference, settings.cooldown_hours),
            rule="volume_spike", severity=settings.severity, subject=s.subject, subject_kind="Community",
            title=f"Message volume spike {where}",
            reason=(f"{n} messages in the {hours} h to {_when(reference)} against a mean of {mu:.1f} "
                    f"(sd {sd:.1f}) over the {len(base)} windows of {hours} h before: {ratio}, {z_text} ({limits})"),
            evidence=(), created_at=created_at, event_at=reference))
    return out


def churn_factors_text(raw: str | None, limit: int = 5) -> str:
    """The churn factors as ``name value, ...``, largest first, from the JSON
    scoring stores (an object of numbers, a list of names or of
    ``{"name"/"factor", "value"/"weight"}`` objects); unreadable text is shown as it is, cut.

    >>> churn_factors_text('{"a": 0.1, "b": 0.4}'), churn_factors_text('["fewer messages"]'), churn_factors_text(None)
    ('b 0.40, a 0.10', 'fewer messages', '')
    """
    if not raw:
        return ""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return raw[:200]
    items: list[tuple[str, float | None]] = []
    if isinstance(data, dict):
        items = [(str(k), v if isinstance(v, (int, float)) else None) for k, v in data.items()]
    elif isinstance(data, list):
        for x in data:
            if isinstance(x, dict):
                name = x.get("name") or x.get("factor") or json.dumps(x)[:60]
                value = x.get("value", x.get("weight"))
                items.append((str(name), value if isinstance(value, (int, float)) else None))
            else:
                items.append((str(x), None))
    else:
        return str(data)[:200]
    items.sort(key=lambda kv: -(kv[1] if kv[1] is not None else -math.inf))
    return ", ".join(f"{k} {v:.2f}" if v is not None else k for k, v in items[:limit])


def _influential(p: PersonRow, s: InfluencerNegativeAlert | ChurnRiskAlert) -> bool:
    return ((s.min_community_influence is not None and p.community_influence is not None
             and p.community_influence >= s.min_community_influence - _EPS)
            or (s.min_influence is not None and p.influence is not None and p.influence >= s.min_influence - _EPS))


def _influence_figures(p: PersonRow, s: InfluencerNegativeAlert | ChurnRiskAlert) -> str:
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
