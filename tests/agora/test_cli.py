"""The ``agora`` console script as a user runs it: a real subprocess, a real Bolt server, the real model.

The commands point at the test session's ArcadeDB through a ``bolt://`` URI with the password in
the environment, the way production points Agora at Neo4j; the embedded lifecycle has its own test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import yaml

from graph.server import EmbeddedServer
from graph.store import GraphStore
from tests.conftest import REPO, free_port
from workers.limits import RESCORE_LOCK

AGORA = [sys.executable, "-m", "agora.cli"]
REDIS_URL = "redis://127.0.0.1:6379/11"


def agora(*args: str, config: Path | None = None, env: dict[str, str] | None = None,
          timeout: float = 600) -> subprocess.CompletedProcess[str]:
    argv = [*AGORA, *(["--config", str(config)] if config else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


@pytest.fixture
def bolt_config(tmp_path: Path, graph_server: EmbeddedServer, store: GraphStore) -> tuple[Path, dict[str, str]]:
    """A config on the session's server (emptied by ``store``) and a 60-person sample."""
    cfg = {"graph": {"uri": graph_server.bolt_uri, "user": "root", "database": graph_server.database},
           "sample": {"dir": "sample", "people": 60},
           "output": {"dir": "out"},
           # the workers' Redis, where rescores take their lock: this file's own database
           "workers": {"broker_url": REDIS_URL, "result_backend": None}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path, {"AGORA_GRAPH__PASSWORD": graph_server.password()}


def test_a_bad_config_value_stops_with_one_line_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("graph:\n  bolt_port: 99999\n", encoding="utf-8")
    done = agora("people", config=path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and "graph.bolt_port" in lines[0] and "99999" in lines[0]


def test_help_teaches_every_command() -> None:
    done = agora("--help")
    assert done.returncode == 0
    for command in ("run", "import", "classify", "score", "people", "communities", "query", "graph"):
        assert command in done.stdout


@pytest.mark.slow
def test_run_imports_classifies_scores_and_a_second_run_changes_no_count(
        bolt_config: tuple[Path, dict[str, str]]) -> None:
    config, env = bolt_config
    first = agora("run", "--json", config=config, env=env)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    manifest = json.loads((config.parent / "sample" / "manifest.json").read_text(encoding="utf-8"))
    assert summary["new_interactions"] == manifest["interactions"]
    assert summary["classified"] == manifest["interactions"]
    assert summary["imports"][0]["skipped"] == 0
    assert summary["counts"]["messages"] == manifest["interactions"]
    assert summary["counts"]["communities"] >= 3
    saved = json.loads((config.parent / "out" / "run.json").read_text(encoding="utf-8"))
    assert saved["counts"] == summary["counts"]

    # most planted opinion leaders are among their community's listed influencers
    listed = {key for c in summary["communities"] for p in c["influencers"] for key in p["accounts"]}
    leaders = [key for keys in manifest["leader_accounts"].values() for key in keys]
    assert sum(key in listed for key in leaders) >= 0.75 * len(leaders), (leaders, listed)
    # every message got a real sentiment: the model found both moods in the sample
    moods = {p["sentiment_mean"] > 0 for c in summary["communities"] for p in c["influencers"]
             if p["sentiment_mean"] is not None}
    assert moods == {True, False}

    second = agora("run", "--json", config=config, env=env)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["new_interactions"] == 0 and again["classified"] == 0
    assert again["counts"] == summary["counts"]
    assert [c["id"] for c in again["communities"]] == [c["id"] for c in summary["communities"]]
    stored = json.loads(agora("alerts", "--json", config=config, env=env).stdout)
    assert again["alerts"] == [] and {a["id"] for a in stored} == {a["id"] for a in summary["alerts"]}

    people = agora("people", "--top", "3", "--json", config=config, env=env)
    rows = json.loads(people.stdout)
    assert len(rows) == 3 and rows[0]["influence"] >= rows[1]["influence"] >= rows[2]["influence"]
    community = summary["communities"][0]["id"]
    inside = json.loads(agora("people", "--community", community, "--json", config=config, env=env).stdout)
    assert {r["community"] for r in inside} == {community}
    groups = json.loads(agora("communities", "--json", config=config, env=env).stdout)
    assert all(":" in key for g in groups for key in g["members"])
    assert sum(g["size"] for g in groups) == len({k for g in groups for k in g["members"]})


def test_query_is_read_only(bolt_config: tuple[Path, dict[str, str]], store: GraphStore) -> None:
    config, env = bolt_config
    refused = agora("query", "CREATE (:Person {id: 'x'})", config=config, env=env)
    assert refused.returncode == 2
    assert "CREATE" in refused.stderr and "not allowed" in refused.stderr
    assert store.count("Person") == 0
    rows = json.loads(agora("query", "RETURN 1 + $n AS two", "--param", "n=1", "--json", config=config, env=env).stdout)
    assert rows == [{"two": 2}]


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"graph:\n  uri: bolt://127.0.0.1:{free_port()}\n", encoding="utf-8")
    done = agora("people", config=path, env={"AGORA_GRAPH__PASSWORD": "x"})
    assert done.returncode == 3
    assert done.stderr.startswith("agora: graph server:") and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_embedded_server_lifecycle(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"graph": {"data_dir": "graph", "bolt_port": free_port(),
                                              "http_port": free_port(), "heap": "512m"}}), encoding="utf-8")
    assert agora("graph", "status", config=path).returncode == 1
    try:
        started = agora("graph", "start", config=path)
        assert started.returncode == 0, started.stderr
        assert "running" in agora("graph", "status", config=path).stdout
        assert agora("query", "MATCH (n) RETURN count(n) AS n", "--json", config=path).stdout.count('"n": 0') == 1
    finally:
        stopped = agora("graph", "stop", config=path)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout


def test_score_waits_for_a_rescore_running_in_a_worker(bolt_config: tuple[Path, dict[str, str]]) -> None:
    """Two overlapping rescores would delete each other's communities: the CLI takes the workers' lock."""
    config, env = bolt_config
    client = redis.Redis.from_url(REDIS_URL)
    held = client.lock(RESCORE_LOCK, timeout=120)  # a worker's rescore, as far as the CLI knows
    assert held.acquire(blocking=False)
    try:
        proc = subprocess.Popen([*AGORA, "--config", str(config), "-v", "score"], cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=8)  # still waiting for the lock
    finally:
        held.release()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "waiting up to" in err and "scored from" in out
    assert not client.exists(RESCORE_LOCK)  # released when done
    client.close()
