"""The webhook receivers: WhatsApp Business Cloud, Meta (Page, Instagram, Messenger) and Telegram.

Routes (``router``, prefix ``/webhooks``):

* ``GET /webhooks/whatsapp`` and ``GET /webhooks/meta``: Meta's subscription
  handshake. ``hub.mode=subscribe`` with the right ``hub.verify_token`` →
  200 with ``hub.challenge`` as plain text; anything else → 403.
* ``POST /webhooks/whatsapp`` and ``POST /webhooks/meta``: ``X-Hub-Signature-256:
  sha256=<hex>`` must be the HMAC-SHA256 of the raw body keyed with the app
  secret (compared in constant time): missing → 401, wrong → 403.
* ``POST /webhooks/telegram``: ``X-Telegram-Bot-Api-Secret-Token`` must equal
  the secret given to ``setWebhook``: missing → 401, wrong → 403.

Then the body must be a JSON payload of the right family (``object`` and
``entry`` for Meta, an ``update_id`` for Telegram), else 400 with the reason,
logged. A good payload is appended to the durable inbox
(:class:`listening.inbox.Inbox`, a Redis stream) and only then answered 200:
processing (mapping, storing in the graph) happens asynchronously, so the
platforms get their answer in milliseconds and nothing acknowledged is lost.
When the inbox cannot be written the answer is 503 and the platform retries.
A receiver whose secret is not set answers 503 and stores nothing.

Secrets come from the environment only: ``AGORA_META_APP_SECRET``,
``AGORA_META_VERIFY_TOKEN``, ``AGORA_WHATSAPP_APP_SECRET`` and
``AGORA_WHATSAPP_VERIFY_TOKEN`` (default: the Meta ones, for one app serving
both), ``AGORA_TELEGRAM_SECRET_TOKEN``.

:func:`create_webhook_app` builds an app with just these receivers and, unless
told otherwise, a background thread that processes the inbox into the graph
(``agora listen``); another app (the dashboard's) can mount ``router`` after
calling :func:`configure`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from listening.connectors import meta, telegram, whatsapp
from listening.connectors.base import MappingError
from listening.inbox import Inbox, run_processor

__all__ = ["router", "create_webhook_app", "configure", "WebhookSecrets", "sign", "SIGNATURE_HEADER",
           "TELEGRAM_HEADER"]

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Hub-Signature-256"
TELEGRAM_HEADER = "X-Telegram-Bot-Api-Secret-Token"

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@dataclass(frozen=True)
class WebhookSecrets:
    """The receivers' secrets; ``None`` leaves that receiver switched off (503)."""

    meta_app_secret: str | None = None
    meta_verify_token: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    telegram_secret_token: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "WebhookSecrets":
        env = os.environ if environ is None else environ
        get = lambda name: env.get(name) or None  # noqa: E731
        return cls(meta_app_secret=get("AGORA_META_APP_SECRET"), meta_verify_token=get("AGORA_META_VERIFY_TOKEN"),
                   whatsapp_app_secret=get("AGORA_WHATSAPP_APP_SECRET") or get("AGORA_META_APP_SECRET"),
                   whatsapp_verify_token=get("AGORA_WHATSAPP_VERIFY_TOKEN") or get("AGORA_META_VERIFY_TOKEN"),
                   telegram_secret_token=get(telegram.SECRET_ENV))


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` value of ``body`` under ``secret``.

    >>> sign(b'{}', 'app-secret')
    'sha256=bd9549eb87a414d3df28b5a60ea86d4a11e2f1c6258edbd18f56d3c23c0f908d'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class _State:
    secrets: WebhookSecrets
    inbox: Inbox
    max_body_bytes: int


def configure(app: FastAPI, config: Any, *, inbox: Inbox | None = None,
              secrets: WebhookSecrets | None = None) -> None:
    """Give ``app`` what :data:`router` needs: the secrets (from the environment) and the inbox."""
    app.state.agora_webhooks = _State(secrets or WebhookSecrets.from_environ(),
                                      inbox or Inbox.from_config(config),
                                      config.listening.webhooks.max_body_bytes)


def _state(request: Request) -> _State:
    return request.app.state.agora_webhooks  # type: ignore[no-any-return]


def _problem(status: int, reason: str, source: str) -> JSONResponse:
    (log.warning if status < 500 else log.error)("webhook %s refused (%d): %s", source, status, reason)
    return JSONResponse({"ok": False, "error": reason}, status_code=status)


def _handshake(request: Request, token: str | None, source: str) -> Response:
    q = request.query_params
    if token is None:
        return _problem(503, f"{source} receiver not configured (no verify token in the environment)", source)
    if q.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            (q.get("hub.verify_token") or "").encode(), token.encode()):
        return _problem(403, "verification refused: wrong hub.mode or hub.verify_token", source)
    return PlainTextResponse(q.get("hub.challenge") or "")


async def _receive(request: Request, source: str, secret: str | None, check: Callable[[bytes], None],
                   verify: Callable[[Request, bytes, str], int | None]) -> Response:
    state = _state(request)
    if secret is None:
        return _problem(503, f"{source} receiver not configured (no secret in the environment)", source)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > state.max_body_bytes:
        return _problem(413, f"body over {state.max_body_bytes} bytes", source)
    body = await request.body()
    if len(body) > state.max_body_bytes:
        return _problem(413, f"body over {state.max_body_bytes} bytes", source)
    refused = verify(request, body, secret)
    if refused is not None:
        what = "missing" if refused == 401 else "does not match"
        return _problem(refused, f"signature {what}", source)
    try:
        check(body)
    except (MappingError, ValueError) as exc:
        return _problem(400, f"malformed payload: {exc}", source)
    try:
        entry = state.inbox.put(source, body)
    except redis.RedisError as exc:
        return _problem(503, f"inbox unavailable, not acknowledged: {type(exc).__name__}", source)
    return JSONResponse({"ok": True, "id": entry})


def _hub_signature(request: Request, body: bytes, secret: str) -> int | None:
    given = request.headers.get(SIGNATURE_HEADER)
    if not given:
        return 401
    return None if hmac.compare_digest(given.strip().encode(), sign(body, secret).encode()) else 403


def _telegram_token(request: Request, body: bytes, secret: str) -> int | None:
    given = request.headers.get(TELEGRAM_HEADER)
    if not given:
        return 401
    return None if hmac.compare_digest(given.encode(), secret.encode()) else 403


def _json_checked(check: Callable[[Any], Any]) -> Callable[[bytes], None]:
    def run(body: bytes) -> None:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MappingError(f"body is not JSON ({exc})") from None
        check(payload)
    return run


@router.get("/whatsapp", response_class=PlainTextResponse)
async def whatsapp_verify(request: Request) -> Response:
    """Meta's subscription handshake for the WhatsApp Business Account webhook."""
    return _handshake(request, _state(request).secrets.whatsapp_verify_token, "whatsapp")


@router.post("/whatsapp")
async def whatsapp_receive(request: Request) -> Response:
    """A signed WhatsApp Cloud API notification (messages, statuses)."""
    return await _receive(request, "whatsapp", _state(request).secrets.whatsapp_app_secret,
                          _json_checked(whatsapp.check_payload), _hub_signature)


@router.get("/meta", response_class=PlainTextResponse)
async def meta_verify(request: Request) -> Response:
    """Meta's subscription handshake for the Page / Instagram / Messenger webhooks."""
    return _handshake(request, _state(request).secrets.meta_verify_token, "meta")


@router.post("/meta")
async def meta_receive(request: Request) -> Response:
    """A signed Page feed, Instagram or Messenger notification."""
    return await _receive(request, "meta", _state(request).secrets.meta_app_secret,
                          _json_checked(meta.check_payload), _hub_signature)


@router.post("/telegram")
async def telegram_receive(request: Request) -> Response:
    """One Telegram ``Update`` (webhook mode), with the secret-token header."""
    return await _receive(request, "telegram", _state(request).secrets.telegram_secret_token,
                          _json_checked(telegram.check_update), _telegram_token)


def create_webhook_app(config: Any, *, inbox: Inbox | None = None, secrets: WebhookSecrets | None = None,
                       store: Any = None, process: bool = True) -> FastAPI:
    """An app serving only the webhook receivers (``agora listen``).

    With ``process`` (the default) a background thread drains the inbox into
    ``store`` (opened from ``config`` at start-up when not given) while the app
    runs; with ``process=False`` the app only receives, and another process
    (``agora listen --process-only``) stores.
    """
    stop = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = None
        opened = None
        if process:
            graph = store
            if graph is None:
                from agora.connections import open_store

                graph = opened = open_store(config)
            thread = threading.Thread(target=run_processor, name="agora-webhook-processor", daemon=True,
                                      args=(app.state.agora_webhooks.inbox, graph, stop),
                                      kwargs={"brand_accounts": list(config.brand_accounts)})
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=30)
            if opened is not None:
                opened.close()

    app = FastAPI(title="Agora webhook receivers", lifespan=lifespan)
    configure(app, config, inbox=inbox, secrets=secrets)
    app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True}

    return app
