"""Sway, churn, explanations, outreach and incremental rescoring: pure functions and against a real graph server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import igraph as ig
import numpy as np
import pytest
from scipy.stats import spearmanr

from agora.config import Config
from agora.pipeline import rescore
from agora.records import AccountRef, Interaction, Kind, Sentiment
from benchmarks.synthetic import interactions
from graph.churn import FACTORS, ChurnModel, churn_factors, fit
from graph.churn_labels import fit_labels
from graph.explain import PersonNotFound, explain_person
from graph.incremental import score_incremental
from graph.messages import MessageRow, message_arrays
from graph.outreach import outreach
from graph.projection import EdgeEvent
from graph.scoring import score
from graph.store import GraphStore
from graph.sway import response_arrays, sway

T = datetime(2025, 6, 1, tzinfo=timezone.utc)
W = {"share": 2.0, "quote": 1.5, "reply": 1.0, "mention": 0.5, "message": 1.0, "reaction": 0.3, "post": 0.0}


def _nmi(a: dict[str, str], b: dict[str, str]) -> float:
    people = sorted(set(a) & set(b))
    ids_a = {c: i for i, c in enumerate(sorted(set(a.values())))}
    ids_b = {c: i for i, c in enumerate(sorted(set(b.values())))}
    return ig.compare_communities([ids_a[a[p]] for p in people], [ids_b[b[p]] for p in people], method="nmi")


# -- sway -------------------------------------------------------------------------------------


def test_sway_credits_the_person_others_move_toward_not_the_one_they_merely_answer() -> None:
    """``lead`` is cheerful and fans warm up when answering; ``desk`` is answered as often, moves nobody."""
    msgs, events = [], []
    for k in range(10):
        t = T + timedelta(days=k)
        msgs += [MessageRow(f"l{k}", "lead", t, 0.9), MessageRow(f"d{k}", "desk", t, -0.8)]
        for f in range(4):
            fan = f"fan{f}"
            msgs += [MessageRow(f"b{k}{f}{j}", fan, t + timedelta(minutes=10 + j), -0.2)  # their usual mood
                     for j in range(10)]
            for who, pol in (("lead", 0.3), ("desk", -0.2)):
                mid = f"r{k}{f}{who}"
                at = t + timedelta(minutes=30 + (who == "desk"))
                msgs.append(MessageRow(mid, fan, at, pol))
                events.append(EdgeEvent(fan, who, "reply", at, pol, mid))
    index = {p: i for i, p in enumerate(["lead", "desk", "fan0", "fan1", "fan2", "fan3"])}
    r = sway(response_arrays(events, index), message_arrays(msgs, index, 6), 6)
    assert r.sway_n[0] == 40 and r.sway[0] > 0.3
    assert r.sway_n[1] == 40 and abs(r.sway[1]) < 0.05
    assert (r.susceptibility[2:] > 0).all()


def test_a_response_outside_the_window_or_without_baseline_is_not_evidence() -> None:
    index = {"a": 0, "b": 1}
    msgs = [MessageRow("a1", "a", T, 0.9), MessageRow("b1", "b", T + timedelta(days=5), 0.5)]
    ev = [EdgeEvent("b", "a", "reply", T + timedelta(days=5), 0.5, "b1")]
    r = sway(response_arrays(ev, index), message_arrays(msgs, index, 2), 2, window_hours=48)
    assert r.sway_n.tolist() == [0, 0]  # a spoke 5 days earlier, and b has no other message


# -- churn ------------------------------------------------------------------------------------


def test_churn_factors_see_silence_falling_mood_negatives_and_negative_neighbours() -> None:
    now = T + timedelta(days=120)
    rows = []
    for d in range(30, 120, 3):  # all three talk steadily before the last 30 days
        for p, pol in (("quiet", 0.5), ("sour", 0.5), ("steady", 0.4)):
            rows.append(MessageRow(f"{p}{d}", p, now - timedelta(days=d), pol))
    for d in range(0, 30, 3):
        rows.append(MessageRow(f"sour-{d}", "sour", now - timedelta(days=d), -0.8))
        rows.append(MessageRow(f"steady-{d}", "steady", now - timedelta(days=d), 0.4))
    index = {"quiet": 0, "sour": 1, "steady": 2}
    f = churn_factors(message_arrays(rows, index, 3), 3, now=now.timestamp(), src=np.array([2]), dst=np.array([1]),
                      weight=np.array([1.0]), influence=np.array([0.5, 1.0, 0.5]))
    col = {name: i for i, name in enumerate(FACTORS)}
    assert f[0, col["activity_drop"]] == pytest.approx(1.0)        # went silent
    assert f[1, col["activity_drop"]] == pytest.approx(0.0)
    assert f[1, col["sentiment_drop"]] == pytest.approx(1.0)       # +0.5 → −0.8, capped at 1
    assert f[1, col["recent_negative"]] == pytest.approx(1.0)
    assert f[2, col["negative_exposure"]] == pytest.approx(0.8)    # only talks with sour
    assert f[2, :3].tolist() == pytest.approx([0.0, 0.0, 0.0])
    risk = ChurnModel().risk(f)
    assert risk[2] < risk[0] and risk[2] < risk[1] and ((0 <= risk) & (risk <= 1)).all()


def test_fitted_churn_weights_beat_the_formula_when_the_labels_follow_other_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.random((600, 4))
    truth = 1 / (1 + np.exp(-(-2.0 + 4.0 * x[:, 3] - 1.0 * x[:, 0])))  # exposure drives churn here, activity not
    y = (rng.random(600) < truth).astype(int)
    model = fit(x, y)
    print(f"churn AUC: fitted cv {model['cv_auc']:.3f} in-sample {model['auc']:.3f}, formula {model['formula_auc']:.3f}")
    assert model["cv_auc"] > model["formula_auc"] + 0.05
    assert model["coefficients"]["negative_exposure"] > 2.0
    path = tmp_path / "w.json"
    path.write_text(json.dumps(model))
    loaded = ChurnModel.load(path)
    assert loaded.intercept == pytest.approx(model["intercept"])
    with pytest.raises(ValueError, match="not a churn weights file"):
        (tmp_path / "bad.json").write_text("{}")
        ChurnModel.load(tmp_path / "bad.json")


# -- incremental ------------------------------------------------------------------------------


def test_incremental_rescore_after_a_small_batch_agrees_with_a_full_rescore() -> None:
    events = list(interactions(30_000, 3_000, seed=5))
    base, batch = events[:-300], events[-300:]
    batch += [EdgeEvent(f"new{i}", "p7", "reply", batch[0].timestamp, 0.2, f"n{i}") for i in range(20)]
    first = score(base, weights=W)
    previous_counts = {(e["source"], e["target"]): e["count"] for e in first.projection.edges()}
    prev_comm = {p.id: p.community for p in first.people.values() if p.community}
    prev_rank = {p.id: p.pagerank for p in first.people.values()}
    full = score(base + batch, weights=W, previous_communities=prev_comm)
    inc = score_incremental(base + batch, previous_counts=previous_counts, previous_communities=prev_comm,
                            previous_rank=prev_rank, weights=W, max_changed_share=0.25)
    assert inc.mode == "incremental" and 0 < inc.share <= 0.25
    a = {p.id: p.community for p in inc.result.people.values() if p.community}
    b = {p.id: p.community for p in full.people.values() if p.community}
    ids = sorted(full.people)
    pr_inc = np.array([inc.result.people[i].pagerank for i in ids])
    pr_full = np.array([full.people[i].pagerank for i in ids])
    ci = [i for i in ids if inc.result.people[i].community_influence is not None]
    rho = spearmanr([inc.result.people[i].community_influence for i in ci],
                    [full.people[i].community_influence for i in ci]).statistic
    nmi = _nmi(a, b)
    print(f"incremental vs full: NMI {nmi:.3f}, max |Δpagerank| {np.abs(pr_inc - pr_full).max():.2e}, "
          f"community influence Spearman {rho:.3f}, touched {inc.touched} ({inc.share:.1%})")
    # the same PageRank fixed point, both within the power iteration's tolerance (L1 change < n × 1e-10)
    assert np.abs(pr_inc - pr_full).sum() < 1e-5
    assert spearmanr([inc.result.people[i].influence for i in ids], [full.people[i].influence for i in ids]).statistic > 0.999
    assert nmi >= 0.9 and rho >= 0.9
    assert inc.result.people["new3"].community == inc.result.people["p7"].community  # placed by neighbours
    assert inc.result.people["p7"].churn_factors == full.people["p7"].churn_factors
    big = score_incremental(base + batch, previous_counts=previous_counts, previous_communities=prev_comm,
                            previous_rank=prev_rank, weights=W, max_changed_share=0.01)
    assert big.mode == "full"


# -- against the graph ------------------------------------------------------------------------


def _acc(i: int | str) -> AccountRef:
    return AccountRef("twitter", str(i), f"user{i}")


def _world() -> tuple[list[Interaction], dict[str, float]]:
    """``user0`` is answered by everyone and has turned negative; the others chat in a ring."""
    its, polarity = [], {}
    n = 20
    for day in range(0, 100, 5):
        t = T + timedelta(days=day)
        lead = f"twitter:l{day}"
        its.append(Interaction(lead, "twitter", Kind.POST, _acc(0), t, "news"))
        polarity[lead] = 0.6 if day < 70 else -0.7
        for i in range(1, n):
            mid = f"twitter:r{day}-{i}"
            its.append(Interaction(mid, "twitter", Kind.REPLY, _acc(i), t + timedelta(hours=1 + i / 10),
                                   "re", targets=(_acc(0),), parent_id=lead))
            polarity[mid] = 0.2
            if i < n - 1:
                ring = f"twitter:c{day}-{i}"
                its.append(Interaction(ring, "twitter", Kind.MENTION, _acc(i), t + timedelta(hours=2),
                                       "hey", mentions=(_acc(i + 1),)))
                polarity[ring] = 0.1
    return its, polarity


def _classify(store: GraphStore, polarity: dict[str, float]) -> None:
    store.set_sentiments([(mid, Sentiment("positive" if p > 0 else "negative", 0.9, p))
                          for mid, p in polarity.items()], model="test")


def test_rescore_writes_the_contract_properties_and_explain_and_outreach_read_them(
        store: GraphStore, tmp_path: Path) -> None:
    its, polarity = _world()
    store.upsert_interactions(its)
    _classify(store, polarity)
    config = Config(scoring={"churn": {"weights_file": tmp_path / "none.json"}})
    report = rescore(store, config)
    assert report.mode == "full"
    rows = store.fetch("MATCH (p:Person) RETURN p.id AS id, p.sway AS sway, p.susceptibility AS sus, "
                       "p.churn_risk AS risk, p.churn_factors AS factors, p.influence AS influence, "
                       "p.community_influence AS ci, p.community AS community, p.intensity AS intensity, "
                       "p.sentiment_mean AS mood, p.sway_n AS sway_n, p.susceptibility_n AS sus_n")
    assert len(rows) == 20
    for r in rows:
        assert isinstance(r["sway"], float) and isinstance(r["sus"], float)
        assert 0.0 <= r["risk"] <= 1.0
        assert set(json.loads(r["factors"])) == set(FACTORS)
        assert None not in (r["influence"], r["community"], r["intensity"])
    lead = next(r for r in rows if r["id"] == "twitter:0")
    assert lead["influence"] == 100.0 and lead["sway_n"] > 0

    data = explain_person(store, "@user0", config=config)
    assert data["person"]["id"] == "twitter:0"
    assert data["scores"]["influence"] == 100.0 and data["scores"]["churn_risk"] == lead["risk"]
    assert len(data["contributors"]["in"]) == 10 and data["contributors"]["in"][0]["share"] > 0
    assert data["counts"] == {"sent": {"post": 20}, "received": {"reply": 380}}
    assert [m["polarity"] for m in data["sentiment_trail"]][-1] == pytest.approx(-0.7)
    assert len(data["sentiment_trail"]) == 20
    assert data["churn"]["factors"]["recent_negative"] == 1.0 and data["churn"]["model"] == "formula"
    assert sum(data["churn"]["parts"].values()) == pytest.approx(lead["risk"], abs=1e-3)
    assert data["sway_evidence"]["responses_to_them"]
    json.dumps(data)  # JSON-ready
    with pytest.raises(PersonNotFound):
        explain_person(store, "nobody", config=config)
    with pytest.raises(KeyError):
        explain_person(store, "twitter:999", config=config)

    todo = outreach(store, config=config, limit=5)
    assert todo and todo[0]["id"] == "twitter:0" and todo[0]["action"] == "calm"
    assert "negative" in todo[0]["reason"] and len(todo) <= 5
    assert all(set(t) >= {"id", "name", "action", "reason", "priority"} for t in todo)


def test_churn_fit_reads_labels_skips_bad_rows_and_saves_weights(store: GraphStore, tmp_path: Path) -> None:
    its, polarity = _world()
    store.upsert_interactions(its)
    _classify(store, polarity)
    config = Config(scoring={"churn": {"weights_file": tmp_path / "w.json"}})
    rescore(store, config)
    labels = tmp_path / "labels.csv"
    lines = ["person_id,churned"] + [f"twitter:{i},{int(i % 3 == 0)}" for i in range(20)]
    labels.write_text("\n".join(lines + ["twitter:404,1", "twitter:5,maybe", "@user7,0"]) + "\n")
    report = fit_labels(store, labels, weights_file=config.scoring.churn.weights_file)
    reasons = sorted(str(i) for i in report.issues)
    assert any(":22: no person 'twitter:404'" in r for r in reasons)
    assert any(":23: churned must be 0 or 1" in r for r in reasons)
    assert any(":24:" in r and "labelled twice" in r for r in reasons)
    assert report.model["labels"] == 20
    saved = json.loads(Path(report.saved_to).read_text())
    assert set(saved["coefficients"]) == set(FACTORS)
    assert ChurnModel.load(config.scoring.churn.weights_file).intercept is not None
    rescore(store, config)  # the fitted model is used from now on
    assert explain_person(store, "twitter:0", config=config)["churn"]["model"] == "fitted"


def test_incremental_rescore_through_the_pipeline(store: GraphStore, tmp_path: Path) -> None:
    its, polarity = _world()
    store.upsert_interactions(its)
    _classify(store, polarity)
    config = Config(scoring={"churn": {"weights_file": tmp_path / "none.json"}, "incremental": {"max_changed_share": 0.5}})
    assert rescore(store, config, incremental=True).mode == "full"  # nothing to build on yet
    before = {r["id"]: r["c"] for r in store.fetch("MATCH (p:Person) RETURN p.id AS id, p.community AS c")}
    late = T + timedelta(days=101)
    store.upsert_interactions([Interaction("twitter:late", "twitter", Kind.REPLY, _acc("new"), late, "hi",
                                           targets=(_acc(3),))])
    report = rescore(store, config, incremental=True)
    assert report.mode == "incremental" and report.touched == 2
    after = {r["id"]: r["c"] for r in store.fetch("MATCH (p:Person) RETURN p.id AS id, p.community AS c")}
    assert {k: after[k] for k in before} == before
    assert after["twitter:new"] == after["twitter:3"]


@pytest.mark.slow
def test_the_cli_explains_lists_outreach_fits_churn_and_rescores_incrementally(
        store: GraphStore, graph_server: Any, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import yaml

    from tests.conftest import REPO

    its, polarity = _world()
    store.upsert_interactions(its)
    _classify(store, polarity)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"graph": {"uri": graph_server.bolt_uri, "user": "root",
                                             "database": graph_server.database},
                                   "scoring": {"churn": {"weights_file": "weights.json"}}}))
    env = {**os.environ, "AGORA_GRAPH__PASSWORD": graph_server.password()}

    def agora(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agora.cli", "--config", str(cfg), *args], capture_output=True,
                              text=True, timeout=300, cwd=REPO, env=env)

    done = agora("score")
    assert done.returncode == 0, done.stderr
    assert "(full)" in done.stdout
    explained = json.loads(agora("explain", "@user0", "--json").stdout)
    assert explained["person"]["id"] == "twitter:0" and explained["churn"]["factors"]
    missing = agora("explain", "nobody")
    assert missing.returncode == 1 and "no person with id, account key or handle 'nobody'" in missing.stderr
    todo = json.loads(agora("outreach", "--json", "--limit", "3").stdout)
    assert todo[0]["action"] == "calm" and len(todo) <= 3
    labels = tmp_path / "labels.csv"
    labels.write_text("person_id,churned\n" + "".join(f"twitter:{i},{int(i < 5)}\n" for i in range(20)))
    fitted = agora("churn", "fit", str(labels))
    assert fitted.returncode == 0, fitted.stderr
    assert "AUC fitted" in fitted.stdout and "formula" in fitted.stdout and (tmp_path / "weights.json").is_file()
    bad = tmp_path / "bad.csv"
    bad.write_text("who,churned\nx,1\n")
    refused = agora("churn", "fit", str(bad))
    assert refused.returncode == 2 and "missing column(s) person_id" in refused.stderr
    again = agora("score", "--incremental")
    assert again.returncode == 0 and "(incremental, 0 people touched)" in " ".join(again.stdout.split()), again.stderr
