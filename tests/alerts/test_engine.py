"""Alerts against a real ArcadeDB graph: import, classify (set by hand), rescore, evaluate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agora.config import Config, load_config
from agora.pipeline import rescore
from agora.records import AccountRef, Interaction, Kind, Sentiment
from alerts.engine import Snapshot, evaluate, newest_message_time, snapshot
from alerts.history import acknowledge, fresh, list_alerts, save_alerts
from alerts.records import Alert, alert_id
from graph.store import GraphStore

T = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)  # the newest message of every test graph
GIULIA = AccountRef("tw", "giulia", "Giulia Rossi")
MARCO = AccountRef("tw", "marco", "Marco Bianchi")
A = [AccountRef("tw", f"a{i:02d}", f"Anna {i}") for i in range(12)]   # Giulia's circle
B = [AccountRef("tw", f"b{i:02d}", f"Bruno {i}") for i in range(12)]  # Marco's circle


def config(tmp_path: Path, alerts_yaml: str = "") -> Config:
    path = tmp_path / "config.yaml"
    path.write_text("alerts:\n" + alerts_yaml if alerts_yaml else "")
    return load_config(path, environ={})


class Graph:
    """Builds interactions and their sentiment, then writes them to the store."""

    def __init__(self, prefix: str = "m") -> None:
        self.prefix = prefix
        self.items: list[Interaction] = []
        self.polarity: dict[str, float] = {}

    def add(self, actor: AccountRef, ts: datetime, polarity: float = 0.0, *, to: AccountRef | None = None,
            text: str | None = None) -> str:
        mid = f"tw:{self.prefix}{len(self.items)}"
        kind = Kind.REPLY if to else Kind.POST
        self.items.append(Interaction(mid, "tw", kind, actor, ts, text or f"message {mid}",
                                      targets=(to,) if to else ()))
        self.polarity[mid] = polarity
        return mid

    def circles(self, start: datetime = T - timedelta(days=40)) -> None:
        """Two circles of twelve: everyone replies to the leader and to the next member;
        the first members get extra replies, so the ranking inside each circle is clear."""
        for leader, members in ((GIULIA, A), (MARCO, B)):
            for i, m in enumerate(members):
                self.add(m, start + timedelta(hours=i), 0.3, to=leader)
                self.add(m, start + timedelta(hours=i, minutes=30), 0.3, to=members[(i + 1) % len(members)])
                for j in range(max(0, 4 - i)):
                    self.add(members[(i + 5 + j) % len(members)], start + timedelta(hours=i, minutes=40 + j), 0.3,
                             to=m)
        self.add(A[0], start + timedelta(days=1), 0.2, to=MARCO)  # one bridge
        self.add(GIULIA, T, 0.1)  # fixes the newest message at T

    def write(self, store: GraphStore) -> None:
        store.upsert_interactions(self.items)
        label = {True: "positive", False: "negative"}
        store.set_sentiments([(mid, Sentiment(label[p >= 0], 0.9, p)) for mid, p in self.polarity.items()],
                             model="test")


def rows(alerts: list[Alert], rule: str) -> list[str]:
    return [a.subject for a in alerts if a.rule == rule]


def test_influencer_negative_fires_once_stored_and_linked(store: GraphStore, tmp_path: Path) -> None:
    g = Graph()
    g.circles()
    bad = [g.add(GIULIA, T - timedelta(days=d), -0.7, text=f"Ennesimo ordine in ritardo ({d})") for d in (1, 2, 3)]
    g.add(GIULIA, T - timedelta(days=20), 0.9)  # outside the 14-day window: does not lift the mean
    g.write(store)
    cfg = config(tmp_path)
    before = snapshot(store)
    assert not before.scored
    rescore(store, cfg)
    assert newest_message_time(store) == T

    alerts = evaluate(store, cfg, before)
    neg = [a for a in alerts if a.rule == "influencer_negative"]
    assert [a.subject for a in neg] == ["tw:giulia"]
    alert = neg[0]
    assert alert.title == "Influential customer Giulia Rossi is posting negatively"
    assert alert.severity == "critical"
    assert "mean polarity -0.50 over 4 messages" in alert.reason  # -0.7 ×3 and the 0.1 at T
    assert {e.message_id for e in alert.evidence} >= set(bad) and len(alert.evidence) == 4
    assert alert.evidence[0].polarity == pytest.approx(-0.7)
    assert alert.id == alert_id("influencer_negative", "tw:giulia", T, 24)
    assert rows(alerts, "new_influencer") == []  # first scoring is a baseline

    assert evaluate(store, cfg, before) == []  # same graph: nothing new
    assert evaluate(store, cfg, snapshot(store)) == []
    stored = list_alerts(store)
    assert [a["id"] for a in stored if a["rule"] == "influencer_negative"] == [alert.id]
    assert stored[0]["evidence"][0]["text"].startswith("Ennesimo ordine")
    linked = store.fetch("MATCH (a:Alert)-[:ABOUT]->(p:Person) RETURN a.id AS a, p.id AS p")
    assert {"a": alert.id, "p": "tw:giulia"} in linked


def test_influencer_negative_not_below_thresholds(store: GraphStore, tmp_path: Path) -> None:
    g = Graph()
    g.circles()
    for d in (1, 2, 3):
        g.add(GIULIA, T - timedelta(days=d), -0.2)   # influential but only mildly negative
        g.add(A[11], T - timedelta(days=d), -0.9)    # very negative but not influential
    g.add(MARCO, T - timedelta(days=1), -0.9)        # influential, negative, but one message only
    g.write(store)
    cfg = config(tmp_path)
    rescore(store, cfg)
    assert rows(evaluate(store, cfg, None), "influencer_negative") == []
    # A looser threshold picks Giulia up: the figures were really there.
    loose = config(tmp_path, "  influencer_negative:\n    max_polarity: -0.1\n")
    assert rows(evaluate(store, loose, None), "influencer_negative") == ["tw:giulia"]


def test_new_influencer_after_a_rescore_but_not_on_the_first(store: GraphStore, tmp_path: Path) -> None:
    g = Graph()
    g.circles()
    g.write(store)
    cfg = config(tmp_path)
    first = snapshot(store)
    rescore(store, cfg)
    assert rows(evaluate(store, cfg, first), "new_influencer") == []

    before = snapshot(store)
    assert before.scored and set(before.communities) == {"c1", "c2"}
    top_a = next(c for c in before.communities.values() if "tw:giulia" in c.top).top
    assert "tw:a10" not in top_a[:5]
    # Snapshots survive a trip through JSON (e.g. between Celery tasks).
    assert Snapshot.from_dict(before.as_dict()) == before

    # Nothing changed: nobody is new.
    rescore(store, cfg)
    assert rows(evaluate(store, cfg, before), "new_influencer") == []

    # Giulia's circle starts answering Anna 10.
    g2 = Graph("new")
    for i, m in enumerate(A):
        if m != A[10]:
            for k in range(3):
                g2.add(m, T - timedelta(days=2, hours=i, minutes=k), 0.5, to=A[10], text=f"grazie Anna 10! {i}.{k}")
    g2.write(store)
    rescore(store, cfg)
    alerts = evaluate(store, cfg, before)
    after = snapshot(store).communities["c1"].top
    assert after[:3] == ("tw:a10", "tw:giulia", "tw:a11")  # Anna 10 passes her new rank on to Anna 11
    new = [a for a in alerts if a.rule == "new_influencer"]
    assert [a.subject for a in new] == ["tw:a10", "tw:a11"] == sorted(set(after[:5]) - set(top_a[:5]))
    assert {a.severity for a in new} == {"info"}
    assert new[0].title == "Anna 10 is now the most influential person in community c1"
    assert new[1].title == "Anna 11 is now one of the 5 most influential people in the community around Anna 10 (c1)"
    assert new[0].reason.startswith("#1 of 13 in community c1") and "previously #10 in community c1" in new[0].reason
    assert len(new[0].evidence) == 5 and all(e.text.startswith("grazie Anna 10") for e in new[0].evidence)
    assert evaluate(store, cfg, before) == []


def test_community_mood_drop(store: GraphStore, tmp_path: Path) -> None:
    g = Graph()
    g.circles()
    for i, m in enumerate(B):  # Marco's circle: happy a week ago, unhappy this week
        g.add(m, T - timedelta(days=10, hours=i), 0.5, to=MARCO)
        g.add(m, T - timedelta(days=3, hours=i), -0.4, to=MARCO, text=f"pessimo servizio {i}")
    for i, m in enumerate(A):  # Giulia's circle: a small dip only
        g.add(m, T - timedelta(days=10, hours=i), 0.3, to=GIULIA)
        g.add(m, T - timedelta(days=3, hours=i), 0.2, to=GIULIA)
    g.write(store)
    cfg = config(tmp_path)
    rescore(store, cfg)
    marco_c = store.fetch("MATCH (p:Person {id: 'tw:marco'}) RETURN p.community AS c")[0]["c"]

    alerts = evaluate(store, cfg, None)
    drops = [a for a in alerts if a.rule == "community_mood_drop"]
    assert [a.subject for a in drops] == [marco_c]
    assert drops[0].subject_kind == "Community" and drops[0].severity == "warning"
    assert "Marco Bianchi" in drops[0].title and "last 7 days" in drops[0].title
    assert "-0.40 over 12 messages" in drops[0].reason and "+0.50 over 12 messages" in drops[0].reason
    assert len(drops[0].evidence) == 5 and all(e.polarity == pytest.approx(-0.4) for e in drops[0].evidence)
    assert evaluate(store, cfg, None) == []
    linked = store.fetch("MATCH (a:Alert)-[:ABOUT]->(c:Community) RETURN c.id AS c")
    assert linked == [{"c": marco_c}]

    # Needing more messages per window than there are, or a bigger drop, silences it.
    store._write(lambda tx: tx.run("MATCH (a:Alert) DETACH DELETE a").consume())
    assert evaluate(store, config(tmp_path, "  community_mood_drop:\n    min_messages: 13\n"), None) == []
    assert evaluate(store, config(tmp_path, "  community_mood_drop:\n    drop: 0.95\n"), None) == []


def test_disabled_alerts_do_nothing(store: GraphStore, tmp_path: Path) -> None:
    g = Graph()
    g.circles()
    for d in (1, 2):
        g.add(GIULIA, T - timedelta(days=d), -0.9)
    g.write(store)
    rescore(store, config(tmp_path))
    assert evaluate(store, config(tmp_path, "  enabled: false\n"), None) == []
    assert evaluate(store, config(tmp_path, "  influencer_negative:\n    enabled: false\n"), None) == []
    assert list_alerts(store) == []


def test_list_and_acknowledge(store: GraphStore, tmp_path: Path) -> None:
    assert list_alerts(store) == [] and acknowledge(store, "nope") is False
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    made = [Alert(alert_id("community_mood_drop", f"c{i}", t0, 24), "community_mood_drop", "warning", f"c{i}",
                  f"title {i}", "reason", (), created_at=t0 + timedelta(hours=i), subject_kind="Community",
                  event_at=t0) for i in range(3)]
    assert save_alerts(store, made) == made
    assert save_alerts(store, made) == []  # stored once
    assert [a["subject"] for a in list_alerts(store)] == ["c2", "c1", "c0"]
    assert [a["subject"] for a in list_alerts(store, since=t0 + timedelta(hours=1))] == ["c2", "c1"]
    assert len(list_alerts(store, limit=1)) == 1
    assert acknowledge(store, made[0].id) is True
    listed = {a["id"]: a for a in list_alerts(store)}
    assert listed[made[0].id]["acknowledged"] is True and listed[made[0].id]["acknowledged_at"] is not None
    assert listed[made[1].id]["acknowledged"] is False
    assert listed[made[0].id]["created_at"] == t0
    first_ack = listed[made[0].id]["acknowledged_at"]
    assert acknowledge(store, made[0].id) is True
    assert {a["id"]: a for a in list_alerts(store)}[made[0].id]["acknowledged_at"] == first_ack


def test_cooldown_holds_back_an_alert_just_past_a_window_edge(store: GraphStore) -> None:
    edge = datetime(2025, 6, 2, tzinfo=timezone.utc)  # a 24-hour bucket boundary

    def alert(at: datetime) -> Alert:
        return Alert(alert_id("influencer_negative", "tw:x", at, 24), "influencer_negative", "critical", "tw:x",
                     "t", "r", (), created_at=at, event_at=at)

    early, late, next_day = alert(edge - timedelta(minutes=5)), alert(edge + timedelta(minutes=5)), \
        alert(edge + timedelta(hours=30))
    assert early.id != late.id
    save_alerts(store, [early])
    cooldown = {"influencer_negative": 24.0}
    assert fresh(store, [early, late, next_day], cooldown) == [next_day]


# -- churn_risk and volume_spike on a real graph ----------------------------------------------

def set_churn(store: GraphStore, person: str, risk: float | None, factors: str | None = None) -> None:
    """What the scoring branch writes on Person nodes: churn_risk (0..1) and churn_factors (JSON)."""
    store._write(lambda tx: tx.run("MATCH (p:Person {id: $id}) SET p.churn_risk = $risk, p.churn_factors = $f",
                                   id=person, risk=risk, f=factors).consume())


def test_churn_risk_on_a_real_graph(store: GraphStore, tmp_path: Path) -> None:
    g = Graph()
    g.circles()
    sad = [g.add(GIULIA, T - timedelta(days=d), -0.6, text=f"Sto pensando di cambiare marca ({d})") for d in (2, 5)]
    g.write(store)
    cfg = config(tmp_path, "  influencer_negative:\n    enabled: false\n")
    rescore(store, cfg)
    assert evaluate(store, cfg, None) == []  # nobody has a churn risk yet: people without one are skipped
    set_churn(store, "tw:giulia", 0.86, '{"activity_drop": 0.4, "negative_recent": 0.3}')
    set_churn(store, "tw:a11", 0.99)   # at risk but not influential
    set_churn(store, "tw:marco", 0.4)  # influential but not at risk

    alerts = evaluate(store, cfg, None)
    assert [(a.rule, a.subject) for a in alerts] == [("churn_risk", "tw:giulia")]
    alert = alerts[0]
    assert alert.title == "Influential customer Giulia Rossi may be about to leave"
    assert alert.reason.startswith("churn risk 0.86 (alert at >= 0.70); influence ")
    assert alert.reason.endswith("factors: activity_drop 0.40, negative_recent 0.30")
    assert [e.message_id for e in alert.evidence[:2]] == [sad[0], sad[1]]  # her most negative recent messages
    assert store.fetch("MATCH (a:Alert)-[:ABOUT]->(p:Person) RETURN p.id AS p") == [{"p": "tw:giulia"}]
    assert evaluate(store, cfg, None) == []  # once per cooldown
    loose = config(tmp_path, "  influencer_negative:\n    enabled: false\n  churn_risk:\n    min_influence: 0\n"
                             "    cooldown_hours: 1\n")
    assert [a.subject for a in evaluate(store, loose, None)] == ["tw:a11"]  # the looser threshold: the figures are real


def test_volume_spike_on_a_real_graph(store: GraphStore, tmp_path: Path) -> None:
    g = Graph()
    g.circles()
    g.write(store)
    cfg = config(tmp_path, "  influencer_negative:\n    enabled: false\n")
    rescore(store, cfg)
    giulia_c = store.fetch("MATCH (p:Person {id: 'tw:giulia'}) RETURN p.community AS c")[0]["c"]
    # Steady chatter: 6 messages an hour for the day before, in Giulia's circle.
    steady = Graph("s")
    for h in range(1, 25):
        for k in range(6):
            steady.add(A[k], T - timedelta(hours=h, minutes=10 * k + 1), 0.1, to=GIULIA)
    steady.write(store)
    assert [a for a in evaluate(store, cfg, None) if a.rule == "volume_spike"] == []

    burst = Graph("b")
    ids = [burst.add(A[i % 12], T - timedelta(minutes=50 - i), -0.5, to=GIULIA, text=f"app down again {i}")
           for i in range(25)]
    burst.write(store)
    alerts = [a for a in evaluate(store, cfg, None) if a.rule == "volume_spike"]
    assert sorted(a.subject for a in alerts) == sorted(["all", giulia_c])
    mine = next(a for a in alerts if a.subject == giulia_c)
    # The last hour ends at the newest message (T, Giulia's own post): 25 + that one.
    assert mine.reason.startswith("26 messages in the 1 h to 2025-06-01 12:00 UTC against a mean of 6.0 (sd 0.0)")
    assert [e.message_id for e in mine.evidence] == ["tw:m" + str(len(g.items) - 1)] + ids[::-1][:4]
    assert store.fetch("MATCH (a:Alert {rule: 'volume_spike'})-[:ABOUT]->(c:Community) RETURN c.id AS c") == \
        [{"c": giulia_c}]  # the overall alert has no node to link to
    assert [a for a in evaluate(store, cfg, None) if a.rule == "volume_spike"] == []


def test_volume_spike_waits_for_a_whole_baseline(store: GraphStore, tmp_path: Path) -> None:
    burst = Graph("young")
    for i in range(40):
        burst.add(A[i % 12], T - timedelta(minutes=59 - i), 0.0, to=GIULIA)
    burst.write(store)
    cfg = config(tmp_path)
    assert evaluate(store, cfg, None) == []  # a graph an hour old has no baseline: not a spike
