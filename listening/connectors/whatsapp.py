"""WhatsApp Business Cloud API webhooks: pure mapping of the payloads Meta pushes.

Payload shape (``field: messages``)::

    {"object": "whatsapp_business_account",
     "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
         "messaging_product": "whatsapp",
         "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1065..."},
         "contacts": [{"profile": {"name": "Giulia"}, "wa_id": "393331234567"}],
         "messages": [{"from": "393331234567", "id": "wamid.HBg...", "timestamp": "1732550000",
                       "type": "text", "text": {"body": "..."}, "context": {"from": "...", "id": "wamid..."}}],
         "statuses": [{"id": "wamid...", "status": "read", "timestamp": "...", "recipient_id": "..."}]}}]}]}

Rules (platform ``whatsapp``):

* A customer's message is a ``message`` from ``whatsapp:+<wa_id>`` (the same
  ``+<digits>`` key the chat-export reader gives a phone author, so live and
  exported chats meet) to the business number ``whatsapp:+<display_phone_number>``;
  a message with ``context.id`` is a ``reply`` (``parent_id`` that message);
  ``type: reaction`` is a ``reaction`` to ``reaction.message_id``. The handle
  is the contact's profile name. Text: ``text.body``, a media caption, a
  button or interactive reply title; other media have no text.
* Interaction id ``whatsapp:<wamid>``; Meta may deliver a message twice and it
  is stored once. Conversation ``whatsapp:<business>:<customer>``.
* ``statuses`` (sent/delivered/read/failed receipts of the business's own
  messages) are not interactions: :func:`map_statuses` returns them as
  :class:`Receipt` records.
* Unknown change fields (``account_update``, templates...) are ignored;
  ``messages`` of ``type: unsupported`` too. A payload that is not a
  WhatsApp Business Account payload raises :class:`MappingError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agora.records import AccountRef, Interaction, Kind
from listening.connectors.base import MappingError, PushConnector, register
from listening.formats.common import clean, utc_from_epoch

__all__ = ["WhatsAppConnector", "Receipt", "map_payload", "map_statuses", "check_payload", "OBJECT"]

PLATFORM = "whatsapp"
OBJECT = "whatsapp_business_account"
_CAPTIONED = ("image", "video", "document")


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery status of one of the business's messages (``whatsapp:<wamid>``)."""

    message_id: str
    status: str
    timestamp: datetime
    recipient: AccountRef | None


def _phone(value: Any) -> str:
    digits = "".join(ch for ch in str(clean(value) or "") if ch.isdigit())
    if not digits:
        raise MappingError(f"not a phone number: {value!r}")
    return "+" + digits


def check_payload(payload: Any) -> list[dict[str, Any]]:
    """The ``entry`` list of a WhatsApp payload; :class:`MappingError` naming what is wrong otherwise.

    >>> check_payload({"object": "page", "entry": []})
    Traceback (most recent call last):
    ...
    listening.connectors.base.MappingError: 'object' is 'page', expected 'whatsapp_business_account'
    """
    if not isinstance(payload, dict):
        raise MappingError(f"payload is a {type(payload).__name__}, expected a JSON object")
    if payload.get("object") != OBJECT:
        raise MappingError(f"'object' is {payload.get('object')!r}, expected {OBJECT!r}")
    entry = payload.get("entry")
    if not isinstance(entry, list) or not all(isinstance(e, dict) for e in entry):
        raise MappingError("'entry' must be a list of objects")
    return entry


def _values(payload: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, entry in enumerate(check_payload(payload)):
        changes = entry.get("changes") or []
        if not isinstance(changes, list):
            raise MappingError(f"entry[{i}].changes must be a list")
        for j, change in enumerate(changes):
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise MappingError(f"entry[{i}].changes[{j}]: no 'value' object")
            if change.get("field") == "messages":
                yield f"entry[{i}].changes[{j}]", change["value"]


def _text(msg: dict[str, Any]) -> str | None:
    kind = msg.get("type")
    body = msg.get(kind) if isinstance(msg.get(kind), dict) else {}
    if kind == "text":
        return clean(body.get("body"))
    if kind in _CAPTIONED:
        return clean(body.get("caption"))
    if kind == "button":
        return clean(body.get("text"))
    if kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        return clean(reply.get("title"))
    return None


def map_payload(payload: Any, *, source: str = "whatsapp-webhook") -> list[Interaction]:
    """Every customer message and reaction of one webhook payload, in payload order (pure)."""
    out: list[Interaction] = []
    for where, value in _values(payload):
        meta = value.get("metadata") or {}
        business = AccountRef(PLATFORM, _phone(meta.get("display_phone_number") or meta.get("phone_number_id")))
        names = {str(c.get("wa_id")): clean((c.get("profile") or {}).get("name"))
                 for c in value.get("contacts") or [] if isinstance(c, dict)}
        for k, msg in enumerate(value.get("messages") or []):
            here = f"{where}.messages[{k}]"
            if not isinstance(msg, dict):
                raise MappingError(f"{here}: not an object")
            if msg.get("type") == "unsupported":
                continue
            try:
                wamid = clean(msg["id"])
                sender = clean(msg["from"])
                ts = utc_from_epoch(msg["timestamp"])
            except (KeyError, TypeError, ValueError) as exc:
                raise MappingError(f"{here}: missing or bad field {exc}") from None
            if wamid is None or sender is None:
                raise MappingError(f"{here}: empty 'id' or 'from'")
            actor = AccountRef(PLATFORM, _phone(sender), names.get(sender))
            parent = clean((msg.get("context") or {}).get("id"))
            kind = Kind.REPLY if parent else Kind.MESSAGE
            text = _text(msg)
            if msg.get("type") == "reaction":
                reaction = msg.get("reaction") or {}
                kind, parent, text = Kind.REACTION, clean(reaction.get("message_id")), clean(reaction.get("emoji"))
            out.append(Interaction(
                id=f"{PLATFORM}:{wamid}", platform=PLATFORM, kind=kind, actor=actor, timestamp=ts, text=text,
                targets=(business,), parent_id=f"{PLATFORM}:{parent}" if parent else None,
                conversation_id=f"{PLATFORM}:{business.native_id}:{actor.native_id}", source=source))
    return out


def map_statuses(payload: Any) -> list[Receipt]:
    """The delivery receipts (``statuses``) of one webhook payload (pure)."""
    out = []
    for where, value in _values(payload):
        for k, st in enumerate(value.get("statuses") or []):
            try:
                recipient = clean(st.get("recipient_id"))
                out.append(Receipt(f"{PLATFORM}:{clean(st['id'])}", str(st["status"]), utc_from_epoch(st["timestamp"]),
                                   AccountRef(PLATFORM, _phone(recipient)) if recipient else None))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise MappingError(f"{where}.statuses[{k}]: missing or bad field {exc}") from None
    return out


@register("whatsapp")
class WhatsAppConnector(PushConnector):
    """Push-only: payloads arrive at ``POST /webhooks/whatsapp``; :meth:`fetch` yields nothing."""

    name = "whatsapp"
    platform = PLATFORM

    def to_interactions(self, raw: Any) -> list[Interaction]:
        return map_payload(raw)
