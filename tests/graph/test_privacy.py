"""Privacy against a real graph: erasure, pseudonymised handles at import, text retention."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agora.config import ConfigError, load_config
from agora.pipeline import import_path, rescore
from agora.records import AccountRef, Interaction, Kind, Sentiment
from alerts.history import list_alerts, save_alerts
from alerts.records import Alert, Evidence
from graph.privacy import ERASED, apply_retention, forget_person, pseudonym, pseudonymise_interaction, resolve_person
from graph.store import GraphStore

NOW = datetime(2025, 6, 30, tzinfo=timezone.utc)
GIULIA = AccountRef("tw", "g1", "giulia")
MARCO = AccountRef("tw", "m1", "marco")
ANNA = AccountRef("tw", "a1", "anna")
BRAND = AccountRef("tw", "brand", "CaffeAurora")


def build(store: GraphStore, tmp_path: Path) -> None:
    """Giulia, Marco and Anna talk; Giulia leads their community; two alerts quote Giulia."""
    items = []
    for i in range(6):
        ts = NOW - timedelta(days=60 - i * 10)
        items += [
            Interaction(f"tw:g{i}", "tw", Kind.POST, GIULIA, ts, f"Giulia's post {i} about the X7"),
            Interaction(f"tw:m{i}", "tw", Kind.REPLY, MARCO, ts + timedelta(hours=1), f"@giulia same here ({i})",
                        targets=(GIULIA,), parent_id=f"tw:g{i}"),
            Interaction(f"tw:a{i}", "tw", Kind.REPLY, ANNA, ts + timedelta(hours=2), f"@marco @giulia agreed {i}",
                        targets=(MARCO,), mentions=(GIULIA,), parent_id=f"tw:m{i}"),
        ]
    store.upsert_interactions(items)
    store.set_sentiments([(it.id, Sentiment("negative", 0.8, -0.4)) for it in items], model="test")
    rescore(store, load_config(_empty(tmp_path), environ={}), now=NOW)
    store._write(lambda tx: tx.run("MATCH (c:Community) SET c.label = 'giulia'").consume())
    created = NOW - timedelta(days=5)
    save_alerts(store, [
        Alert("influencer_negative:tw:g1:1", "influencer_negative", "critical", "tw:g1",
              "Influential customer giulia is posting negatively", "mean polarity -0.4",
              (Evidence("tw:g5", "Giulia's post 5 about the X7", NOW - timedelta(days=10), -0.4),), created,
              event_at=created),
        Alert("community_mood_drop:c1:1", "community_mood_drop", "warning", "c1", "The mood around giulia fell",
              "a drop of 0.3", (Evidence("tw:g4", "Giulia's post 4 about the X7", NOW - timedelta(days=20), -0.4),
                                Evidence("tw:m4", "@giulia same here (4)", NOW - timedelta(days=20), -0.4)),
              created, subject_kind="Community", event_at=created),
    ])


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("")
    return path


def test_forget_erases_person_accounts_messages_and_quotes(store: GraphStore, tmp_path: Path) -> None:
    build(store, tmp_path)
    before = store.counts()
    assert resolve_person(store, "tw:g1") == "tw:g1"
    report = forget_person(store, "tw:g1")
    assert report == {"people": 1, "accounts": 1, "messages": 6, "alerts_deleted": 1, "alerts_redacted": 1,
                      "mentions_redacted": 12, "communities_renamed": 1}
    after = store.counts()
    assert after["Person"] == before["Person"] - 1 and after["Message (stored)"] == before["Message (stored)"] - 6
    assert store.fetch("MATCH (n) WHERE n.id = 'tw:g1' OR n.key = 'tw:g1' RETURN n") == []
    texts = [r["t"] for r in store.fetch("MATCH (m:Message) WHERE m.text IS NOT NULL RETURN m.text AS t")]
    assert texts and not any("giulia" in t.lower() for t in texts)
    assert f"{ERASED} same here (0)" in texts
    alerts = list_alerts(store)
    assert [a["id"] for a in alerts] == ["community_mood_drop:c1:1"]
    assert [e["message_id"] for e in alerts[0]["evidence"]] == ["tw:m4"]
    assert store.fetch("MATCH (c:Community) RETURN c.label AS l")[0]["l"] == store.fetch(
        "MATCH (c:Community) RETURN c.id AS i")[0]["i"]
    # idempotent: nothing left to erase, and the graph can be rescored
    assert set(forget_person(store, "tw:g1").values()) == {0}
    assert resolve_person(store, "tw:g1") is None
    rescore(store, load_config(_empty(tmp_path), environ={}), now=NOW)
    assert store.count("Person") == 2


def test_forget_command(store: GraphStore, graph_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agora.cli import app

    build(store, tmp_path)
    path = tmp_path / "cli.yaml"
    path.write_text(f"graph:\n  uri: {graph_server.bolt_uri}\n  database: {graph_server.database}\n")
    monkeypatch.setenv("AGORA_GRAPH__PASSWORD", graph_server.password())
    runner = CliRunner()
    refused = runner.invoke(app, ["--config", str(path), "forget", "tw:m1"], input="n\n")
    assert refused.exit_code == 1 and store.count("Person") == 3
    done = runner.invoke(app, ["--config", str(path), "forget", "tw:m1", "--yes", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["erased"]["messages"] == 6
    missing = runner.invoke(app, ["--config", str(path), "forget", "tw:m1", "--yes"])
    assert missing.exit_code == 1 and "no person or account" in missing.output


def test_pseudonyms_are_stable_keyed_and_keep_the_brand() -> None:
    it = Interaction("tw:1", "tw", Kind.REPLY, GIULIA, NOW, "@marco thanks, and @CaffeAurora too",
                     targets=(MARCO,), mentions=(BRAND,))
    a = pseudonymise_interaction(it, "secret-1", {BRAND.key})
    b = pseudonymise_interaction(it, "secret-1", {BRAND.key})
    c = pseudonymise_interaction(it, "secret-2", {BRAND.key})
    assert a == b and a.actor != c.actor
    assert a.actor == AccountRef("tw", pseudonym("tw:g1", "secret-1"), pseudonym("tw:g1", "secret-1"))
    assert a.mentions == (BRAND,)
    assert a.text == f"@{pseudonym('@marco', 'secret-1')} thanks, and @CaffeAurora too"
    assert "giulia" not in repr(a) and "marco" not in repr(a)


def test_import_pseudonymises_when_configured(store: GraphStore, tmp_path: Path) -> None:
    export = tmp_path / "chat.jsonl"
    rows = [{"id": "tw:1", "platform": "tw", "kind": "reply", "actor": "g1", "actor_handle": "giulia",
             "target": "m1", "timestamp": "2025-06-01T10:00:00Z", "text": "@marco hello"},
            {"id": "tw:2", "platform": "tw", "kind": "reply", "actor": "m1", "actor_handle": "marco",
             "target": "g1", "timestamp": "2025-06-01T10:05:00Z", "text": "@giulia hi"}]
    export.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    path = tmp_path / "config.yaml"
    path.write_text("privacy:\n  pseudonymise_handles: true\n")
    with pytest.raises(ConfigError, match="AGORA_PRIVACY__PSEUDONYM_SECRET"):
        load_config(path, environ={})
    config = load_config(path, environ={"AGORA_PRIVACY__PSEUDONYM_SECRET": "0123"})
    assert config.privacy.pseudonym_secret == "0123"  # a secret stays a string
    assert import_path(store, export, config).new == 2
    assert import_path(store, export, config).new == 0  # stable pseudonyms: re-import adds nothing
    stored = store.fetch("MATCH (a:Account)-[:OF]->(p:Person) RETURN a.key AS key, a.handle AS h, p.name AS n")
    assert {r["key"] for r in stored} == {f"tw:{pseudonym('tw:g1', '0123')}", f"tw:{pseudonym('tw:m1', '0123')}"}
    assert all(r["h"].startswith("anon-") and r["n"].startswith("anon-") for r in stored)
    texts = " ".join(r["t"] for r in store.fetch("MATCH (m:Message) RETURN m.text AS t"))
    assert "giulia" not in texts and "marco" not in texts and "@anon-" in texts


def test_retention_drops_old_text_and_keeps_aggregates(store: GraphStore, tmp_path: Path) -> None:
    build(store, tmp_path)
    config = load_config(_empty(tmp_path), environ={})
    scores_before = store.fetch("MATCH (p:Person) RETURN p.id AS id, p.influence AS i, p.sentiment_mean AS s ORDER BY id")
    edges_before = store.fetch("MATCH (a)-[e:INTERACTS]->(b) RETURN a.id AS a, b.id AS b, e.weight AS w ORDER BY a, b")
    report = apply_retention(store, 25, now=NOW)
    assert report == {"messages": 12, "alert_quotes": 0}  # messages 30+ days old; the quotes are newer
    old = store.fetch("MATCH (m:Message) WHERE m.ts < datetime($c) RETURN m.text AS t, m.polarity AS p, "
                      "m.sentiment AS s", c=(NOW - timedelta(days=25)).isoformat())
    assert len(old) == 12 and all(r["t"] is None and r["p"] == -0.4 and r["s"] == "negative" for r in old)
    assert store.fetch("MATCH (m:Message) WHERE m.ts >= datetime($c) AND m.text IS NULL RETURN m",
                       c=(NOW - timedelta(days=25)).isoformat()) == []
    assert apply_retention(store, 25, now=NOW) == {"messages": 0, "alert_quotes": 0}
    assert apply_retention(store, 15, now=NOW) == {"messages": 3, "alert_quotes": 2}
    assert all(e["text"] is None for a in list_alerts(store) for e in a["evidence"]
               if e["ts"] < NOW - timedelta(days=15))
    rescore(store, config, now=NOW)
    assert store.fetch("MATCH (p:Person) RETURN p.id AS id, p.influence AS i, p.sentiment_mean AS s ORDER BY id") \
        == scores_before
    assert store.fetch("MATCH (a)-[e:INTERACTS]->(b) RETURN a.id AS a, b.id AS b, e.weight AS w ORDER BY a, b") \
        == edges_before
    with pytest.raises(ValueError):
        apply_retention(store, 0)


def test_retention_command_needs_a_period(store: GraphStore, graph_server, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from agora.cli import app

    path = tmp_path / "cli.yaml"
    path.write_text(f"graph:\n  uri: {graph_server.bolt_uri}\n  database: {graph_server.database}\n")
    monkeypatch.setenv("AGORA_GRAPH__PASSWORD", graph_server.password())
    runner = CliRunner()
    missing = runner.invoke(app, ["--config", str(path), "retention"])
    assert missing.exit_code == 2 and "--days" in missing.output
    build(store, tmp_path)
    done = runner.invoke(app, ["--config", str(path), "retention", "--days", "1", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["messages"] == 18  # everything: the test data is from 2025
