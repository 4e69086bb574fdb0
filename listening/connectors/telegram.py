"""Telegram Bot API: ``getUpdates`` polling with offsets, and the pure mapping of ``Update`` objects.

**Fetching** (:class:`TelegramConnector`, ``listening.telegram.mode: polling``):
``getUpdates`` with ``offset`` = the stored cursor, up to 100 updates a call,
until an empty answer or ``max_pages`` calls. Each answer is one
:class:`~listening.connectors.base.Page` whose cursor is the next offset
(highest ``update_id`` + 1); Telegram forgets updates below the offset only
when it is *sent*, so a crash before the cursor is stored makes the next pass
fetch the same updates again (stored once). A 429 answer carries
``parameters.retry_after``: waited when at most ``max_wait_s``, otherwise
:class:`~listening.connectors.base.RateLimited` (the crawl is rescheduled).
Other errors and timeouts are retried with exponential backoff, a bounded
number of times, then raised. In webhook mode (``POST /webhooks/telegram``,
checked with the ``X-Telegram-Bot-Api-Secret-Token`` header) polling is off:
Telegram refuses ``getUpdates`` while a webhook is set.

**Mapping** (:func:`map_update`, platform ``telegram``), chosen to meet the
Telegram Desktop export reader (:mod:`listening.formats.telegram`):

* ``message``, ``edited_message``, ``channel_post``, ``edited_channel_post``
  are read; an edit has the same id as the original and updates its text.
* Chat id: the Bot API's ``-100<id>`` (supergroups, channels) and ``-<id>``
  (basic groups) become the export's ``<id>``. Message id
  ``telegram:<chat id>:<message_id>``; conversation ``telegram:<chat id>``.
* Author: ``from.id`` → ``user<id>`` (the export's ``from_id``), handle the
  ``@username`` or else the full name; a channel post's ``sender_chat`` →
  ``channel<id>``.
* ``reply_to_message`` → ``reply`` to its author (``parent_id`` its id);
  otherwise a ``message`` whose targets are the mentioned accounts
  (entities ``mention`` → ``@name`` lowercased, ``text_mention`` → ``user<id>``).
  The export reader's group-chat rule (answering the last speakers) needs the
  chat's history and is not applied to live updates.
* A ``contact`` message whose ``user_id`` is the sender's own is the user
  stating their phone number: :func:`map_claims` returns it as an
  :class:`~listening.connectors.base.IdentityClaim` (identity resolution links
  the account to the WhatsApp account of that number).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from agora.records import AccountRef, Interaction, Kind
from listening.connectors.base import IdentityClaim, MappingError, Page, RateLimited, register
from listening.formats.common import clean, dedupe_refs, utc_from_epoch

__all__ = ["TelegramConnector", "map_update", "map_updates", "map_claims", "check_update", "chat_id", "TOKEN_ENV",
           "SECRET_ENV"]

log = logging.getLogger(__name__)
PLATFORM = "telegram"
TOKEN_ENV = "AGORA_TELEGRAM_BOT_TOKEN"
SECRET_ENV = "AGORA_TELEGRAM_SECRET_TOKEN"
_MESSAGE_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post")


def chat_id(chat: dict[str, Any]) -> str:
    """The export-style chat id of a Bot API ``Chat``.

    >>> chat_id({"id": -1001234567890, "type": "supergroup"}), chat_id({"id": -42, "type": "group"})
    ('1234567890', '42')
    """
    raw = str(chat.get("id"))
    if chat.get("type") in ("supergroup", "channel") and raw.startswith("-100"):
        return raw[4:]
    return raw.lstrip("-")


def _user(user: Any) -> AccountRef | None:
    if not isinstance(user, dict) or clean(user.get("id")) is None:
        return None
    name = clean(user.get("username")) or clean(" ".join(filter(None, (user.get("first_name"), user.get("last_name")))))
    return AccountRef(PLATFORM, f"user{clean(user['id'])}", name)


def _author(msg: dict[str, Any]) -> AccountRef | None:
    sender_chat = msg.get("sender_chat")
    if isinstance(sender_chat, dict) and clean(sender_chat.get("id")):
        return AccountRef(PLATFORM, f"channel{chat_id(sender_chat)}", clean(sender_chat.get("title")))
    return _user(msg.get("from"))


def _mentions(msg: dict[str, Any]) -> list[AccountRef]:
    text = msg.get("text") or msg.get("caption") or ""
    out = []
    for e in msg.get("entities") or msg.get("caption_entities") or []:
        if e.get("type") == "mention":
            # offsets count UTF-16 code units
            units = text.encode("utf-16-le")
            name = units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le").lstrip("@")
            if name:
                out.append(AccountRef(PLATFORM, "@" + name.lower(), name))
        elif e.get("type") == "text_mention" and _user(e.get("user")):
            out.append(_user(e["user"]))  # type: ignore[arg-type]
    return out


def check_update(update: Any) -> dict[str, Any]:
    """``update`` if it looks like a Bot API ``Update`` (an object with an integer ``update_id``)."""
    if not isinstance(update, dict):
        raise MappingError(f"update is a {type(update).__name__}, expected a JSON object")
    if not isinstance(update.get("update_id"), int) or isinstance(update.get("update_id"), bool):
        raise MappingError("'update_id' must be an integer")
    return update


def map_update(update: Any) -> Interaction | None:
    """One ``Update`` as an interaction, or ``None`` for updates that are not messages (pure)."""
    check_update(update)
    key = next((k for k in _MESSAGE_KEYS if isinstance(update.get(k), dict)), None)
    if key is None:
        return None
    msg = update[key]
    where = f"update {update['update_id']}.{key}"
    chat = msg.get("chat")
    if not isinstance(chat, dict) or clean(chat.get("id")) is None or clean(msg.get("message_id")) is None:
        raise MappingError(f"{where}: missing 'chat.id' or 'message_id'")
    actor = _author(msg)
    if actor is None:
        raise MappingError(f"{where}: no 'from' and no 'sender_chat'")
    try:
        ts = utc_from_epoch(msg["date"])
    except (KeyError, TypeError, ValueError):
        raise MappingError(f"{where}: missing or bad 'date'") from None
    chat_key = chat_id(chat)
    mentions = _mentions(msg)
    reply = msg.get("reply_to_message") if isinstance(msg.get("reply_to_message"), dict) else None
    replied = _author(reply) if reply else None
    return Interaction(
        id=f"{PLATFORM}:{chat_key}:{msg['message_id']}", platform=PLATFORM,
        kind=Kind.REPLY if reply else Kind.MESSAGE, actor=actor, timestamp=ts,
        text=clean(msg.get("text") or msg.get("caption")),
        targets=dedupe_refs([replied] if replied else mentions, without=actor),
        mentions=dedupe_refs(mentions, without=actor),
        parent_id=f"{PLATFORM}:{chat_key}:{reply['message_id']}" if reply and reply.get("message_id") else None,
        conversation_id=f"{PLATFORM}:{chat_key}", source="telegram-bot-api")


def map_updates(raw: Any) -> list[Interaction]:
    """One ``Update`` (webhook) or a list of them (a ``getUpdates`` result) as interactions (pure)."""
    updates = raw if isinstance(raw, list) else [raw]
    return [it for it in (map_update(u) for u in updates) if it is not None]


def map_claims(raw: Any) -> list[IdentityClaim]:
    """Phone numbers users state for themselves: a ``contact`` message whose ``user_id`` is its sender's (pure).

    A contact card of someone else says nothing about the sender and gives no claim.
    """
    claims = []
    for update in raw if isinstance(raw, list) else [raw]:
        check_update(update)
        msg = next((update[k] for k in _MESSAGE_KEYS if isinstance(update.get(k), dict)), None)
        contact = msg.get("contact") if msg else None
        sender = _user(msg.get("from")) if msg else None
        if not isinstance(contact, dict) or sender is None or clean(contact.get("phone_number")) is None:
            continue
        if clean(contact.get("user_id")) != clean(msg["from"].get("id")):
            continue
        where = f"{PLATFORM}:{chat_id(msg.get('chat') or {})}:{msg.get('message_id')}"
        claims.append(IdentityClaim(sender, "phone", str(contact["phone_number"]),
                                    f"shared their own contact card in {where}"))
    return claims


@register("telegram")
class TelegramConnector:
    """``getUpdates`` polling (see the module docstring). The bot token comes from ``$AGORA_TELEGRAM_BOT_TOKEN``."""

    name = "telegram"
    platform = PLATFORM
    push = False

    def __init__(self, config: Any = None, *, token: str | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, api_url: str = "https://api.telegram.org") -> None:
        settings = getattr(getattr(config, "listening", None), "telegram", None)
        self.max_pages = getattr(settings, "max_pages", 10)
        self.max_wait_s = getattr(settings, "max_wait_s", 60.0)
        self.timeout_s = getattr(settings, "timeout_s", 30.0)
        self.max_retries = getattr(settings, "max_retries", 4)
        self.polling = getattr(settings, "mode", "polling") == "polling"
        self._token = token
        self.session = session or requests.Session()
        self.sleep = sleep
        self.api_url = api_url.rstrip("/")

    def _call(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        token = self._token or os.environ.get(TOKEN_ENV)
        if not token:
            raise RuntimeError(f"telegram: no bot token; set ${TOKEN_ENV}")
        delay = 1.0
        for attempt in range(self.max_retries + 1):
            try:
                resp = self.session.post(f"{self.api_url}/bot{token}/{method}", json=params, timeout=self.timeout_s)
                body = resp.json()
            except (requests.RequestException, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}".replace(token, "<token>")
            else:
                if body.get("ok"):
                    return list(body.get("result") or [])
                if resp.status_code == 429:
                    retry_after = float((body.get("parameters") or {}).get("retry_after", 1))
                    if retry_after > self.max_wait_s:
                        raise RateLimited("telegram", time.time() + retry_after, body.get("description", ""))
                    log.warning("telegram: 429, waiting %.0f s as asked", retry_after)
                    self.sleep(retry_after)
                    continue
                error = f"HTTP {resp.status_code}: {body.get('description')}"
                if resp.status_code < 500:
                    raise RuntimeError(f"telegram {method}: {error}")
            if attempt == self.max_retries:
                raise RuntimeError(f"telegram {method}: {error} (after {attempt + 1} attempts)")
            log.warning("telegram %s: %s; retry %d/%d in %.0f s", method, error, attempt + 1, self.max_retries, delay)
            self.sleep(delay)
            delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    def fetch(self, cursor: str | None) -> Iterator[Page]:
        if not self.polling:
            return
        offset = int(cursor) if cursor else None
        for _ in range(self.max_pages):
            params: dict[str, Any] = {"limit": 100, "timeout": 0,
                                      "allowed_updates": list(_MESSAGE_KEYS)}
            if offset is not None:
                params["offset"] = offset
            updates = self._call("getUpdates", params)
            if not updates:
                return
            offset = max(int(u["update_id"]) for u in updates) + 1
            yield Page(updates, str(offset))

    def to_interactions(self, raw: Any) -> list[Interaction]:
        return map_updates(raw)

    def to_claims(self, raw: Any) -> list[IdentityClaim]:
        return map_claims(raw)
