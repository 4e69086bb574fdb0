"""The store's two write paths (CREATE for new messages, MERGE for stored ones) give one graph."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from agora.records import AccountRef, Interaction, Kind
from benchmarks.harness import expected_counts, graph_counts
from benchmarks.synthetic import write_source
from graph.store import GraphStore
from listening.importer import read_path

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)


def _source(tmp_path: Path, n: int = 1200) -> list[Interaction]:
    files = write_source(tmp_path / "src", n, people=60, files=1, seed=11)
    return [i for i in read_path(files[0], "jsonl") if isinstance(i, Interaction)]


def test_overlapping_batches_in_any_order_give_the_exact_graph(store: GraphStore, tmp_path: Path) -> None:
    """Parents arrive after their replies (placeholders first), batches overlap and repeat: every message,
    account and relationship is there exactly once."""
    items = _source(tmp_path)
    expected = expected_counts(items)
    shuffled = items[:]
    random.Random(3).shuffle(shuffled)
    store.batch_size = 100
    assert store.upsert_interactions(shuffled[:700]) == 700
    assert store.upsert_interactions(shuffled[500:]) == len(items) - 700  # 200 already stored
    assert store.upsert_interactions(items) == 0
    assert graph_counts(store, list(expected)) == expected
    row = store.fetch("MATCH (a:Account)-[:POSTED]->(m:Message {id: $id}) RETURN a.key AS a, m.kind AS k, "
                      "m.text AS t, m.ts AS ts", id=items[5].id)[0]
    assert (row["a"], row["k"], row["t"]) == (items[5].actor.key, items[5].kind.value, items[5].text)
    assert row["ts"].to_native() == items[5].timestamp


def test_accounts_keep_their_person_and_take_new_handles(store: GraphStore) -> None:
    a, b = AccountRef("x", "1"), AccountRef("x", "2")

    def say(i: int, actor: AccountRef, target: AccountRef) -> Interaction:
        return Interaction(id=f"x:{i}", platform="x", kind=Kind.REPLY, actor=actor, targets=(target,),
                           timestamp=T0 + timedelta(minutes=i))

    store.upsert_interactions([say(1, a, b)])
    # identity resolution moved account 2 to another person
    store._write(lambda tx: tx.run("MATCH (acc:Account {key: 'x:2'})-[r:OF]->() DELETE r "
                                   "MERGE (p:Person {id: 'crm:9'}) WITH acc, p MERGE (acc)-[:OF]->(p)").consume())
    store.upsert_interactions([say(2, b, a), say(3, AccountRef("x", "2", "bee"), a)], brand_accounts=["x:1"])
    owners = {r["a"]: r["p"] for r in store.fetch("MATCH (a:Account)-[:OF]->(p:Person) RETURN a.key AS a, p.id AS p")}
    assert owners == {"x:1": "x:1", "x:2": "crm:9"}
    accounts = {r["k"]: (r["h"], r["b"]) for r in store.fetch("MATCH (a:Account) RETURN a.key AS k, a.handle AS h, "
                                                               "a.brand AS b")}
    assert accounts == {"x:1": (None, True), "x:2": ("bee", False)}
