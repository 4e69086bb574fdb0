"""The rules as pure functions on rows made by hand (no server)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agora.config import ChurnRiskAlert, CommunityMoodDropAlert, InfluencerNegativeAlert, NewInfluencerAlert, VolumeSpikeAlert
from alerts.records import Alert, Evidence, alert_id, bucket
from alerts.rules import OVERALL, ChurnRow, VolumeSeries, churn_factors_text, churn_risk, volume_spike
from alerts.rules import (CommunityTop, MessageRow, MoodWindows, PersonRow, community_mood_drop,
                          influencer_negative, new_influencer)

T = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)  # created_at: the wall clock, unrelated to the data
GIULIA = PersonRow("tw:1", "Giulia Rossi", "c1", influence=60.0, community_influence=95.0)


def msgs(author: str, *polarities: float, days_ago: float = 1.0) -> list[MessageRow]:
    return [MessageRow(f"{author}/{i}", author, T - timedelta(days=days_ago, hours=i), p, f"text {i}")
            for i, p in enumerate(polarities)]


def negative(people: list[PersonRow], messages: list[MessageRow], **settings: object) -> list[Alert]:
    return influencer_negative(people, messages, InfluencerNegativeAlert(**settings), reference=T, created_at=NOW)


# -- influencer_negative -----------------------------------------------------

def test_influencer_negative_fires_with_figures_and_evidence() -> None:
    messages = msgs("tw:1", -0.8, -0.2, -0.5, -0.9, 0.1, -0.6, -0.7)
    [alert] = negative([GIULIA], messages)
    assert (alert.rule, alert.subject, alert.subject_kind, alert.severity) == (
        "influencer_negative", "tw:1", "Person", "critical")
    assert alert.title == "Influential customer Giulia Rossi is posting negatively"
    assert "influence 95/100 within community c1 (alert at >= 90)" in alert.reason
    assert "overall influence 60/100 (alert at >= 90)" in alert.reason
    assert "mean polarity -0.51 over 7 messages in the 14 days to 2025-06-01 12:00 UTC" in alert.reason
    assert [e.polarity for e in alert.evidence] == [-0.9, -0.8, -0.7, -0.6, -0.5]  # the five most negative
    assert alert.event_at == messages[0].ts  # the newest message
    assert alert.created_at == NOW
    assert alert.id == f"influencer_negative:tw:1:{bucket(messages[0].ts, 24)}"


@pytest.mark.parametrize("person, polarities, settings", [
    (GIULIA, (-0.2, -0.3), {}),                                          # mean -0.25 > -0.3
    (GIULIA, (-0.9,), {}),                                               # one message < min_messages 2
    (PersonRow("tw:2", "Bea", "c1", 89.9, 89.9), (-0.9, -0.9), {}),      # just under both percentiles
    (PersonRow("tw:3", "Brand", "c1", 99, 99, brand=True), (-0.9, -0.9), {}),  # the brand's own account
    (PersonRow("tw:4", "Cy", None, None, None), (-0.9, -0.9), {}),       # not scored
    (GIULIA, (-0.9, -0.9), {"min_community_influence": None}),           # only the overall percentile counts
    (GIULIA, (-0.9, -0.9, -0.9), {"min_messages": 4}),
])
def test_influencer_negative_does_not_fire(person: PersonRow, polarities: tuple[float, ...],
                                           settings: dict[str, object]) -> None:
    assert negative([person], msgs(person.id, *polarities), **settings) == []


def test_influencer_negative_edges_of_thresholds_and_window() -> None:
    exactly = PersonRow("tw:5", "Dora", "c2", influence=90.0, community_influence=10.0)
    assert [a.subject for a in negative([exactly], msgs("tw:5", -0.3, -0.3))] == ["tw:5"]  # at the thresholds
    # Only the last window_days count, up to the reference time; unclassified messages are ignored.
    old = msgs("tw:1", -0.9, -0.9, days_ago=15)
    future = [MessageRow("tw:1/f", "tw:1", T + timedelta(hours=1), -0.9)]
    unclassified = [MessageRow("tw:1/u", "tw:1", T - timedelta(hours=1), None)]
    assert negative([GIULIA], old + future + unclassified + msgs("tw:1", -0.9)) == []
    assert len(negative([GIULIA], old + msgs("tw:1", -0.9), window_days=16)) == 1
    # Rows repeat a person once per message when read from the graph: one alert each.
    assert len(negative([GIULIA, GIULIA], msgs("tw:1", -0.9, -0.9))) == 1


def test_influencer_negative_id_is_stable_within_the_cooldown() -> None:
    first = negative([GIULIA], msgs("tw:1", -0.9, -0.9, days_ago=0.5))[0]
    again = influencer_negative([GIULIA], msgs("tw:1", -0.9, -0.9, days_ago=0.5), InfluencerNegativeAlert(),
                                reference=T + timedelta(hours=3), created_at=NOW + timedelta(hours=3))[0]
    assert first.id == again.id  # same messages, later run: same alert
    weekly = negative([GIULIA], msgs("tw:1", -0.9, -0.9), cooldown_hours=168)[0]
    assert weekly.id.endswith(f":{bucket(weekly.event_at, 168)}")


# -- new_influencer ----------------------------------------------------------

def tops(**communities: tuple[str, ...]) -> list[CommunityTop]:
    return [CommunityTop(cid, "Ada", 12, 0.1, members) for cid, members in communities.items()]


def newcomers(now: list[CommunityTop], before: list[CommunityTop], top_n: int = 3, **settings: object) -> list[str]:
    people = {"dan": PersonRow("dan", "Dan Neri", "c1", 80.0, 95.0)}
    return [a.subject for a in new_influencer(now, before, people, NewInfluencerAlert(**settings), top_n=top_n,
                                              reference=T, created_at=NOW)]


def test_new_influencer_fires_for_who_entered_the_top() -> None:
    before = tops(c1=("ada", "bob", "cy", "dan", "eve"), c2=("gus", "hal", "ivo"))
    now = tops(c1=("ada", "dan", "bob", "cy", "eve"), c2=("gus", "hal", "ivo"))
    assert newcomers(now, before) == ["dan"]
    people = {"dan": PersonRow("dan", "Dan Neri", "c1", 80.0, 95.0)}
    [alert] = new_influencer(now, before, people, NewInfluencerAlert(), top_n=3, reference=T, created_at=NOW)
    assert alert.title == "Dan Neri is now one of the 3 most influential people in the community around Ada (c1)"
    assert alert.reason.startswith("#2 of 12 in community c1 by influence within the community "
                                   "(community influence 95/100, overall influence 80/100); previously #4 in c")
    assert (alert.severity, alert.event_at, alert.id) == ("info", T, alert_id("new_influencer", "dan", T, 168))


def test_new_influencer_baseline_and_quiet_cases() -> None:
    now = tops(c1=("ada", "dan", "bob"))
    assert newcomers(now, []) == []                                   # first scoring: a baseline
    assert newcomers(now, tops(c1=("dan", "ada", "bob"))) == []       # reordered inside the top
    assert newcomers(now, tops(c9=("ada", "dan", "bob"))) == []       # community renumbered
    assert newcomers(now, tops(c1=("ada", "bob", "cy", "dan")), top_n=4) == []
    small = [CommunityTop("c1", "Ada", 4, 0.1, ("ada", "dan"))]
    assert newcomers(small, tops(c1=("ada", "bob", "cy", "dan"))) == []  # under min_community_size
    assert newcomers(small, tops(c1=("ada", "bob", "cy", "dan")), min_community_size=4) == ["dan"]
    assert newcomers(tops(c1=("ada", "zed")), tops(c1=("ada", "bob"))) == ["zed"]  # new to the graph


# -- community_mood_drop -----------------------------------------------------

def drops(*windows: MoodWindows, **settings: object) -> list[Alert]:
    return community_mood_drop(windows, CommunityMoodDropAlert(**settings), reference=T, created_at=NOW)


def test_community_mood_drop_fires_with_figures() -> None:
    [alert] = drops(MoodWindows("c2", "Bea Verdi", 12, -0.3, 20, 0.2), MoodWindows("c3", "Cy", 30, 0.1, 30, 0.2))
    assert (alert.subject, alert.subject_kind, alert.severity) == ("c2", "Community", "warning")
    assert alert.title == "The mood in the community around Bea Verdi (c2) fell over the last 7 days"
    assert alert.reason == ("mean polarity -0.30 over 12 messages in the 7 days to 2025-06-01 12:00 UTC, down from "
                            "+0.20 over 20 messages in the 7 days before: a drop of 0.50 (alert at >= 0.25 with at "
                            "least 10 messages in each window)")
    assert alert.id == alert_id("community_mood_drop", "c2", T, 24)


@pytest.mark.parametrize("window", [
    MoodWindows("c1", None, 12, 0.0, 20, 0.2),      # a drop of 0.2 < 0.25
    MoodWindows("c1", None, 9, -0.5, 20, 0.5),      # too few recent messages
    MoodWindows("c1", None, 20, -0.5, 9, 0.5),      # too few earlier messages
    MoodWindows("c1", None, 20, -0.5, 0, None),     # nothing before
    MoodWindows("c1", None, 20, 0.5, 20, -0.5),     # the mood rose
])
def test_community_mood_drop_does_not_fire(window: MoodWindows) -> None:
    assert drops(window) == []


def test_community_mood_drop_at_the_threshold() -> None:
    assert [a.subject for a in drops(MoodWindows("c1", "c1", 10, -0.05, 10, 0.2))] == ["c1"]  # exactly 0.25
    assert drops(MoodWindows("c1", "c1", 10, -0.05, 10, 0.2), drop=0.26) == []


# -- records -----------------------------------------------------------------

def test_alert_keeps_five_pieces_of_evidence_and_cuts_long_texts() -> None:
    ev = tuple(Evidence(f"m{i}", "x" * 900, T, -0.5) for i in range(8))
    alert = Alert("r:s:1", "r", "info", "s", "t", "why", ev, NOW)
    assert len(alert.evidence) == 5 and len(alert.evidence[0].text) == 500
    assert alert.as_dict()["evidence"][0]["ts"] == T.isoformat()
    assert Evidence.from_dict(alert.evidence[0].as_dict()) == alert.evidence[0]
    with pytest.raises(ValueError, match="severity"):
        Alert("r:s:1", "r", "urgent", "s", "t", "why", (), NOW)  # type: ignore[arg-type]


# -- churn_risk ----------------------------------------------------------------------------


def churners(rows: list[ChurnRow], **settings: object) -> list[Alert]:
    return churn_risk(rows, ChurnRiskAlert(**settings), reference=T, created_at=NOW)


def test_churn_risk_fires_with_risk_influence_and_factors() -> None:
    [alert] = churners([ChurnRow(GIULIA, 0.81, '{"activity_drop": 0.35, "negative_recent": 0.3, "mood_trend": 0.16}')])
    assert (alert.rule, alert.subject, alert.subject_kind, alert.severity) == ("churn_risk", "tw:1", "Person", "warning")
    assert alert.title == "Influential customer Giulia Rossi may be about to leave"
    assert alert.reason.startswith("churn risk 0.81 (alert at >= 0.70); influence 95/100 within community c1")
    assert alert.reason.endswith("factors: activity_drop 0.35, negative_recent 0.30, mood_trend 0.16")
    assert alert.id == alert_id("churn_risk", "tw:1", T, 168) and alert.event_at == T and alert.created_at == NOW


@pytest.mark.parametrize("row, settings", [
    (ChurnRow(GIULIA, None, None), {}),                                            # not computed: skipped
    (ChurnRow(GIULIA, 0.69, None), {}),                                            # under the risk threshold
    (ChurnRow(PersonRow("tw:2", "Bea", "c1", 79.9, 79.9), 0.99, None), {}),        # not influential enough
    (ChurnRow(PersonRow("tw:3", "Brand", "c1", 99, 99, brand=True), 0.99, None), {}),
    (ChurnRow(GIULIA, 0.9, None), {"min_community_influence": None, "min_influence": 61}),
])
def test_churn_risk_does_not_fire(row: ChurnRow, settings: dict[str, object]) -> None:
    assert churners([row], **settings) == []


def test_churn_risk_edges() -> None:
    at = ChurnRow(PersonRow("tw:5", "Dora", "c2", influence=80.0, community_influence=None), 0.7, None)
    assert [a.subject for a in churners([at])] == ["tw:5"]  # at both thresholds; no factors: none listed
    assert "factors" not in churners([at])[0].reason
    assert len(churners([ChurnRow(GIULIA, 0.9), ChurnRow(GIULIA, 0.9)])) == 1
    assert churn_factors_text("not json {") == "not json {"
    assert churn_factors_text('[{"name": "fewer messages", "value": 0.2}, {"factor": "negative", "weight": 0.5}]') \
        == "negative 0.50, fewer messages 0.20"


def test_churn_and_volume_thresholds_that_cannot_be_met_are_config_errors() -> None:
    from pydantic import ValidationError

    for bad in ({"min_churn_risk": 1.2}, {"min_churn_risk": 0}, {"min_community_influence": None, "min_influence": None},
                {"min_influence": 101}):
        with pytest.raises(ValidationError):
            ChurnRiskAlert(**bad)
    for bad in ({"min_ratio": 1.0}, {"min_ratio": 0.5}, {"window_hours": 0}, {"baseline_windows": 1},
                {"min_z": 0}, {"per_community": False, "overall": False}, {"min_messages": 0}):
        with pytest.raises(ValidationError):
            VolumeSpikeAlert(**bad)


# -- volume_spike --------------------------------------------------------------------------

BASE = (10, 12, 8, 10) * 6  # 24 windows, mean 10, sd ~1.41


def spikes(series: list[VolumeSeries], **settings: object) -> list[Alert]:
    return volume_spike(series, VolumeSpikeAlert(**settings), reference=T, created_at=NOW)


def test_volume_spike_fires_per_community_and_overall_with_figures() -> None:
    found = spikes([VolumeSeries("c1", "Ada", (45,) + BASE), VolumeSeries(OVERALL, None, (300,) + (100,) * 24)])
    assert [(a.subject, a.subject_kind) for a in found] == [(OVERALL, "Community"), ("c1", "Community")]
    overall, c1 = found
    assert overall.title == "Message volume spike across all communities"
    assert "300 messages in the 1 h to 2025-06-01 12:00 UTC against a mean of 100.0 (sd 0.0)" in overall.reason
    assert "3.0x, z inf" in overall.reason
    assert c1.title == "Message volume spike in the community around Ada (c1)"
    assert "45 messages" in c1.reason and "mean of 10.0 (sd 1.4) over the 24 windows of 1 h before: 4.5x, z 24.7" \
        in c1.reason
    assert c1.id == alert_id("volume_spike", "c1", T, 6)


@pytest.mark.parametrize("counts, settings", [
    ((29,) + BASE, {}),                               # 2.9x < 3x
    ((19,) + (0,) * 24, {}),                          # from nothing, but under min_messages 20
    ((45,) + BASE[:10], {}),                          # a baseline shorter than baseline_windows: not judged
    ((60,) + (5, 35) * 12, {}),                       # 3x the mean (20) but z 2.7 < 3 on a jumpy baseline
    ((45,) + BASE, {"min_ratio": 5}),
    ((45,) + BASE, {"min_messages": 46}),
])
def test_volume_spike_does_not_fire(counts: tuple[int, ...], settings: dict[str, object]) -> None:
    assert spikes([VolumeSeries("c1", None, counts)], **settings) == []


def test_volume_spike_edges() -> None:
    jumpy = VolumeSeries("c1", None, (60,) + (5, 35) * 12)
    assert [a.subject for a in spikes([jumpy], min_z=None)] == ["c1"]            # ratio alone
    assert [a.subject for a in spikes([VolumeSeries("c2", None, (20,) + (0,) * 24)])] == ["c2"]  # from nothing
    assert "from none" in spikes([VolumeSeries("c2", None, (20,) + (0,) * 24)])[0].reason
    exactly = VolumeSeries("c3", None, (30,) + BASE)                            # exactly 3x
    assert [a.subject for a in spikes([exactly], min_z=None)] == ["c3"]
    assert spikes([VolumeSeries("c4", None, (30,) + BASE[:4])], baseline_windows=4)[0].subject == "c4"
