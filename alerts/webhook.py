"""The generic webhook notifier: each alert as a signed JSON POST.

The body is ``{"type": "agora.alert", "sent_at": <unix seconds>, "alert": {...}}``
(:meth:`alerts.records.Alert.as_dict`). Headers:

* ``X-Agora-Signature: sha256=<hex>``: HMAC-SHA256 of the raw body with the
  shared secret (from the environment variable ``secret_env`` names);
* ``X-Agora-Timestamp``: the same ``sent_at``. It is inside the signed body,
  so a receiver that checks the signature and that the timestamp is recent
  (:func:`verify_signature`, 5 minutes by default) refuses replays;
* ``X-Agora-Delivery``: ``<alert id>|<notifier name>``, the same on every retry,
  so a receiver can drop a delivery it already has.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping

from agora.config import NotifierConfig
from alerts.http import post_json
from alerts.records import Alert

__all__ = ["WebhookNotifier", "sign", "verify_signature", "webhook_body", "SIGNATURE_HEADER", "TIMESTAMP_HEADER",
           "DELIVERY_HEADER"]

SIGNATURE_HEADER = "X-Agora-Signature"
TIMESTAMP_HEADER = "X-Agora-Timestamp"
DELIVERY_HEADER = "X-Agora-Delivery"


def sign(secret: bytes, body: bytes) -> str:
    """``sha256=`` and the HMAC-SHA256 hex digest of ``body``.

    >>> sign(b"k", b"{}")
    'sha256=add853b103fbcc936a194f9eb15e29c4ff08af6e47d5d1bca4f20218e31e4fff'
    """
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, signature: str | None, timestamp: str | None, *,
                     now: float | None = None, tolerance_s: float = 300.0) -> bool:
    """What a receiver checks: the signature matches the raw body (compared in
    constant time), the header timestamp equals the body's ``sent_at``, and it
    is within ``tolerance_s`` of ``now``.

    >>> body = webhook_body({"id": "x"}, sent_at=1000)
    >>> verify_signature(b"k", body, sign(b"k", body), "1000", now=1010)
    True
    >>> verify_signature(b"k", body, sign(b"k", body), "1000", now=5000)   # a replay, too late
    False
    >>> verify_signature(b"other", body, sign(b"k", body), "1000", now=1010)
    False
    """
    if not signature or not timestamp:
        return False
    if not hmac.compare_digest(sign(secret, body), signature):
        return False
    try:
        sent_at = json.loads(body)["sent_at"]
        stamp = int(timestamp)
    except (ValueError, KeyError, TypeError):
        return False
    current = time.time() if now is None else now
    return sent_at == stamp and abs(current - stamp) <= tolerance_s


def webhook_body(alert: Mapping[str, object], *, sent_at: int) -> bytes:
    """The raw JSON body (UTF-8, compact) for one alert dict."""
    return json.dumps({"type": "agora.alert", "sent_at": sent_at, "alert": alert}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


class WebhookNotifier:
    """POSTs each alert, signed, to one URL. One attempt per :meth:`send`
    (retries are the caller's: :func:`alerts.delivery.deliver`)."""

    def __init__(self, url: str, secret: bytes, *, name: str = "webhook", timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("a webhook notifier needs a non-empty secret")
        self.name, self.url, self._secret, self.timeout_s, self._clock = name, url, secret, timeout_s, clock

    @classmethod
    def from_settings(cls, settings: NotifierConfig, environ: Mapping[str, str]) -> "WebhookNotifier":
        from alerts.delivery import env_value

        return cls(env_value(settings, "url", environ), env_value(settings, "secret", environ).encode("utf-8"),
                   name=settings.name or "webhook", timeout_s=settings.timeout_s)

    def send(self, alert: Alert) -> None:
        sent_at = int(self._clock())
        body = webhook_body(alert.as_dict(), sent_at=sent_at)
        post_json(self.url, body, timeout_s=self.timeout_s,
                  headers={SIGNATURE_HEADER: sign(self._secret, body), TIMESTAMP_HEADER: str(sent_at),
                           DELIVERY_HEADER: f"{alert.id}|{self.name}"})
