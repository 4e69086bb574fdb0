"""The store against a real ArcadeDB server over Bolt (the official neo4j driver)."""

from datetime import datetime, timedelta, timezone

import pytest

import graph.store as store_module
from agora.records import AccountRef, Interaction, Kind, Sentiment
from graph.store import GraphStore, WriteQueryError

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
ANNA = AccountRef("twitter", "1", "anna")
BRUNO = AccountRef("twitter", "2", "bruno")
CARLA = AccountRef("telegram", "user3", "Carla")


def thread() -> list[Interaction]:
    return [
        Interaction("twitter:10", "twitter", Kind.POST, ANNA, T0, "La nuova macchina è fantastica"),
        Interaction("twitter:11", "twitter", Kind.REPLY, BRUNO, T0 + timedelta(minutes=5), "@anna concordo!",
                    targets=(ANNA,), mentions=(ANNA,), parent_id="twitter:10"),
        Interaction("twitter:12", "twitter", Kind.QUOTE, CARLA, T0 + timedelta(minutes=9), "Mah, la mia perde acqua",
                    targets=(ANNA,), mentions=(BRUNO,), parent_id="twitter:10"),
    ]


def test_import_is_idempotent(store: GraphStore) -> None:
    assert store.upsert_interactions(thread()) == 3
    first = store.counts()
    assert store.upsert_interactions(thread()) == 0
    assert store.upsert_interactions(reversed(thread())) == 0
    assert store.counts() == first
    assert first["Person"] == 3 and first["Account"] == 3 and first["Message (stored)"] == 3
    assert first["REPLIES_TO"] == 1 and first["QUOTES"] == 1 and first["ADDRESSES"] == 2 and first["MENTIONS"] == 2


def test_batches_with_repeated_pairs_land_whole(store: GraphStore) -> None:
    # The same people interact many times inside one batch: ArcadeDB must not see repeated edge MERGEs fail.
    its = [Interaction(f"twitter:{i}", "twitter", Kind.REPLY, (ANNA, BRUNO)[i % 2], T0 + timedelta(seconds=i),
                       f"msg {i}", targets=((BRUNO, ANNA)[i % 2],)) for i in range(1200)]
    assert store.upsert_interactions(its) == 1200
    assert store.counts()["ADDRESSES"] == 1200


def test_edge_rows_prefer_the_addressed_kind_over_a_mention(store: GraphStore) -> None:
    store.upsert_interactions(thread())
    rows = sorted((r.source, r.target, r.kind) for r in store.edge_rows())
    assert rows == [
        ("telegram:user3", "twitter:1", "quote"),
        ("telegram:user3", "twitter:2", "mention"),
        ("twitter:2", "twitter:1", "reply"),
    ]


def test_sentiment_written_once(store: GraphStore) -> None:
    store.upsert_interactions(thread())
    pending = store.messages_to_classify()
    assert [mid for mid, _ in pending] == ["twitter:10", "twitter:11", "twitter:12"]
    store.set_sentiments([(mid, Sentiment("positive", 0.9, 0.8, "it")) for mid, _ in pending], model="test")
    assert store.messages_to_classify() == []
    # Re-importing keeps the sentiment.
    store.upsert_interactions(thread())
    assert store.messages_to_classify() == []


def test_cursors(store: GraphStore) -> None:
    assert store.get_cursor("twitter:mentions") is None
    store.set_cursor("twitter:mentions", "1790000000000000000")
    store.set_cursor("twitter:mentions", "1790000000000000001")
    assert store.get_cursor("twitter:mentions") == "1790000000000000001"


@pytest.mark.parametrize("cypher", [
    "CREATE (:Probe)", "MATCH (p:Person) SET p.x = 1", "MATCH (p) DETACH DELETE p", "MERGE (:Probe {id: 1})",
    "MATCH (p:Person) REMOVE p.name", "DROP CONSTRAINT person_id", "LOAD CSV FROM 'file:///x' AS l RETURN l",
    "CALL db.create.setNodeVectorProperty(null, 'x', [])", "match (p) foreach (x in [1] | create (:Probe))",
])
def test_read_query_refuses_writes(store: GraphStore, cypher: str) -> None:
    with pytest.raises(WriteQueryError):
        store.read_query(cypher)


def test_read_query_reads_and_ignores_keywords_in_strings(store: GraphStore) -> None:
    store.upsert_interactions(thread())
    rows = store.read_query("MATCH (m:Message) WHERE m.text <> 'CREATE (x)' RETURN m.id AS id ORDER BY id LIMIT 2")
    assert rows == [{"id": "twitter:10"}, {"id": "twitter:11"}]
    rows = store.read_query("MATCH (m:Message {id: $id}) RETURN m.ts AS ts", {"id": "twitter:10"})
    assert rows == [{"ts": "2025-03-01T09:00:00+00:00"}] or rows[0]["ts"].startswith("2025-03-01T09:00:00")


def test_read_query_rolls_back_even_if_the_guard_missed_a_write(store: GraphStore, monkeypatch) -> None:
    # Defence in depth: some Bolt servers run writes in read-mode transactions; the rollback must undo them.
    monkeypatch.setattr(store_module, "check_read_only", lambda cypher: None)
    store.read_query("CREATE (:Probe {id: 1})")
    assert store.fetch("MATCH (p:Probe) RETURN count(p) AS n") == [{"n": 0}]


def test_timestamps_are_stored_as_the_same_utc_instant(store: GraphStore) -> None:
    # Written as epoch seconds + nanoseconds (fast on the server): the stored value must be
    # what datetime(<ISO string>) gave, to the microsecond, before 1970 too, on both write paths.
    stamps = [datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=timezone.utc),
              datetime(1969, 7, 20, 20, 17, 40, 999999, tzinfo=timezone.utc),
              datetime(2026, 10, 5, 12, 34, 56, tzinfo=timezone(timedelta(hours=2)))]
    its = [Interaction(f"twitter:t{i}", "twitter", Kind.POST, ANNA, ts, "t") for i, ts in enumerate(stamps)]
    for _ in range(2):  # the CREATE path, then the MERGE path of a re-import
        store.upsert_interactions(its)
        rows = store.fetch("MATCH (m:Message) WHERE m.id STARTS WITH 'twitter:t' "
                           "RETURN m.id AS id, m.ts AS ts, m.ts = datetime($iso0) AS same ORDER BY m.id",
                           iso0=stamps[0].isoformat())
        assert [r["ts"].to_native() for r in rows] == [ts.astimezone(timezone.utc) for ts in stamps]
        assert [r["same"] for r in rows] == [True, False, False]


def test_accounts_deleted_behind_the_stores_back_are_written_again(store: GraphStore) -> None:
    # The store remembers the accounts it wrote; another process may delete them (a reset, an
    # erasure). The next batch must notice and store everything, not skip what it remembers.
    store.upsert_interactions(thread())
    assert store._accounts_seen  # noqa: SLF001 - the cache this test is about
    store._write(  # noqa: SLF001
        lambda tx: tx.run("MATCH (n) DETACH DELETE n").consume())
    assert store.upsert_interactions(thread()) == 3
    counts = store.counts()
    assert counts["Person"] == 3 and counts["Account"] == 3 and counts["OF"] == 3 and counts["Message (stored)"] == 3
    assert counts["ADDRESSES"] == 2 and counts["MENTIONS"] == 2 and counts["POSTED"] == 3
    # Only a target account gone: the MERGE would make a bare account, without its person.
    store._write(lambda tx: tx.run(  # noqa: SLF001
        "MATCH (a:Account {key: 'twitter:1'})-[:OF]->(p) DETACH DELETE a, p").consume())
    later = [Interaction("twitter:20", "twitter", Kind.REPLY, BRUNO, T0 + timedelta(hours=1), "@anna ciao",
                         targets=(ANNA,), parent_id="twitter:12")]
    assert store.upsert_interactions(later) == 1
    assert store.fetch("MATCH (a:Account {key: 'twitter:1'})-[:OF]->(p:Person) RETURN count(p) AS n")[0]["n"] == 1
    assert store.fetch("MATCH (:Message {id: 'twitter:20'})-[:ADDRESSES]->(a:Account {key: 'twitter:1'}) "
                       "RETURN count(a) AS n")[0]["n"] == 1
    # Gone again, and only stored messages point at it: a re-import restores the account and the edges.
    store._write(lambda tx: tx.run(  # noqa: SLF001
        "MATCH (a:Account {key: 'twitter:1'})-[:OF]->(p) DETACH DELETE a, p").consume())
    assert store.upsert_interactions([*thread(), *later]) == 0
    counts = store.counts()
    assert counts["Person"] == 3 and counts["Account"] == 3 and counts["OF"] == 3 and counts["POSTED"] == 4
    assert counts["ADDRESSES"] == 3 and counts["MENTIONS"] == 2
