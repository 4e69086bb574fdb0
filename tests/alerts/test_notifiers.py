"""Every notifier against a real local server: signed webhooks, Slack-shaped
webhooks, SMTP with STARTTLS; retries with backoff; failures recorded in the
graph without holding anything up."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from agora.config import AlertsConfig, ConfigError, NotifierConfig, load_config
from alerts.delivery import Delivery, Dispatcher, RetryPolicy, build_notifiers, deliver
from alerts.history import list_alerts, save_alerts
from alerts.http import DeliveryError, PermanentError
from alerts.mail import EmailNotifier
from alerts.notify import NOTIFIERS, LogNotifier, Notifier
from alerts.records import Alert, Evidence, alert_id
from alerts.slack import SlackNotifier, slack_payload
from alerts.webhook import (DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, sign,
                            verify_signature)
from graph.store import GraphStore

from .conftest import Endpoint, Smtp

T = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
SECRET = "whsec-test-0123456789"


def make_alert(subject: str = "tw:giulia", severity: str = "critical", rule: str = "influencer_negative") -> Alert:
    return Alert(alert_id(rule, subject, T, 24), rule, severity, subject,  # type: ignore[arg-type]
                 "Influential customer Giulia Rossi is posting negatively",
                 "influence 95/100 within community c1 (alert at >= 90); mean polarity -0.70 over 3 messages",
                 (Evidence("tw:m1", "Ennesimo ordine in ritardo <di nuovo> & nessuna risposta", T, -0.8),
                  Evidence("tw:m2", None, T - timedelta(hours=2), -0.6)),
                 created_at=T + timedelta(minutes=1), event_at=T)


class Sleeps(list):
    """A stand-in for time.sleep that records the waits (the backoff) instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# -- webhook -------------------------------------------------------------------------------

def test_webhook_posts_signed_json_that_verifies(endpoint: Endpoint) -> None:
    alert = make_alert()
    WebhookNotifier(endpoint.url, SECRET.encode()).send(alert)
    [got] = endpoint.received
    assert got.path == "/hooks/agora"
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.headers[SIGNATURE_HEADER] == sign(SECRET.encode(), got.body)  # HMAC of the raw body
    assert verify_signature(SECRET.encode(), got.body, got.headers[SIGNATURE_HEADER], got.headers[TIMESTAMP_HEADER])
    assert not verify_signature(b"wrong", got.body, got.headers[SIGNATURE_HEADER], got.headers[TIMESTAMP_HEADER])
    tampered = got.body.replace(b"critical", b"info")
    assert not verify_signature(SECRET.encode(), tampered, got.headers[SIGNATURE_HEADER],
                                got.headers[TIMESTAMP_HEADER])
    # The timestamp is inside the signed body: a replay later, even with a fresh header, is refused.
    later = int(got.headers[TIMESTAMP_HEADER]) + 3600
    assert not verify_signature(SECRET.encode(), got.body, got.headers[SIGNATURE_HEADER], str(later), now=later)
    assert got.headers[DELIVERY_HEADER] == f"{alert.id}|webhook"
    body = json.loads(got.body)
    assert body["type"] == "agora.alert" and body["sent_at"] == int(got.headers[TIMESTAMP_HEADER])
    assert body["alert"] == alert.as_dict()
    assert body["alert"]["evidence"][0]["text"].startswith("Ennesimo ordine")


def test_webhook_retries_with_backoff_then_succeeds(endpoint: Endpoint) -> None:
    endpoint.fail(2, 503)
    sleeps = Sleeps()
    d = deliver(make_alert(), WebhookNotifier(endpoint.url, b"k"), RetryPolicy(retries=3, backoff_s=1,
                                                                                backoff_max_s=30), sleep=sleeps)
    assert (d.status, d.attempts, d.error) == ("sent", 3, None)
    assert len(endpoint.received) == 3
    assert len({r.headers[DELIVERY_HEADER] for r in endpoint.received}) == 1  # the receiver can de-duplicate
    assert len(sleeps) == 2 and 0.8 <= sleeps[0] <= 1.2 and 1.6 <= sleeps[1] <= 2.4  # 1 s, then 2 s, ±20 %


def test_webhook_gives_up_after_the_last_retry(endpoint: Endpoint) -> None:
    endpoint.fail(10, 500, "boom")
    sleeps = Sleeps()
    d = deliver(make_alert(), WebhookNotifier(endpoint.url, b"k"), RetryPolicy(retries=2, backoff_s=0.5),
                sleep=sleeps)
    assert (d.status, d.attempts) == ("failed", 3) and len(endpoint.received) == 3 and len(sleeps) == 2
    assert d.error == "DeliveryError: HTTP 500 from http://127.0.0.1:" + endpoint.url.split(":")[2].split("/")[0] \
        + ": boom"


def test_a_refusal_is_not_retried_and_429_waits_as_told(endpoint: Endpoint) -> None:
    endpoint.fail(1, 401, "bad signature")
    sleeps = Sleeps()
    d = deliver(make_alert(), WebhookNotifier(endpoint.url, b"k"), RetryPolicy(retries=5), sleep=sleeps)
    assert (d.status, d.attempts, sleeps) == ("failed", 1, [])
    assert "HTTP 401" in (d.error or "") and "bad signature" in (d.error or "")

    endpoint.fail(1, 429, "slow down", **{"Retry-After": "7"})
    d = deliver(make_alert(), WebhookNotifier(endpoint.url, b"k"), RetryPolicy(retries=1, backoff_max_s=10),
                sleep=sleeps)
    assert (d.status, d.attempts) == ("sent", 2)
    assert 7 * 0.8 <= sleeps[0] <= 7 * 1.2  # Retry-After, not the 1 s backoff


def test_endpoint_down_is_retried_then_recorded_as_failed_without_blocking(store: GraphStore) -> None:
    from tests.conftest import free_port

    alert = make_alert()
    save_alerts(store, [alert])
    dead = WebhookNotifier(f"http://127.0.0.1:{free_port()}/nobody-listens", b"k", timeout_s=2)
    sleeps = Sleeps()
    with Dispatcher(store, [_route(dead, RetryPolicy(retries=2, backoff_s=0.01))], sleep=sleeps) as dispatcher:
        [future] = dispatcher.submit([alert])
        d = future.result(timeout=30)
    assert (d.status, d.attempts) == ("failed", 3) and "Connection refused" in (d.error or "")
    [listed] = list_alerts(store)
    assert listed["deliveries"] == [{"notifier": "webhook", "status": "failed", "attempts": 3, "error": d.error,
                                     "at": listed["deliveries"][0]["at"]}]
    linked = store.fetch("MATCH (a:Alert)-[:DELIVERY]->(d:Delivery) RETURN a.id AS a, d.status AS s")
    assert linked == [{"a": alert.id, "s": "failed"}]


def test_submit_returns_while_a_slow_endpoint_is_still_answering(endpoint: Endpoint, store: GraphStore) -> None:
    endpoint.hold = threading.Event()
    alerts = [make_alert(f"tw:{i}") for i in range(3)]
    save_alerts(store, alerts)
    with Dispatcher(store, [_route(WebhookNotifier(endpoint.url, b"k"), RetryPolicy(retries=0))], threads=2) as d:
        futures = d.submit(alerts)
        assert len(futures) == 3 and not any(f.done() for f in futures)  # the caller goes on
        endpoint.hold.set()
        outcomes = [f.result(timeout=30) for f in futures]
    assert [o.status for o in outcomes] == ["sent"] * 3
    # Re-recording an outcome (a retried delivery) replaces it rather than adding one.
    from alerts.delivery import record_deliveries

    record_deliveries(store, outcomes)
    assert store.fetch("MATCH (d:Delivery) RETURN count(d) AS n") == [{"n": 3}]
    assert {a["id"]: [x["status"] for x in a["deliveries"]] for a in list_alerts(store)} == \
        {a.id: ["sent"] for a in alerts}


# -- Slack ---------------------------------------------------------------------------------

def test_slack_sends_block_kit_with_the_why_and_the_messages(endpoint: Endpoint) -> None:
    alert = make_alert()
    SlackNotifier(endpoint.url.replace("/hooks/agora", "/services/T000/B000/XXXX")).send(alert)
    [got] = endpoint.received
    assert got.path == "/services/T000/B000/XXXX"
    payload = json.loads(got.body)
    assert payload == slack_payload(alert)
    assert payload["text"] == "[critical] Influential customer Giulia Rossi is posting negatively"
    header, why, fields, evidence, context = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                                  "text": "Influential customer Giulia Rossi is posting negatively"}}
    assert why["text"]["type"] == "mrkdwn" and "influence 95/100 within community c1" in why["text"]["text"]
    assert [f["text"].split("\n")[0] for f in fields["fields"]] == ["*Severity*", "*Rule*", "*Person*", "*When*"]
    assert "&lt;di nuovo&gt; &amp; nessuna risposta" in evidence["text"]["text"]  # escaped for mrkdwn
    assert "`tw:m1` (-0.80)" in evidence["text"]["text"] and "_(text not kept)_" in evidence["text"]["text"]
    assert alert.id in context["elements"][0]["text"]
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if b["type"] == "section" and "text" in b)


def test_slack_errors_as_slack_answers_them(endpoint: Endpoint) -> None:
    slack = SlackNotifier(endpoint.url)
    endpoint.fail(1, 400, "invalid_payload")
    with pytest.raises(PermanentError, match="HTTP 400.*invalid_payload"):
        slack.send(make_alert())
    endpoint.fail(1, 404, "no_service")
    with pytest.raises(PermanentError, match="no_service"):
        slack.send(make_alert())
    endpoint.fail(1, 429, "rate_limited", **{"Retry-After": "3"})
    with pytest.raises(DeliveryError) as info:
        slack.send(make_alert())
    assert not isinstance(info.value, PermanentError) and info.value.retry_after_s == 3
    assert "/hooks/agora" not in str(info.value)  # a Slack webhook's path is its secret: never logged
    slack.send(make_alert())


# -- e-mail --------------------------------------------------------------------------------

def mailer(smtp: Smtp, **kw: Any) -> EmailNotifier:
    options: dict[str, Any] = {"port": smtp.port, "username": smtp.user, "password": smtp.password,
                               "ca_file": smtp.ca_file, "timeout_s": 10}
    options.update(kw)
    return EmailNotifier(smtp.host, "agora@example.org", ["cm@example.org", "lead@example.org"], **options)


def test_email_over_starttls_with_text_and_html(smtp_server: Smtp) -> None:
    smtp_server.messages.clear()
    mailer(smtp_server).send(make_alert())
    [got] = smtp_server.messages
    assert got["tls"] and got["authenticated"]
    assert got["from"] == "agora@example.org" and got["to"] == ["cm@example.org", "lead@example.org"]
    msg = email.message_from_bytes(got["content"], policy=email.policy.default)
    assert msg["Subject"].strip() == "[Agora critical] Influential customer Giulia Rossi is posting negatively"
    assert msg["X-Agora-Alert"] == make_alert().id
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Why: influence 95/100 within community c1" in text
    assert "- tw:m1 (-0.80): Ennesimo ordine in ritardo <di nuovo> & nessuna risposta" in text
    assert "&lt;di nuovo&gt; &amp; nessuna risposta" in html and "<h2>Influential customer" in html


def test_email_failures_are_sorted(smtp_server: Smtp) -> None:
    smtp_server.messages.clear()
    with pytest.raises(PermanentError, match="login refused"):
        mailer(smtp_server, password="wrong").send(make_alert())
    with pytest.raises(PermanentError, match="certificate not trusted"):
        mailer(smtp_server, ca_file=None).send(make_alert())  # the system CAs do not know the test CA
    with pytest.raises(DeliveryError, match="Connection refused"):
        from tests.conftest import free_port

        mailer(smtp_server, port=free_port()).send(make_alert())
    assert smtp_server.messages == []


# -- config, building from config, the contract -------------------------------------------

def settings_for(kind: str, endpoint: Endpoint, smtp: Smtp) -> tuple[dict[str, Any], dict[str, str]]:
    """An ``alerts.notifiers`` entry of each type, pointed at the local servers, and its environment."""
    return {
        "log": ({"type": "log"}, {}),
        "webhook": ({"type": "webhook", "url": endpoint.url, "secret_env": "T_HOOK_SECRET"}, {"T_HOOK_SECRET": SECRET}),
        "slack": ({"type": "slack", "url_env": "T_SLACK_URL"}, {"T_SLACK_URL": endpoint.url}),
        "email": ({"type": "email", "host": smtp.host, "port": smtp.port, "ca_file": str(smtp.ca_file),
                   "username": smtp.user, "password_env": "T_SMTP_PASSWORD", "sender": "agora@example.org",
                   "to": ["cm@example.org"]}, {"T_SMTP_PASSWORD": smtp.password}),
    }[kind]


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
def test_every_registered_notifier_builds_from_config_and_delivers(kind: str, endpoint: Endpoint, smtp_server: Smtp,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    entry, env = settings_for(kind, endpoint, smtp_server)
    settings = AlertsConfig(notifiers=[NotifierConfig(**entry, name=f"my-{kind}")])
    [route] = build_notifiers(settings, env)
    assert isinstance(route.notifier, Notifier) and isinstance(route.notifier, NOTIFIERS[kind])
    assert route.notifier.name == f"my-{kind}"
    smtp_server.messages.clear()
    with caplog.at_level(logging.INFO, logger="alerts.notify"):
        d = deliver(make_alert(), route.notifier, route.policy, sleep=Sleeps())
    assert (d.status, d.notifier) == ("sent", f"my-{kind}")
    arrived = {"log": lambda: [r for r in caplog.records if "Giulia Rossi" in r.getMessage()],
               "webhook": lambda: endpoint.received, "slack": lambda: endpoint.received,
               "email": lambda: smtp_server.messages}[kind]()
    assert len(arrived) == 1
    if entry.get("secret_env") or entry.get("url_env") or entry.get("password_env"):
        with pytest.raises(ConfigError, match=r"environment: alerts\.notifiers\.my-[a-z]+\.[a-z]+_env: environment "
                                              r"variable T_.* is not set"):
            build_notifiers(settings, {})


def test_routing_by_severity_and_rule(endpoint: Endpoint, store: GraphStore) -> None:
    settings = AlertsConfig(notifiers=[
        {"type": "webhook", "name": "all", "url": endpoint.url, "secret_env": "S"},
        {"type": "webhook", "name": "urgent", "url": endpoint.url, "secret_env": "S", "severities": ["critical"],
         "rules": ["influencer_negative", "churn_risk"]}])
    routes = build_notifiers(settings, {"S": "k"})
    alerts = [make_alert("tw:1"), make_alert("tw:2", "info"), make_alert("c1", "critical", "volume_spike")]
    save_alerts(store, alerts)
    with Dispatcher(store, routes) as d:
        done = sorted((o.alert_id.split(":")[-2], o.notifier) for o in (f.result(30) for f in d.submit(alerts)))
    assert done == [("1", "all"), ("1", "urgent"), ("2", "all"), ("c1", "all")]


@pytest.mark.parametrize("entry, message", [
    ({"type": "webhook", "url": "http://x"}, "needs secret_env"),
    ({"type": "webhook", "secret_env": "S"}, "needs exactly one of url and url_env"),
    ({"type": "webhook", "url": "ftp://x", "secret_env": "S"}, "must be an http:// or https:// URL"),
    ({"type": "slack", "url_env": "not a name"}, "is not an environment variable name"),
    ({"type": "email", "host": "h", "to": ["a@b"]}, "needs host, sender and to"),
    ({"type": "email", "host": "h", "sender": "a@b", "to": ["nobody"]}, "is not an e-mail address"),
    ({"type": "email", "host": "h", "sender": "a@b", "to": ["c@d"], "security": "none", "username": "u",
      "password_env": "P"}, "without TLS"),
    ({"type": "log", "severities": []}, "receive nothing"),
    ({"type": "log", "rules": ["nope"]}, "unknown rule 'nope'"),
    ({"type": "log", "retries": 99}, "less than or equal to 20"),
    ({"type": "pager"}, "Input should be"),
])
def test_bad_notifier_config_stops_the_start(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({"alerts": {"notifiers": [entry]}}))
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value).startswith(f"{path}: alerts.") and message in str(info.value)


def test_two_notifiers_need_two_names(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("alerts:\n  notifiers:\n    - type: log\n    - type: log\n")
    with pytest.raises(ConfigError, match="name 'log' is used twice"):
        load_config(path, environ={})
    path.write_text("alerts:\n  notifiers:\n    - type: log\n    - {type: log, name: audit}\n")
    assert [n.name for n in load_config(path, environ={}).alerts.notifiers] == ["log", "audit"]


def _route(notifier: Notifier, policy: RetryPolicy) -> Any:
    from alerts.delivery import Route

    return Route(notifier, policy)


# -- at least once, never twice at a time -------------------------------------------------

def test_a_delivery_is_claimed_once_and_a_stale_claim_is_taken_over(store: GraphStore) -> None:
    from alerts.delivery import claim, record_deliveries

    alert = make_alert()
    save_alerts(store, [alert])
    assert claim(store, alert.id, "webhook", stale_after_s=600) is True
    assert claim(store, alert.id, "webhook", stale_after_s=600) is False   # in flight elsewhere
    assert claim(store, alert.id, "slack", stale_after_s=600) is True      # another notifier: its own delivery
    time.sleep(1.1)
    assert claim(store, alert.id, "webhook", stale_after_s=1) is True      # the holder died: taken over
    record_deliveries(store, [Delivery(alert.id, "webhook", "failed", 4, "HTTP 500", datetime.now(timezone.utc))])
    assert claim(store, alert.id, "webhook", stale_after_s=0) is False     # finished: never again
    assert store.fetch("MATCH (:Alert)-[:DELIVERY]->(d:Delivery) RETURN d.notifier AS n, d.status AS s ORDER BY n") \
        == [{"n": "slack", "s": "pending"}, {"n": "webhook", "s": "failed"}]


def test_resume_sends_what_a_crash_left_behind_once(endpoint: Endpoint, store: GraphStore) -> None:
    from alerts.delivery import claim

    from dataclasses import replace

    now = datetime.now(timezone.utc).replace(microsecond=0)
    stored, in_flight, done = (replace(make_alert(s), created_at=now) for s in ("tw:1", "tw:2", "tw:3"))
    old = replace(make_alert("tw:4"), created_at=now - timedelta(hours=25))  # beyond REDELIVER_WITHIN: left alone
    save_alerts(store, [stored, in_flight, done, old])
    route = _route(WebhookNotifier(endpoint.url, b"k"), RetryPolicy(retries=0))
    with Dispatcher(store, [route]) as d:
        assert [f.result(30) for f in d.submit([done])][0].status == "sent"
    assert claim(store, in_flight.id, "webhook", stale_after_s=600)  # another worker is sending it right now
    endpoint.received.clear()
    with Dispatcher(store, [route]) as d:
        outcomes = [f.result(30) for f in d.resume()]
    assert [o.alert_id for o in outcomes if o is not None] == [stored.id]
    assert [json.loads(r.body)["alert"]["id"] for r in endpoint.received] == [stored.id]
    assert json.loads(endpoint.received[0].body)["alert"] == stored.as_dict()  # rebuilt from the graph intact
    with Dispatcher(store, [route]) as d:
        assert [f.result(30) for f in d.resume()] == [None]  # only the in-flight one is left, and it is taken
    assert len(endpoint.received) == 1
