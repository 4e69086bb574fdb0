"""``agora crawl``, ``agora listen``, ``agora identities import``, ``agora merge`` and ``agora split`` as a user runs them.

``listen`` and the identity commands run as real subprocesses on the session's
graph server and Redis (database :data:`REDIS_DB`, a stream of this test's
own); ``crawl`` runs in-process so that ``responses`` can replay the recorded
Twitter/X answers (no live calls).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis
import responses
import yaml
from typer.testing import CliRunner

from api.webhooks import SIGNATURE_HEADER, sign
from graph.server import EmbeddedServer
from graph.store import GraphStore
from tests.conftest import REPO, free_port
from tests.listening.connectors import replay
from workers.limits import budget_key, lock_key

REDIS_DB = 9
AGORA = [sys.executable, "-m", "agora.cli"]


@pytest.fixture
def setup(tmp_path: Path, graph_server: EmbeddedServer, store: GraphStore):
    stream = f"agora:test-cli:{uuid.uuid4().hex}"
    cfg = {"graph": {"uri": graph_server.bolt_uri, "user": "root", "database": graph_server.database},
           "listening": {"twitter": {"brand_user_ids": [replay.BRAND_ID], "queries": ["caffe aurora"]},
                         "webhooks": {"redis_url": f"redis://127.0.0.1:6379/{REDIS_DB}", "stream": stream}},
           # crawl locks and budgets live in the workers' Redis: this test's own database
           "workers": {"broker_url": f"redis://127.0.0.1:6379/{REDIS_DB}", "result_backend": None}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    env = {**os.environ, "AGORA_GRAPH__PASSWORD": graph_server.password(), "HF_HUB_OFFLINE": "1"}
    yield path, env, store
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.delete(stream, f"{stream}:dead", lock_key("twitter"), budget_key("twitter"))
    client.close()


def agora(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGORA, "--config", str(config), *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env=env)


def test_crawl_twitter_twice_stores_once(setup, monkeypatch):
    config, env, store = setup
    from agora import cli

    monkeypatch.setenv("AGORA_GRAPH__PASSWORD", env["AGORA_GRAPH__PASSWORD"])
    monkeypatch.setenv("AGORA_TWITTER_BEARER_TOKEN", "test-bearer")
    monkeypatch.delenv("AGORA_TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setattr(cli.state, "_config", None)
    runner = CliRunner()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        replay.add_twitter(rsps)
        first = runner.invoke(cli.app, ["--config", str(config), "crawl", "--json"])
        monkeypatch.setattr(cli.state, "_config", None)
        second = runner.invoke(cli.app, ["--config", str(config), "crawl", "twitter", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == [{"source": "twitter", "pages": 7, "read": 6, "new": 5}]  # 2 mention pages, search, 4 threads
    assert json.loads(second.stdout)[0]["new"] == 0
    assert store.count("Message", stored_only=True) == 5


def test_crawl_skips_a_source_a_worker_is_crawling(setup, monkeypatch):
    config, env, store = setup
    from agora import cli

    monkeypatch.setenv("AGORA_GRAPH__PASSWORD", env["AGORA_GRAPH__PASSWORD"])
    monkeypatch.setenv("AGORA_TWITTER_BEARER_TOKEN", "test-bearer")
    monkeypatch.setattr(cli.state, "_config", None)
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    held = client.lock(lock_key("twitter"), timeout=60)  # a worker's crawl, as far as the CLI knows
    assert held.acquire(blocking=False)
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            replay.add_twitter(rsps)
            done = CliRunner().invoke(cli.app, ["--config", str(config), "crawl", "twitter", "--json"])
            assert not rsps.calls  # not one request while the worker holds the source
    finally:
        held.release()
        client.close()
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == [{"source": "twitter", "busy": "a worker is crawling it now"}]
    assert store.count("Message", stored_only=True) == 0


def test_listen_receives_signed_payloads_and_stores_them(setup):
    config, env, store = setup
    port = free_port()
    env = {**env, "AGORA_META_APP_SECRET": "cli-secret", "AGORA_META_VERIFY_TOKEN": "cli-verify"}
    proc = subprocess.Popen([*AGORA, "--config", str(config), "listen", "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "agora listen did not start"
            time.sleep(0.2)
        body = (replay.FIXTURES / "whatsapp_messages.json").read_bytes()
        resp = httpx.post(f"{base}/webhooks/whatsapp", content=body, headers={SIGNATURE_HEADER: sign(body, "cli-secret")})
        assert resp.status_code == 200, resp.text
        assert httpx.get(f"{base}/webhooks/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": "cli-verify",
                                                               "hub.challenge": "42"}).text == "42"
        deadline = time.monotonic() + 30
        while store.count("Message", stored_only=True) < 4:
            assert time.monotonic() < deadline, "payload not stored"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert store.count("Message", stored_only=True) == 4


def test_listen_split_into_a_receiver_and_a_processor(setup):
    config, env, store = setup
    port = free_port()
    env = {**env, "AGORA_TELEGRAM_SECRET_TOKEN": "cli-tg-secret"}
    receiver = subprocess.Popen([*AGORA, "--config", str(config), "listen", "--no-process", "--port", str(port)],
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processor = None
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert receiver.poll() is None and time.monotonic() < deadline, "agora listen did not start"
            time.sleep(0.2)
        body = (replay.FIXTURES / "telegram_update.json").read_bytes()
        resp = httpx.post(f"{base}/webhooks/telegram", content=body,
                          headers={"X-Telegram-Bot-Api-Secret-Token": "cli-tg-secret"})
        assert resp.status_code == 200, resp.text
        time.sleep(1.0)
        assert store.count("Message", stored_only=True) == 0  # acknowledged, queued, not stored by the receiver
        processor = subprocess.Popen([*AGORA, "--config", str(config), "listen", "--process-only"], cwd=REPO, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while store.count("Message", stored_only=True) < 1:
            assert processor.poll() is None and time.monotonic() < deadline, "not stored"
            time.sleep(0.2)
    finally:
        for proc in (receiver, processor):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    assert processor.returncode == 0, processor.stderr.read()


def test_identities_import_merge_and_split(setup, tmp_path):
    config, env, store = setup
    from agora.records import AccountRef, Interaction, Kind
    from datetime import datetime, timezone

    tw, ig = AccountRef("twitter", "2244994945", "anna_beans"), AccountRef("instagram", "1784", "anna.beans")
    store.upsert_interactions([Interaction(id=f"{a.platform}:m{i}", platform=a.platform, kind=Kind.POST, actor=a,
                                           timestamp=datetime(2026, 11, 1, tzinfo=timezone.utc))
                               for i, a in enumerate((tw, ig))])
    crm = tmp_path / "crm.csv"
    crm.write_text("customer_id,platform,handle,phone\nC-1,twitter,anna_beans,+39 333 1234567\nC-1,facebook,Anna B,\n",
                   encoding="utf-8")
    done = agora(config, env, "identities", "import", str(crm), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["linked"] == 2 and len(report["unmatched"]) == 1
    done = agora(config, env, "merge", "crm:C-1", ig.key, "--reason", "confirmed by DM")
    assert done.returncode == 0 and f"moved {ig.key} to crm:C-1" in done.stdout, done.stderr
    assert "already one person" in agora(config, env, "merge", "crm:C-1", ig.key).stdout
    done = agora(config, env, "split", ig.key)
    assert done.returncode == 0 and f"{ig.key} is its own person" in done.stdout
    missing = agora(config, env, "merge", tw.key, "twitter:nobody")
    assert missing.returncode == 1 and "no account or person 'twitter:nobody'" in missing.stderr
