"""The webhook receivers through a real uvicorn server on 127.0.0.1, a real Redis stream and a real graph.

Signed, forged, unsigned and malformed requests; Meta's redeliveries stored
once; payloads acknowledged while the processor is down (or failing) are
stored once it runs. Redis traffic stays in database :data:`REDIS_DB` under a
stream name of each test's own, deleted afterwards.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from agora.config import Config
from api.webhooks import SIGNATURE_HEADER, TELEGRAM_HEADER, WebhookSecrets, create_webhook_app, sign
from listening.inbox import Inbox
from tests.conftest import free_port

REDIS_DB = 8
FIXTURES = Path(__file__).resolve().parent.parent / "listening" / "connectors" / "fixtures"
SECRETS = WebhookSecrets(meta_app_secret="meta-app-secret", meta_verify_token="meta-verify",
                         whatsapp_app_secret="wa-app-secret", whatsapp_verify_token="wa-verify",
                         telegram_secret_token="tg-secret_0123")
CONFIG = Config()


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    stream = f"agora:test-webhooks:{uuid.uuid4().hex}"
    yield Inbox(client, stream, claim_idle_ms=200)
    client.delete(stream, f"{stream}:dead")
    client.close()


class Served:
    """A uvicorn server running ``app`` in a thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)


def wait_for(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def drained(inbox: Inbox) -> bool:
    return inbox.pending() == 0


def post_signed(client: httpx.Client, path: str, body: bytes, secret: str) -> httpx.Response:
    return client.post(path, content=body, headers={SIGNATURE_HEADER: sign(body, secret),
                                                    "Content-Type": "application/json"})


def test_meta_and_whatsapp_verification_handshake(inbox, store):
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store, process=False)
    with Served(app) as client:
        ok = client.get("/webhooks/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": "wa-verify",
                                                       "hub.challenge": "1158201444"})
        assert ok.status_code == 200 and ok.text == "1158201444"
        ok = client.get("/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": "meta-verify",
                                                   "hub.challenge": "abc"})
        assert ok.status_code == 200 and ok.text == "abc"
        for params in ({"hub.mode": "subscribe", "hub.verify_token": "meta-verify", "hub.challenge": "x"},
                       {"hub.mode": "unsubscribe", "hub.verify_token": "wa-verify", "hub.challenge": "x"},
                       {"hub.challenge": "x"}):
            assert client.get("/webhooks/whatsapp", params=params).status_code == 403


def test_signed_whatsapp_payloads_are_stored_once_even_when_redelivered(inbox, store):
    body = raw("whatsapp_messages.json")
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store)
    with Served(app) as client:
        first = post_signed(client, "/webhooks/whatsapp", body, "wa-app-secret")
        assert first.status_code == 200 and first.json()["ok"] is True
        wait_for(lambda: store.count("Message", stored_only=True) == 4 and drained(inbox))
        again = post_signed(client, "/webhooks/whatsapp", body, "wa-app-secret")  # Meta's at-least-once
        assert again.status_code == 200 and again.json()["id"] != first.json()["id"]
        wait_for(lambda: drained(inbox) and inbox.redis.xlen(inbox.stream) == 2)
    assert store.count("Message", stored_only=True) == 4
    assert store.count("Account") == 3  # two customers and the business number
    rows = store.fetch("MATCH (a:Account {key: 'whatsapp:+393331234567'})-[:POSTED]->(m:Message) RETURN count(m) AS n")
    assert rows == [{"n": 2}]
    sources = store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN DISTINCT m.source AS s")
    assert len(sources) == 1 and sources[0]["s"] in {f"{inbox.stream}#{first.json()['id']}",
                                                     f"{inbox.stream}#{again.json()['id']}"}
    [(_, entry)] = inbox.redis.xrange(inbox.stream, sources[0]["s"].split("#")[1], sources[0]["s"].split("#")[1])
    assert entry[b"body"] == body  # the raw payload is where the message says


def test_whatsapp_statuses_update_delivery_of_stored_messages(inbox, store):
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store)
    with Served(app) as client:
        # the business's own message, stored earlier (e.g. from a chat export), then its receipt
        from agora.records import AccountRef, Interaction, Kind
        from datetime import datetime, timezone
        store.upsert_interactions([Interaction(
            id="whatsapp:wamid.HBgMMzkzNDA5ODc2NTQzFQIAERgSQkFDRjQ2QTc1RUI1RjE2MzUyAA==", platform="whatsapp",
            kind=Kind.MESSAGE, actor=AccountRef("whatsapp", "+15550783881"),
            timestamp=datetime(2024, 11, 25, 16, 0, tzinfo=timezone.utc), targets=(AccountRef("whatsapp", "+393409876543"),))])
        assert post_signed(client, "/webhooks/whatsapp", raw("whatsapp_statuses.json"), "wa-app-secret").status_code == 200
        wait_for(lambda: drained(inbox))
    [row] = store.fetch("MATCH (m:Message) WHERE m.delivery_status IS NOT NULL RETURN m.delivery_status AS s")
    assert row == {"s": "read"}


@pytest.mark.parametrize("path, secret", [("/webhooks/whatsapp", "wa-app-secret"), ("/webhooks/meta", "meta-app-secret")])
def test_forged_or_missing_signatures_are_refused_and_nothing_is_stored(inbox, store, path, secret):
    body = raw("whatsapp_messages.json" if "whatsapp" in path else "meta_page_feed.json")
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store)
    with Served(app) as client:
        missing = client.post(path, content=body)
        forged = client.post(path, content=body, headers={SIGNATURE_HEADER: sign(body, "not-the-secret")})
        tampered = client.post(path, content=body.replace(b"Ciao", b"Ehi ").replace(b"fantastico", b"terribile!"),
                               headers={SIGNATURE_HEADER: sign(body, secret)})
        other_app = client.post(path, content=body, headers={SIGNATURE_HEADER: sign(body, "meta-app-secret"
                                                             if secret == "wa-app-secret" else "wa-app-secret")})
        time.sleep(0.5)
    assert missing.status_code == 401 and "signature missing" in missing.json()["error"]
    assert forged.status_code == tampered.status_code == other_app.status_code == 403
    assert inbox.redis.exists(inbox.stream) == 0 or inbox.redis.xlen(inbox.stream) == 0
    assert store.count("Message") == 0


def test_malformed_payloads_get_400_with_the_reason_and_are_logged(inbox, store, caplog):
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store)
    cases = {
        b"{not json": "body is not JSON",
        b"[1, 2]": "expected a JSON object",
        json.dumps({"object": "page", "entry": []}).encode(): "'object' is 'page', expected 'whatsapp_business_account'",
        json.dumps({"object": "whatsapp_business_account", "entry": "x"}).encode(): "'entry' must be a list",
        "é".encode("latin-1"): "body is not JSON",
    }
    with caplog.at_level(logging.WARNING, logger="api.webhooks"), Served(app) as client:
        for body, reason in cases.items():
            resp = post_signed(client, "/webhooks/whatsapp", body, "wa-app-secret")
            assert resp.status_code == 400, body
            assert reason in resp.json()["error"]
        bad_tg = client.post("/webhooks/telegram", content=b'{"message": {}}', headers={TELEGRAM_HEADER: "tg-secret_0123"})
        assert bad_tg.status_code == 400 and "'update_id' must be an integer" in bad_tg.json()["error"]
    assert sum("refused (400)" in r.getMessage() for r in caplog.records) == len(cases) + 1
    assert inbox.redis.exists(inbox.stream) == 0 or inbox.redis.xlen(inbox.stream) == 0


def test_meta_page_messenger_and_instagram_payloads(inbox, store):
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store)
    names = ("meta_page_feed.json", "meta_messenger.json", "instagram_comments.json", "instagram_messaging.json")
    with Served(app) as client:
        for name in names:
            assert post_signed(client, "/webhooks/meta", raw(name), "meta-app-secret").status_code == 200
        wait_for(lambda: drained(inbox) and store.count("Message", stored_only=True) == 3 + 2 + 2 + 1)
    platforms = store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN m.platform AS p, count(*) AS n ORDER BY p")
    assert platforms == [{"p": "facebook", "n": 3}, {"p": "instagram", "n": 3}, {"p": "messenger", "n": 2}]
    # comments on comments address the parent comment's author (Meta's payload names only the parent)
    replies = store.fetch("MATCH (a:Account)-[:POSTED]->(m:Message)-[:ADDRESSES]->(b:Account) "
                          "WHERE m.id IN ['facebook:987654321098765_2233445566778899', 'instagram:17865799348089040'] "
                          "RETURN a.handle AS actor, b.handle AS addressed ORDER BY actor")
    assert replies == [{"actor": "Sara Verdi", "addressed": "Luca Bianchi"},
                       {"actor": "marco_caffe", "addressed": "giulia.rossi"}]
    assert inbox.redis.xlen(inbox.stream) == 4  # the Instagram mention stays in the raw archive


def test_telegram_webhook_secret_token(inbox, store):
    body = raw("telegram_update.json")
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store)
    with Served(app) as client:
        assert client.post("/webhooks/telegram", content=body).status_code == 401
        assert client.post("/webhooks/telegram", content=body, headers={TELEGRAM_HEADER: "wrong"}).status_code == 403
        ok = client.post("/webhooks/telegram", content=body, headers={TELEGRAM_HEADER: "tg-secret_0123"})
        assert ok.status_code == 200
        wait_for(lambda: drained(inbox) and store.count("Message", stored_only=True) == 1)
    assert inbox.redis.xlen(inbox.stream) == 1


def test_a_receiver_without_its_secret_is_switched_off(inbox, store):
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=WebhookSecrets(), store=store, process=False)
    with Served(app) as client:
        body = raw("telegram_update.json")
        assert client.post("/webhooks/telegram", content=body, headers={TELEGRAM_HEADER: "x"}).status_code == 503
        assert post_signed(client, "/webhooks/meta", raw("meta_messenger.json"), "").status_code == 503
        assert client.get("/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": "",
                                                     "hub.challenge": "x"}).status_code == 503
    assert inbox.redis.exists(inbox.stream) == 0


class FlakyStore:
    """The real store, whose first ``failures`` writes raise as if the graph were down."""

    def __init__(self, store: Any, failures: int) -> None:
        self.store, self.failures = store, failures

    def upsert_interactions(self, *args: Any, **kwargs: Any) -> int:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("graph unreachable")
        return self.store.upsert_interactions(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_acknowledged_payloads_survive_a_processor_that_is_down_or_failing(inbox, store):
    receive_only = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store, process=False)
    with Served(receive_only) as client:
        assert post_signed(client, "/webhooks/whatsapp", raw("whatsapp_messages.json"), "wa-app-secret").status_code == 200
        assert post_signed(client, "/webhooks/meta", raw("meta_messenger.json"), "meta-app-secret").status_code == 200
    assert store.count("Message") == 0 and inbox.pending() == 2
    with pytest.raises(ConnectionError):
        inbox.process(FlakyStore(store, failures=1))
    assert inbox.pending() == 2  # read but not acknowledged
    # another processor (a restarted one) claims what the failed one left pending
    other = Inbox(inbox.redis, inbox.stream, consumer="restarted", claim_idle_ms=0)
    report = other.process(store)
    assert report.entries == 2 and report.new == 6 and inbox.pending() == 0
    assert store.count("Message", stored_only=True) == 6


def test_unmappable_payloads_go_to_the_dead_letter_stream_without_blocking_the_rest(inbox, store, caplog):
    broken = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"metadata": {"display_phone_number": "15550783881"},
                  "messages": [{"id": "wamid.broken", "timestamp": "1732550400", "type": "text"}]}}]}]}).encode()
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store, process=False)
    with Served(app) as client:
        assert post_signed(client, "/webhooks/whatsapp", broken, "wa-app-secret").status_code == 200
        assert post_signed(client, "/webhooks/telegram", b"", "") .status_code == 401
        client.post("/webhooks/telegram", content=raw("telegram_update.json"), headers={TELEGRAM_HEADER: "tg-secret_0123"})
    with caplog.at_level(logging.ERROR, logger="listening.inbox"):
        report = inbox.process(store)
    assert report.entries == 2 and report.dead == 1 and report.new == 1 and inbox.pending() == 0
    [(_, dead)] = inbox.redis.xrange(inbox.dead_stream)
    assert dead[b"body"] == broken and b"missing or bad field 'from'" in dead[b"reason"]
    assert any("wamid" not in r.getMessage() and "not mappable" in r.getMessage() for r in caplog.records)


def test_an_oversized_body_is_refused_before_it_is_read(inbox, store):
    config = Config.model_validate({"listening": {"webhooks": {"max_body_bytes": 2048}}})
    app = create_webhook_app(config, inbox=inbox, secrets=SECRETS, store=store, process=False)
    body = json.dumps({"object": "whatsapp_business_account", "entry": [], "pad": "x" * 4096}).encode()
    with Served(app) as client:
        resp = post_signed(client, "/webhooks/whatsapp", body, "wa-app-secret")
    assert resp.status_code == 413 and "over 2048 bytes" in resp.json()["error"]
    assert inbox.redis.exists(inbox.stream) == 0


def test_a_telegram_user_sharing_their_number_joins_their_whatsapp_account(inbox, store):
    app = create_webhook_app(CONFIG, inbox=inbox, secrets=SECRETS, store=store)
    with Served(app) as client:
        assert post_signed(client, "/webhooks/whatsapp", raw("whatsapp_messages.json"), "wa-app-secret").status_code == 200
        wait_for(lambda: drained(inbox) and store.count("Message", stored_only=True) == 4)
        for update in json.loads(raw("telegram_contacts.json")):
            resp = client.post("/webhooks/telegram", content=json.dumps(update).encode(),
                               headers={TELEGRAM_HEADER: "tg-secret_0123"})
            assert resp.status_code == 200
        wait_for(lambda: drained(inbox) and store.count("Message", stored_only=True) == 6)
    rows = store.fetch("MATCH (a:Account)-[:OF]->(p:Person) WHERE a.key IN ['telegram:user482731945', 'whatsapp:+393331234567',"
                       " 'whatsapp:+393409876543'] RETURN a.key AS key, p.id AS person ORDER BY key")
    assert rows == [{"key": "telegram:user482731945", "person": "whatsapp:+393331234567"},
                    {"key": "whatsapp:+393331234567", "person": "whatsapp:+393331234567"},
                    {"key": "whatsapp:+393409876543", "person": "whatsapp:+393409876543"}]  # Marco's card: no claim


def test_a_reply_to_a_comment_stored_earlier_addresses_its_author(store):
    from listening.connectors import meta
    from listening.inbox import address_parent_authors

    feed = json.loads(raw("meta_page_feed.json"))
    first, second, reaction = meta.map_payload(feed)
    store.upsert_interactions([first])  # Luca's comment arrived in an earlier payload
    [reply, same_reaction] = address_parent_authors(store, [second, reaction])
    assert reply.targets == (first.actor,) and same_reaction == reaction
    unknown = second.__class__(**{**{f: getattr(second, f) for f in second.__slots__},
                                  "parent_id": "facebook:never-seen"})
    assert address_parent_authors(store, [unknown]) == [unknown]
