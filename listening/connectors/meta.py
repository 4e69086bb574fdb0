"""Meta webhooks: Facebook Page comments, Instagram comments and mentions, Messenger messages (pure mapping).

Three payload families, all ``{"object": ..., "entry": [...]}`` and signed the
same way as WhatsApp's (``X-Hub-Signature-256``):

* ``object: page``, ``entry[].changes[]`` with ``field: feed``: Page feed
  events. ``item: comment`` (``verb`` ``add`` or ``edited``) is a ``reply``
  from ``facebook:<from.id>`` with id ``facebook:<comment_id>``; on a post
  (``parent_id == post_id``) it addresses the Page (``facebook:<entry.id>``),
  on a comment it has ``parent_id`` that comment and no target (its author
  is not in the payload: the webhook processor adds it from the graph,
  :func:`listening.inbox.address_parent_authors`). ``item: reaction`` is a ``reaction`` to the Page's
  post, id ``facebook:reaction:<post_id>:<from.id>`` (one per person and post:
  a changed reaction replaces the old one). ``verb: remove`` and other items
  are ignored.
* ``object: instagram``, ``changes[]`` with ``field: comments``: a ``reply``
  from ``instagram:<from.id>`` (handle ``from.username``) on the business's
  media (``instagram:<entry.id>`` addressed) or, with ``parent_id``, on a
  comment; the time is ``entry.time`` (the value carries none). ``field:
  mentions`` (``{media_id, comment_id}``) carries no author: it is reported by
  :func:`skipped` and kept raw, not guessed.
* ``entry[].messaging[]`` (``object: page`` → platform ``messenger``, ``object:
  instagram`` → ``instagram``): a ``message`` (``reply`` with
  ``message.reply_to.mid``) from ``sender.id`` to ``recipient.id``, id
  ``<platform>:<mid>``, ``timestamp`` in milliseconds. Echoes of the Page's own
  messages (``is_echo``) are kept: the Page is the actor. Deliveries, reads and
  reactions in ``messaging`` are ignored.

Every id is the platform's, so Meta's at-least-once redeliveries are stored once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from dateutil.parser import isoparse

from agora.records import AccountRef, Interaction, Kind
from listening.connectors.base import MappingError, PushConnector, register
from listening.formats.common import clean, utc_from_epoch

__all__ = ["MetaConnector", "map_payload", "skipped", "check_payload", "OBJECTS"]

OBJECTS = ("page", "instagram")


def check_payload(payload: Any) -> list[dict[str, Any]]:
    """The ``entry`` list of a Page or Instagram payload; :class:`MappingError` naming what is wrong otherwise.

    >>> check_payload({"object": "page", "entry": [{"id": "1"}]})
    [{'id': '1'}]
    """
    if not isinstance(payload, dict):
        raise MappingError(f"payload is a {type(payload).__name__}, expected a JSON object")
    if payload.get("object") not in OBJECTS:
        raise MappingError(f"'object' is {payload.get('object')!r}, expected 'page' or 'instagram'")
    entry = payload.get("entry")
    if not isinstance(entry, list) or not all(isinstance(e, dict) for e in entry):
        raise MappingError("'entry' must be a list of objects")
    return entry


def _time(value: Any, where: str) -> datetime:
    if value is None:
        raise MappingError(f"{where}: no time")
    if isinstance(value, (int, float)) or str(value).isdigit():
        return utc_from_epoch(value)
    try:
        ts = isoparse(str(value))
    except ValueError:
        raise MappingError(f"{where}: bad time {value!r}") from None
    if ts.tzinfo is None:
        raise MappingError(f"{where}: time without a zone {value!r}")
    return ts


def _need(obj: dict[str, Any], key: str, where: str) -> str:
    value = clean(obj.get(key))
    if value is None:
        raise MappingError(f"{where}: missing '{key}'")
    return value


def _account(platform: str, obj: Any, where: str) -> AccountRef:
    if not isinstance(obj, dict):
        raise MappingError(f"{where}: missing 'from'")
    return AccountRef(platform, _need(obj, "id", where), clean(obj.get("username") or obj.get("name")))


def _feed(owner: AccountRef, value: dict[str, Any], fallback_time: Any, where: str) -> Interaction | None:
    item, verb = value.get("item"), value.get("verb")
    if verb not in ("add", "edited") or item not in ("comment", "reaction"):
        return None
    actor = _account("facebook", value.get("from"), where)
    ts = _time(value.get("created_time", fallback_time), where)
    post = _need(value, "post_id", where)
    if item == "reaction":
        return Interaction(id=f"facebook:reaction:{post}:{actor.native_id}", platform="facebook", kind=Kind.REACTION,
                           actor=actor, timestamp=ts, text=clean(value.get("reaction_type")), targets=(owner,),
                           parent_id=f"facebook:{post}", conversation_id=f"facebook:{post}", source="meta-webhook")
    comment = _need(value, "comment_id", where)
    parent = clean(value.get("parent_id")) or post
    return Interaction(id=f"facebook:{comment}", platform="facebook", kind=Kind.REPLY, actor=actor, timestamp=ts,
                       text=clean(value.get("message")), targets=(owner,) if parent == post and actor != owner else (),
                       parent_id=f"facebook:{parent}", conversation_id=f"facebook:{post}", source="meta-webhook")


def _ig_comment(owner: AccountRef, value: dict[str, Any], entry_time: Any, where: str) -> Interaction:
    actor = _account("instagram", value.get("from"), where)
    comment = _need(value, "id", where)
    media = clean((value.get("media") or {}).get("id"))
    parent = clean(value.get("parent_id"))
    return Interaction(id=f"instagram:{comment}", platform="instagram", kind=Kind.REPLY, actor=actor,
                       timestamp=_time(entry_time, where), text=clean(value.get("text")),
                       targets=() if parent or actor == owner else (owner,),
                       parent_id=f"instagram:{parent or media}" if (parent or media) else None,
                       conversation_id=f"instagram:{media}" if media else None, source="meta-webhook")


def _messaging(platform: str, event: dict[str, Any], where: str) -> Interaction | None:
    message = event.get("message")
    if not isinstance(message, dict):
        return None  # delivery, read, reaction, postback: not a message
    sender = AccountRef(platform, _need(event.get("sender") or {}, "id", f"{where}.sender"))
    recipient = AccountRef(platform, _need(event.get("recipient") or {}, "id", f"{where}.recipient"))
    mid = _need(message, "mid", f"{where}.message")
    reply_to = clean((message.get("reply_to") or {}).get("mid"))
    page, user = (sender, recipient) if message.get("is_echo") else (recipient, sender)
    return Interaction(id=f"{platform}:{mid}", platform=platform, kind=Kind.REPLY if reply_to else Kind.MESSAGE,
                       actor=sender, timestamp=_time(event.get("timestamp"), where), text=clean(message.get("text")),
                       targets=(recipient,), parent_id=f"{platform}:{reply_to}" if reply_to else None,
                       conversation_id=f"{platform}:{page.native_id}:{user.native_id}", source="meta-webhook")


def _walk(payload: Any) -> Iterator[tuple[str, Interaction | None | str]]:
    """``(where, interaction | None | reason skipped)`` for every event of a payload."""
    obj = payload.get("object") if isinstance(payload, dict) else None
    for i, entry in enumerate(check_payload(payload)):
        owner_platform = "facebook" if obj == "page" else "instagram"
        owner = AccountRef(owner_platform, _need(entry, "id", f"entry[{i}]"))
        for j, change in enumerate(entry.get("changes") or []):
            where = f"entry[{i}].changes[{j}]"
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise MappingError(f"{where}: no 'value' object")
            field, value = change.get("field"), change["value"]
            if obj == "page" and field == "feed":
                yield where, _feed(owner, value, entry.get("time"), where)
            elif obj == "instagram" and field == "comments":
                yield where, _ig_comment(owner, value, entry.get("time"), where)
            elif obj == "instagram" and field == "mentions":
                yield where, (f"{where}: an Instagram mention (media {value.get('media_id')}, comment "
                              f"{value.get('comment_id')}) carries no author; fetch it from the Graph API")
        for j, event in enumerate(entry.get("messaging") or []):
            where = f"entry[{i}].messaging[{j}]"
            if not isinstance(event, dict):
                raise MappingError(f"{where}: not an object")
            yield where, _messaging("messenger" if obj == "page" else "instagram", event, where)


def map_payload(payload: Any) -> list[Interaction]:
    """Every comment, reaction and message of one Meta webhook payload, in payload order (pure)."""
    return [item for _, item in _walk(payload) if isinstance(item, Interaction)]


def skipped(payload: Any) -> list[str]:
    """Why each event of ``payload`` that carries content but cannot become an interaction was skipped."""
    return [item for _, item in _walk(payload) if isinstance(item, str)]


@register("meta")
class MetaConnector(PushConnector):
    """Push-only: payloads arrive at ``POST /webhooks/meta``; :meth:`fetch` yields nothing."""

    name = "meta"
    platform = "facebook"

    def to_interactions(self, raw: Any) -> list[Interaction]:
        return map_payload(raw)
