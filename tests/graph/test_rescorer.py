"""A worker's rescore builds on its last one: it reads only what was written since, against the real graph server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agora.config import Config
from agora.pipeline import Rescorer, _model_options
from agora.records import AccountRef, Interaction, Kind, Sentiment
from benchmarks.synthetic import interactions
from graph.identity import merge
from graph.projection import EdgeEvent, EventColumns
from graph.scoring import score
from graph.store import GraphStore


def _acc(person: str) -> AccountRef:
    return AccountRef("twitter", person, f"@{person}")


def _records(events: list[EdgeEvent]) -> list[Interaction]:
    out = []
    for e in events:
        aimed = {"targets": (_acc(e.target),)} if e.kind != "mention" else {"mentions": (_acc(e.target),)}
        out.append(Interaction(f"twitter:{e.message_id}", "twitter", Kind(e.kind), _acc(e.source), e.timestamp,
                               "text", **aimed))
    return out


def _classify(store: GraphStore, polarity: dict[str, float]) -> None:
    store.set_sentiments([(mid, Sentiment("positive" if p > 0 else "negative", 0.9, p))
                          for mid, p in polarity.items()], model="test")


class _Reads:
    """Counts the store's reads of scoring rows (and the message ids the interactions were read for)."""

    def __init__(self, store: GraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, Any]] = []
        for name in ("edge_rows", "message_rows", "people", "changed_messages"):
            real = getattr(store, name)

            def spy(*args: Any, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
                out = _real(*args, **kwargs)
                out = list(out) if _name == "edge_rows" else out
                self.calls.append((_name, (args, len(out))))
                return iter(out) if _name == "edge_rows" else out

            monkeypatch.setattr(store, name, spy)


def test_a_workers_rescore_reads_only_new_rows_and_scores_as_a_full_rescore(
        store: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = list(interactions(2_000, 200, seed=4))
    old, new = events[:1_960], events[1_960:]
    store.upsert_interactions(_records(old))
    _classify(store, {f"twitter:{e.message_id}": e.polarity for e in old})
    config = Config(scoring={"churn": {"weights_file": tmp_path / "none.json"},
                             "incremental": {"max_changed_share": 0.5}})
    rescorer = Rescorer(overlap_ms=0)  # no overlap to read again: this test's writes are all a second apart
    assert rescorer.rescore(store, config).mode == "full"

    at = new[-1].timestamp
    post = Interaction("twitter:post1", "twitter", Kind.POST, _acc("newcomer"), at, "hello")  # addresses nobody
    reply = Interaction("twitter:reply1", "twitter", Kind.REPLY, _acc("newcomer"), at + timedelta(minutes=1), "hi",
                        targets=(_acc("p3"),))
    store.upsert_interactions([*_records(new), post, reply])
    _classify(store, {**{f"twitter:{e.message_id}": e.polarity for e in new}, "twitter:post1": 0.4,
                      "twitter:reply1": -0.2})
    reads = _Reads(store, monkeypatch)
    report = rescorer.rescore(store, config)
    assert report.mode == "incremental"
    new_ids = sorted([f"twitter:{e.message_id}" for e in new] + ["twitter:post1", "twitter:reply1"])
    # only the new rows: the messages written since, then the interactions of exactly those messages
    # (in production the last OVERLAP_MS are read again too, and what was read before dropped)
    assert [c[0] for c in reads.calls] == ["changed_messages", "edge_rows"]
    assert reads.calls[0][1][1] == len(new_ids)
    (ids,), read = reads.calls[1][1][0], reads.calls[1][1][1]
    assert sorted(ids) == new_ids and read == len(new) + 1
    result = report.result
    assert result.people["twitter:newcomer"].sentiment_mean == pytest.approx(0.1)

    # a full rescore of everything in the store, given the same communities: the same figures
    rows = list(store.edge_rows())
    people = [p["id"] for p in store.people() if not p["brand"]]
    s = config.scoring
    full = score(EventColumns.from_events(rows), people=people, weights=s.weights, half_life_days=s.half_life_days,
                 messages=store.message_rows(), assignment=result.state.assignment, **_model_options(config))
    assert result.people.keys() == full.people.keys()
    ids = sorted(full.people)
    assert np.abs(np.array([result.people[i].pagerank for i in ids])
                  - np.array([full.people[i].pagerank for i in ids])).sum() < 1e-5
    for i in ids:
        a, b = result.people[i], full.people[i]
        for name in a.__slots__:
            if name != "pagerank":
                assert getattr(a, name) == getattr(b, name), (i, name)
    # and it wrote them, with the counts and mood the store itself gives
    stored = {r["id"]: r for r in store.fetch("MATCH (p:Person) RETURN p.id AS id, p.influence AS influence, "
                                              "p.community AS community, p.messages AS messages, "
                                              "p.sentiment_mean AS mood")}
    own = {p["id"]: p for p in store.people()}
    for i in ids:
        assert stored[i]["influence"] == result.people[i].influence
        assert stored[i]["community"] == result.people[i].community
        assert stored[i]["messages"] == own[i]["messages"]
        assert stored[i]["mood"] == pytest.approx(own[i]["sentiment_mean"], abs=1e-12)
    # the projection: the pairs the batch changed written, the others decayed in place
    pairs = {(r["s"], r["t"]): (r["w"], r["c"]) for r in store.fetch(
        "MATCH (a:Person)-[e:INTERACTS]->(b:Person) RETURN a.id AS s, b.id AS t, e.weight AS w, e.count AS c")}
    expected = {(e["source"], e["target"]): (e["weight"], e["count"]) for e in result.projection.edges()}
    assert pairs.keys() == expected.keys()
    assert all(pairs[k][1] == c and abs(pairs[k][0] - w) <= 1e-12 * w for k, (w, c) in expected.items())


def test_a_workers_rescore_is_a_full_one_when_it_cannot_build_on_the_last(store: GraphStore, tmp_path: Path) -> None:
    events = list(interactions(1_000, 100, seed=6))
    store.upsert_interactions(_records(events))
    _classify(store, {f"twitter:{e.message_id}": e.polarity for e in events})
    config = Config(scoring={"churn": {"weights_file": tmp_path / "none.json"},
                             "incremental": {"max_changed_share": 0.5}})
    rescorer = Rescorer()
    assert rescorer.rescore(store, config).mode == "full"
    assert rescorer.rescore(store, config).mode == "incremental"  # nothing new: decay only

    at = events[-1].timestamp
    store.upsert_interactions([Interaction("twitter:late", "twitter", Kind.REPLY, _acc("p1"), at, "x",
                                           targets=(_acc("p2"),))])
    assert rescorer.rescore(store, config).mode == "incremental"  # read before it was classified
    _classify(store, {"twitter:late": 0.5})
    assert rescorer.rescore(store, config).mode == "full"  # ... so its polarity changed under the last result
    _classify(store, {f"twitter:{events[0].message_id}": -0.9})
    assert rescorer.rescore(store, config).mode == "full"  # an older message written again
    merge(store, "twitter:p1", "twitter:p2")
    assert rescorer.rescore(store, config).mode == "full"  # people merged: the cursor says so
    assert rescorer.rescore(store, config).mode == "incremental"
    other = Config(scoring={"churn": {"weights_file": tmp_path / "none.json"}, "resolution": 2.0,
                            "incremental": {"max_changed_share": 0.5}})
    assert rescorer.rescore(store, other).mode == "full"  # other options
    every = Config(scoring={"churn": {"weights_file": tmp_path / "none.json"},
                            "incremental": {"max_changed_share": 0.5, "full_every_s": 0}})
    assert rescorer.rescore(store, every).mode == "full"
