"""The sample community: deterministic, honest about its counts, with visible leaders.

Everything here is read back from the files with plain ``json``/``csv``/line
parsing, independently of the importers in ``listening/``.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from agora.sample import REFERENCE_DATE, SampleManifest, generate_sample

WHATSAPP_LINE = re.compile(r"^(\d\d/\d\d/\d\d), (\d\d:\d\d) - (.+?): (.*)$")
WHATSAPP_START = re.compile(r"^\d\d/\d\d/\d\d, \d\d:\d\d - ")
GENERIC_COLUMNS = {"id", "platform", "kind", "actor", "target", "timestamp", "text", "parent_id",
                   "conversation_id", "actor_handle"}
WINDOW = timedelta(minutes=30)  # the group-chat rule of the README: last 2 other speakers within 30 min


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    return generate_sample(tmp_path_factory.mktemp("sample") / "s")


@pytest.fixture(scope="module")
def parsed(sample: SampleManifest) -> "Parsed":
    return Parsed(sample.directory)


class Parsed:
    """The sample read back: messages per file, authors, in-degree by account key, languages."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.per_file: dict[str, int] = {}
        self.authors: set[str] = set()
        self.indegree: Counter[str] = Counter()
        self.edges: list[tuple[str, str]] = []  # (actor, target) account keys
        self.langs: Counter[str] = Counter()
        self.times: list[datetime] = []
        self.handles: dict[tuple[str, str], str] = {}  # (platform, shown handle) -> account key
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith("twitter/"):
                self.per_file[rel] = self._twitter(path)
            elif rel.startswith("whatsapp/"):
                self.per_file[rel] = self._whatsapp(path)
            elif rel.startswith("telegram/") and path.name == "result.json":
                self.per_file[rel] = self._telegram(path)
            elif rel.startswith("generic/"):
                self.per_file[rel] = self._generic(path)

    def _edge(self, actor: str, target: str) -> None:
        self.indegree[target] += 1
        self.edges.append((actor, target))

    def _twitter(self, path: Path) -> int:
        pages = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        tweets = [t for page in pages for t in page["data"]]
        every = {t["id"]: t for page in pages for t in page["data"] + page["includes"].get("tweets", [])}
        for page in pages:
            assert set(page) >= {"data", "includes", "meta"}
            assert page["meta"]["result_count"] == len(page["data"])
            for user in page["includes"]["users"]:
                self.handles[("twitter", user["username"])] = f"twitter:{user['id']}"
            authors_included = {u["id"] for u in page["includes"]["users"]}
            for t in page["data"]:
                assert t["author_id"] in authors_included, "expansion author_id missing from includes.users"
        for t in tweets:
            me = f"twitter:{t['author_id']}"
            self.authors.add(me)
            self.langs[t["lang"]] += 1
            self.times.append(datetime.strptime(t["created_at"], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=timezone.utc))
            targets = {f"twitter:{every[r['id']]['author_id']}" for r in t.get("referenced_tweets", [])}
            for m in t.get("entities", {}).get("mentions", []):
                assert t["text"][m["start"]:m["end"]] == "@" + m["username"]
                targets.add(f"twitter:{m['id']}")
            for key in targets - {me}:
                self._edge(me, key)
        assert len({t["id"] for t in tweets}) == len(tweets)
        return len(tweets)

    def _chat_rule(self, stream: list[tuple[datetime, str, str | None]]) -> None:
        """In-degree in a group chat: an explicit reply counts for its author; otherwise the last
        two other speakers within the window."""
        for i, (ts, who, replied) in enumerate(stream):
            if replied is not None:
                targets = [replied]
            else:
                targets = []
                for ts2, who2, _ in reversed(stream[:i]):
                    if ts - ts2 > WINDOW or len(targets) == 2:
                        break
                    if who2 != who and who2 not in targets:
                        targets.append(who2)
            for key in targets:
                if key != who:
                    self._edge(who, key)

    def _whatsapp(self, path: Path) -> int:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0].split(" - ", 1)[1].startswith("I messaggi e le chiamate sono crittografati end-to-end")
        stream = []
        for line in lines:
            match = WHATSAPP_LINE.match(line)
            if not match:
                assert WHATSAPP_START.match(line) or stream, f"orphan continuation line {line!r}"
                continue
            day, clock, author, _ = match.groups()
            ts = datetime.strptime(f"{day} {clock}", "%d/%m/%y %H:%M")
            key = f"whatsapp:{author}"
            self.handles[("whatsapp", author)] = key
            self.authors.add(key)
            stream.append((ts, key, None))
        self._chat_rule(stream)
        return len(stream)

    def _telegram(self, path: Path) -> int:
        export = json.loads(path.read_text(encoding="utf-8"))
        assert export["type"] == "public_supergroup" and isinstance(export["id"], int)
        by_id = {m["id"]: m for m in export["messages"]}
        assert any(m["type"] == "service" for m in export["messages"])
        stream = []
        for m in export["messages"]:
            if m["type"] != "message":
                continue
            assert m["from_id"].startswith("user") and m["date_unixtime"].isdigit()
            key = f"telegram:{m['from_id']}"
            self.handles[("telegram", m["from"])] = key
            self.authors.add(key)
            ts = datetime.fromtimestamp(int(m["date_unixtime"]), timezone.utc)
            self.times.append(ts)
            replied = m.get("reply_to_message_id")
            stream.append((ts, key, f"telegram:{by_id[replied]['from_id']}" if replied else None))
            if isinstance(m["text"], list):
                assert "".join(p if isinstance(p, str) else p["text"] for p in m["text"]) == \
                    "".join(e["text"] for e in m["text_entities"])
        self._chat_rule(stream)
        return len(stream)

    def _generic(self, path: Path) -> int:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for row in rows:
            assert set(row) >= GENERIC_COLUMNS, set(row) ^ GENERIC_COLUMNS
            me = f"{row['platform']}:{row['actor']}"
            self.handles[(row["platform"], row["actor_handle"])] = me
            self.authors.add(me)
            self.langs[row["lang"]] += 1
            self.times.append(datetime.strptime(row["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc))
            targets = {f"{row['platform']}:{t}" for t in [row["target"], *row.get("mentions", [])] if t}
            for key in targets - {me}:
                self._edge(me, key)
        assert len({r["id"] for r in rows}) == len(rows)
        return len(rows)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_writes_identical_bytes(tmp_path: Path, sample: SampleManifest) -> None:
    written = _files(sample.directory.parent)
    assert {"crm.csv", "manifest.json"} <= set(written) and len(written) >= 9
    again = generate_sample(tmp_path / "again")
    assert _files(tmp_path / "again") == written
    # Rewriting a folder it wrote before replaces it with the same bytes.
    generate_sample(tmp_path / "again")
    assert _files(tmp_path / "again") == written
    other = generate_sample(tmp_path / "other", seed=8)
    assert _files(other.directory) != _files(sample.directory)


def test_refuses_a_foreign_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("not a sample")
    (tmp_path / "manifest.json").write_text('{"name": "someone else\'s"}')
    with pytest.raises(FileExistsError):
        generate_sample(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "not a sample"


def test_manifest_json_mirrors_the_manifest(sample: SampleManifest) -> None:
    data = json.loads((sample.directory.parent / "manifest.json").read_text(encoding="utf-8"))
    assert data["interactions"] == sample.interactions and data["people"] == sample.people
    assert data["leader_accounts"] == sample.leader_accounts and data["brand_accounts"] == sample.brand_accounts
    assert sample.directory.parent / data["directory"] == sample.directory
    assert data["reference_date"] == REFERENCE_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_manifest_counts_match_the_files(sample: SampleManifest, parsed: Parsed) -> None:
    assert parsed.per_file == sample.per_file
    assert sum(parsed.per_file.values()) == sample.interactions
    assert sorted(sample.files) == sorted(sample.directory / name for name in parsed.per_file)
    assert sum(sum(kinds.values()) for kinds in sample.per_kind.values()) == sample.interactions
    assert 2000 <= sample.interactions <= 5000
    assert len(parsed.authors) == sample.accounts
    assert set(sample.brand_accounts) <= parsed.authors
    assert "twitter" in {key.split(":")[0] for key in sample.brand_accounts}

    # People: every customer account, less the brand, with CRM rows of one customer merged.
    with sample.crm.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["customer_id", "platform", "handle", "phone", "email"]
    customers: dict[str, set[str]] = {}
    for row in rows:
        key = parsed.handles.get((row["platform"], row["handle"]))
        assert key is not None, f"CRM row not found in the exports: {row}"
        assert row["phone"] or row["email"]
        customers.setdefault(row["customer_id"], set()).add(key)
    assert len(customers) >= 5 and all(len(keys) == 2 for keys in customers.values())
    merged = sum(len(keys) - 1 for keys in customers.values())
    assert len(parsed.authors - set(sample.brand_accounts)) - merged == sample.people == 240
    # The planted partition covers every customer account seen in the files.
    planted = {key for keys in sample.communities.values() for key in keys}
    assert planted == parsed.authors - set(sample.brand_accounts)


def test_planted_leaders_draw_far_more_responses_than_the_median_member(sample: SampleManifest,
                                                                      parsed: Parsed) -> None:
    for community, leaders in sample.leader_accounts.items():
        platform = leaders[0].split(":")[0]
        members = [k for k in sample.communities[community] if k.startswith(platform + ":") and k not in leaders]
        median = statistics.median(parsed.indegree[k] for k in members)
        for leader in leaders:
            assert parsed.indegree[leader] >= 4 * max(median, 1), (community, leader, parsed.indegree[leader], median)
        assert len(sample.leaders[community]) == len(leaders) >= 2


def test_communities_are_dense_inside_with_a_little_traffic_between(sample: SampleManifest,
                                                                    parsed: Parsed) -> None:
    home = {key: name for name, keys in sample.communities.items() for key in keys}
    people = [(a, t) for a, t in parsed.edges if a in home and t in home]
    across = sum(home[a] != home[t] for a, t in people)
    assert 0.01 < across / len(people) < 0.15, across / len(people)
    assert len(people) > 0.8 * len(parsed.edges)  # the brand is a small part of the graph


def test_every_format_and_both_languages(sample: SampleManifest, parsed: Parsed) -> None:
    prefixes = {name.split("/")[0] for name in sample.per_file}
    assert prefixes == {"twitter", "whatsapp", "telegram", "generic"}
    assert set(sample.per_kind) == {"twitter", "whatsapp", "telegram", "facebook", "instagram"}
    assert {"reply", "quote", "share"} <= set(sample.per_kind["twitter"])
    assert parsed.langs["it"] > 500 and parsed.langs["en"] > 200
    assert sample.languages["it"] > sample.languages["en"] > 300
    whatsapp = next(sample.directory.glob("whatsapp/*.txt")).read_text(encoding="utf-8")
    assert "<Media omessi>" in whatsapp and re.search(r"\n[^0-9\n][^\n]*\n", whatsapp), "media and multi-line"
    assert any(ch in whatsapp for ch in "èàùòì")
    total = sum(path.stat().st_size for path in sample.directory.rglob("*") if path.is_file())
    assert total < 2_000_000


def test_times_lie_in_the_window_at_waking_hours(parsed: Parsed) -> None:
    assert min(parsed.times) >= REFERENCE_DATE - timedelta(days=91)
    assert max(parsed.times) < REFERENCE_DATE
    # Rome is UTC+1/+2: local 02:00-05:59 is about 00:00-04:59 UTC. Almost nobody writes then.
    night = sum(1 for t in parsed.times if 0 <= t.hour < 4)
    assert night / len(parsed.times) < 0.03


def test_the_importer_reads_the_sample_cleanly(sample: SampleManifest) -> None:
    """The contract with ``listening.importer``: no parse issue, one interaction per message
    record, and the manifest's account keys are the importer's (brand flags and leaders match)."""
    importer = pytest.importorskip("listening.importer", reason="listening/importer.py not written yet")
    from agora.records import Interaction, ParseIssue

    items = list(importer.read_path(sample.directory))
    issues = [str(i) for i in items if isinstance(i, ParseIssue)]
    assert issues == []
    interactions = [i for i in items if isinstance(i, Interaction)]
    assert len({i.id for i in interactions}) == sample.interactions
    actors = {i.actor.key for i in interactions}
    assert set(sample.brand_accounts) <= actors
    assert {key for keys in sample.leader_accounts.values() for key in keys} <= actors
    assert {i.platform for i in interactions} == set(sample.per_kind)
