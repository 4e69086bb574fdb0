"""rescore_batch: an incremental rescore after a batch agrees with a full rescore of all the events.

Tolerances (checked below, against a full ``score`` of all the events given
the incremental run's communities): every figure equal, except the global
PageRank (warm-started: the same fixed point within the power iteration's
tolerance, L1 distance < 1e-5) and the unrounded sway shifts (< 1e-12). Against
a full rescore that runs Leiden again, communities may differ only for people
the batch touched: everyone else keeps their previous community.
"""

from __future__ import annotations

import igraph as ig
import numpy as np
import pytest

from benchmarks.synthetic import interaction_columns
from graph.incremental import rescore_batch
from graph.messages import MessageRow
from graph.projection import EdgeEvent, EventColumns
from graph.scoring import ScoreResult, score

W = {"share": 2.0, "quote": 1.5, "reply": 1.0, "mention": 0.5, "message": 1.0, "reaction": 0.3, "post": 0.0}


def _nmi(a: dict[str, str], b: dict[str, str]) -> float:
    people = sorted(set(a) & set(b))
    ids_a = {c: i for i, c in enumerate(sorted(set(a.values())))}
    ids_b = {c: i for i, c in enumerate(sorted(set(b.values())))}
    return ig.compare_communities([ids_a[a[p]] for p in people], [ids_b[b[p]] for p in people], method="nmi")


def _assert_agrees(inc: ScoreResult, full: ScoreResult) -> None:
    assert inc.people.keys() == full.people.keys()
    ids = sorted(full.people)
    pr_inc = np.array([inc.people[i].pagerank for i in ids])
    pr_full = np.array([full.people[i].pagerank for i in ids])
    assert np.abs(pr_inc - pr_full).sum() < 1e-5
    for i in ids:
        a, b = inc.people[i], full.people[i]
        for name in a.__slots__:
            if name != "pagerank":
                assert getattr(a, name) == getattr(b, name), (i, name, getattr(a, name), getattr(b, name))
    assert {c.id: (c.size, sorted(c.members), c.sentiment_mean) for c in inc.communities.values()} == \
        {c.id: (c.size, sorted(c.members), c.sentiment_mean) for c in full.communities.values()}
    # the projection: the same pairs, weights decayed forward to float rounding
    key = lambda r: {(r.projection.nodes[s], r.projection.nodes[d]): (w, c)  # noqa: E731
                     for s, d, w, c in zip(r.projection.src.tolist(), r.projection.dst.tolist(),
                                           r.projection.weight.tolist(), r.projection.count.tolist())}
    ki, kf = key(inc), key(full)
    assert ki.keys() == kf.keys()
    assert all(ki[p][1] == kf[p][1] and abs(ki[p][0] - kf[p][0]) <= 1e-12 * kf[p][0] for p in kf)
    assert np.array_equal(inc.sway.event, full.sway.event)
    assert np.abs(inc.sway.shift - full.sway.shift).max(initial=0.0) < 1e-12


def test_rescore_batch_matches_a_full_rescore_and_keeps_untouched_communities() -> None:
    cols = interaction_columns(30_000, 3_000, seed=5)
    base, batch = cols[:-300], cols[-300:]
    at = batch[0].timestamp
    newcomers = EventColumns.from_events([EdgeEvent(f"new{i}", "p7", "reply", at, 0.2, f"n{i}") for i in range(20)]
                                         + [EdgeEvent("loner1", "loner2", "reply", at, -0.4, "l1"),
                                            EdgeEvent("loner2", "loner1", "reply", at, 0.1, "l2")])
    batch = batch.concat(newcomers)
    first = score(base, weights=W)
    inc = rescore_batch(first, batch, weights=W, max_changed_share=0.25)
    assert inc.mode == "incremental" and 0 < inc.share <= 0.25
    everything = base.concat(batch)
    _assert_agrees(inc.result, score(everything, weights=W, assignment=inc.result.state.assignment))

    touched = {e.source for e in batch} | {e.target for e in batch}
    before = first.state.assignment
    after = inc.result.state.assignment
    assert all(after[p] == c for p, c in before.items() if p not in touched)
    assert inc.result.people["new3"].community == inc.result.people["p7"].community  # placed by neighbours
    assert inc.result.people["loner1"].community == inc.result.people["loner2"].community not in before.values()
    leiden = score(everything, weights=W, previous_communities=before)
    nmi = _nmi(after, leiden.state.assignment)
    moved = sum(after.get(p) != c for p, c in before.items())
    print(f"rescore_batch vs full (Leiden again): NMI {nmi:.3f}; touched {inc.touched} ({inc.share:.1%}), "
          f"{moved} of them changed community")
    assert nmi >= 0.9


def test_batches_chain_and_big_batches_or_foreign_inputs_fall_back_to_a_full_rescore() -> None:
    cols = interaction_columns(12_000, 1_200, seed=8)
    first = score(cols[:11_000], weights=W)
    one = rescore_batch(first, cols[11_000:11_100], weights=W, max_changed_share=0.3)
    two = rescore_batch(one.result, list(cols[11_100:11_200]), weights=W, max_changed_share=0.3)  # objects too
    assert (one.mode, two.mode) == ("incremental", "incremental")
    _assert_agrees(two.result, score(cols[:11_200], weights=W, assignment=two.result.state.assignment))

    big = rescore_batch(first, cols[11_000:], weights=W, max_changed_share=0.01)
    assert big.mode == "full" and big.share > 0.01
    assert big.result.people == score(cols, weights=W, previous_communities=first.state.assignment).people
    rows = [MessageRow(f"m{i}", e.source, e.timestamp, e.polarity) for i, e in enumerate(cols[:11_000])]
    given = score(cols[:11_000], weights=W, messages=rows)  # its messages came from elsewhere: cannot extend them
    assert rescore_batch(given, cols[11_000:11_100], weights=W, max_changed_share=0.3).mode == "full"


@pytest.mark.parametrize("share", [0.0, 0.01])
def test_an_empty_or_tiny_batch_changes_only_what_decay_moves(share: float) -> None:
    cols = interaction_columns(5_000, 500, seed=9)
    cut = len(cols) - int(len(cols) * share)
    first = score(cols[:cut], weights=W)
    inc = rescore_batch(first, cols[cut:], weights=W, max_changed_share=0.3)
    assert inc.mode == "incremental"
    _assert_agrees(inc.result, score(cols, weights=W, assignment=inc.result.state.assignment))


def test_messages_given_from_elsewhere_posts_included_are_extended_by_the_batchs_own() -> None:
    # the store's way: every message (posts addressing nobody too) given apart from the interactions
    cols = interaction_columns(12_000, 1_200, seed=8)
    rows = [MessageRow(f"m{i}", e.source, e.timestamp, e.polarity) for i, e in enumerate(cols)]
    names = cols.names
    posts = [MessageRow(f"post{i}", names[i % 50], cols[10_000 + 40 * i].timestamp, 0.5 if i % 2 else None)
             for i in range(40)]
    at = cols[11_050].timestamp
    newcomer = [MessageRow("alone1", "poster", at, -0.6), MessageRow("alone2", "poster", at, None)]
    old_msgs, new_msgs = rows[:11_000] + posts[:20], rows[11_000:11_100] + posts[20:] + newcomer
    first = score(cols[:11_000], weights=W, messages=old_msgs)
    inc = rescore_batch(first, cols[11_000:11_100], weights=W, max_changed_share=0.3, messages=new_msgs,
                        people=["poster"])
    assert inc.mode == "incremental" and inc.result.people["poster"].sentiment_mean == -0.6
    full = score(cols[:11_100], weights=W, messages=old_msgs + new_msgs, people=["poster"],
                 assignment=inc.result.state.assignment)
    _assert_agrees(inc.result, full)
    # the batch's messages are needed: without them it cannot extend the given ones
    assert rescore_batch(first, cols[11_000:11_100], weights=W, max_changed_share=0.3).mode == "full"
    # and the full fallback gets every message, the earlier ones rebuilt from the arrays
    big = rescore_batch(first, cols[11_000:11_100], weights=W, max_changed_share=0.001, messages=new_msgs,
                        people=["poster"])
    assert big.mode == "full"
    assert big.result.people == score(cols[:11_100], weights=W, messages=old_msgs + new_msgs, people=["poster"],
                                      previous_communities=first.state.assignment).people
