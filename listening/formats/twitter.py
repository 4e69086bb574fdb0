"""Twitter/X archives: v1.1 status objects and v2 API responses, as interactions.

Common rules (platform ``twitter``):

* Interaction id ``twitter:<tweet id>``; account native id = the user id, its
  handle the ``screen_name``/``username``. A mention without a user id gets
  the native id ``@`` + the lowercased username (``@Alice`` → ``@alice``).
* Kind, first that applies: ``share`` (a retweet; target the original
  author, text the original's full text, no mentions), ``quote`` (target the
  quoted author, plus the replied-to user when the quote is also a reply),
  ``reply`` (target the replied-to user), ``mention`` (a plain tweet naming
  accounts; targets = mentions), ``post``. ``parent_id`` is the retweeted,
  quoted or replied-to tweet. The author never targets or mentions themself.
* Embedded original tweets (``retweeted_status``, ``quoted_status``,
  ``includes.tweets``) are used for their authors and text; they are not
  emitted as interactions of their own.
* ``lang`` ``und`` and Twitter's pseudo-languages (``qme``, ``qht``, ``zxx``…)
  become ``None``.

v1.1 (``twitter-v1``): one status per line (also a JSON array document, and
the official archive's ``tweets.js``/``tweet.js`` with ``{"tweet": {...}}``
wrappers; archive tweets have no ``user``, so the author comes from the
``account.js`` beside it, and an archive retweet is recognised by its
``RT @name:`` text). Streaming control lines (``delete``, ``limit``…) are
skipped silently.

v2 (``twitter-v2``): one API response page per line (``data`` + ``includes``,
e.g. ``twarc2 search`` output) or one tweet per line (``twarc2 flatten``
output, where ``author`` and ``referenced_tweets[].author_id`` are inlined).
:func:`flatten` first turns a page into self-contained tweets, like twarc.

Issues name the line (JSON Lines) or the array index (JSON documents) and, for
a bad tweet inside a page, its position (``data[3]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agora.records import AccountRef, Interaction, Kind, ParseIssue
from listening.formats.common import (ImportOptions, Item, JsonRecord, clean, decode_text, dedupe_refs,
                                      iter_json_records)

__all__ = ["read_twitter_v1", "read_twitter_v2", "map_status_v1", "flatten", "map_tweet_v2",
           "parse_v1_time", "archive_account"]

PLATFORM = "twitter"
_NO_LANG = {"und", "zxx", "qme", "qht", "qam", "qct", "qst", "art"}
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}
_RT = re.compile(r"^RT @(\w{1,15}):")
_CONTROL_KEYS = {"delete", "limit", "scrub_geo", "status_withheld", "user_withheld", "disconnect", "warning"}


# -- shared helpers ---------------------------------------------------------------------------------


def _user(user_id: Any, handle: Any = None) -> AccountRef:
    uid = clean(user_id)
    name = clean(handle)
    if uid is None:
        if name is None:
            raise ValueError("an account without id or username")
        return AccountRef(PLATFORM, "@" + name.lstrip("@").lower(), name.lstrip("@"))
    return AccountRef(PLATFORM, uid, name)


def _lang(value: Any) -> str | None:
    lang = clean(value)
    return None if lang is None or lang.lower() in _NO_LANG else lang


def _tid(value: Any) -> str:
    tid = clean(value)
    if tid is None:
        raise ValueError("a tweet without an id")
    return f"{PLATFORM}:{tid}"


def _interaction(*, tweet_id: Any, actor: AccountRef, ts: datetime, text: str | None, kind: Kind,
                 targets: list[AccountRef], mentions: list[AccountRef], parent: Any, conversation: Any,
                 lang: Any, source: str | None) -> Interaction:
    if kind is Kind.POST and mentions:
        kind, targets = Kind.MENTION, list(mentions)
    conv = clean(conversation)
    handles = {m.key: m.handle for m in mentions if m.handle}
    targets = [AccountRef(t.platform, t.native_id, handles.get(t.key)) if t.handle is None else t for t in targets]
    return Interaction(id=_tid(tweet_id), platform=PLATFORM, kind=kind, actor=actor, timestamp=ts, text=text,
                       targets=dedupe_refs(targets, without=actor), mentions=dedupe_refs(mentions, without=actor),
                       parent_id=_tid(parent) if clean(parent) else None,
                       conversation_id=f"{PLATFORM}:{conv}" if conv else None, language=_lang(lang), source=source)


def _retweet_target(text: str | None, mentions: list[AccountRef]) -> AccountRef | None:
    """The original author of an ``RT @name: …`` text, from the mentions (or the name alone)."""
    match = _RT.match(text or "")
    if match is None:
        return None
    name = match.group(1).lower()
    for ref in mentions:
        if (ref.handle or "").lower() == name:
            return ref
    return _user(None, match.group(1))


# -- v1.1 -------------------------------------------------------------------------------------------


def parse_v1_time(value: Any) -> datetime:
    """``Wed Oct 10 20:19:24 +0000 2018`` (locale-independent), or an ISO 8601 string, as UTC."""
    text = clean(value)
    if text is None:
        raise ValueError("no 'created_at'")
    parts = text.split()
    if len(parts) == 6 and parts[1] in _MONTHS:
        _, month, day, clock, offset, year = parts
        hour, minute, second = (int(x) for x in clock.split(":"))
        ts = datetime.strptime(offset, "%z").tzinfo
        return datetime(int(year), _MONTHS[month], int(day), hour, minute, second, tzinfo=ts).astimezone(timezone.utc)
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        raise ValueError(f"'created_at' without a time zone: {text!r}")
    return ts


def _v1_text(status: dict[str, Any]) -> str | None:
    extended = status.get("extended_tweet") or {}
    return clean(extended.get("full_text") or status.get("full_text") or status.get("text"))


def _v1_mentions(status: dict[str, Any]) -> list[AccountRef]:
    entities = (status.get("extended_tweet") or {}).get("entities") or status.get("entities") or {}
    return [_user(m.get("id_str") or m.get("id"), m.get("screen_name")) for m in entities.get("user_mentions") or []]


def _v1_user(status: dict[str, Any]) -> AccountRef | None:
    user = status.get("user")
    if not isinstance(user, dict):
        return None
    return _user(user.get("id_str") or user.get("id"), user.get("screen_name"))


def map_status_v1(status: dict[str, Any], *, source: str | None = None,
                  author: AccountRef | None = None) -> Interaction:
    """One v1.1 status (or archive ``{"tweet": …}`` wrapper) as an interaction.

    ``author`` stands in when the status has no ``user`` (archive tweets). Raises
    ``ValueError``/``KeyError``/``TypeError`` for a status that cannot be read.
    """
    if isinstance(status.get("tweet"), dict):
        status = status["tweet"]
    actor = _v1_user(status) or author
    if actor is None:
        raise ValueError("a status without 'user' (and no account.js beside the archive)")
    ts = parse_v1_time(status.get("created_at"))
    text = _v1_text(status)
    mentions = _v1_mentions(status)
    common = dict(tweet_id=status.get("id_str") or status.get("id"), actor=actor, ts=ts,
                  conversation=status.get("conversation_id_str"), lang=status.get("lang"), source=source)
    original = status.get("retweeted_status")
    if isinstance(original, dict):
        target = _v1_user(original)
        return _interaction(**common, text=_v1_text(original) or text, kind=Kind.SHARE,
                            targets=[target] if target else [], mentions=[],
                            parent=original.get("id_str") or original.get("id"))
    rt_target = _retweet_target(text, mentions)
    if rt_target is not None:  # an archive retweet: no retweeted_status, only the RT text
        return _interaction(**common, text=text, kind=Kind.SHARE, targets=[rt_target], mentions=[], parent=None)
    reply_user = clean(status.get("in_reply_to_user_id_str") or status.get("in_reply_to_user_id"))
    reply_status = clean(status.get("in_reply_to_status_id_str") or status.get("in_reply_to_status_id"))
    replied = [_user(reply_user, status.get("in_reply_to_screen_name"))] if reply_user else []
    quoted = status.get("quoted_status") if isinstance(status.get("quoted_status"), dict) else {}
    quoted_id = clean(status.get("quoted_status_id_str") or status.get("quoted_status_id")
                      or quoted.get("id_str") or quoted.get("id"))
    if quoted_id:
        quoted_user = _v1_user(quoted)
        return _interaction(**common, text=text, kind=Kind.QUOTE, targets=([quoted_user] if quoted_user else [])
                            + replied, mentions=mentions, parent=quoted_id)
    if reply_status or reply_user:
        return _interaction(**common, text=text, kind=Kind.REPLY, targets=replied, mentions=mentions,
                            parent=reply_status)
    return _interaction(**common, text=text, kind=Kind.POST, targets=[], mentions=mentions, parent=None)


def archive_account(tweets_js: Path) -> AccountRef | None:
    """The archive owner from ``account.js`` beside ``tweets.js``, or ``None``."""
    path = tweets_js.with_name("account.js")
    if not path.is_file():
        return None
    try:
        records = [r for r in iter_json_records(path) if isinstance(r, JsonRecord)]
        account = records[0].value["account"]
        return _user(account["accountId"], account.get("username"))
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def read_twitter_v1(path: Path, options: ImportOptions = ImportOptions()) -> Iterator[Item]:
    """Read v1.1 statuses from JSON Lines, a JSON array, or an archive ``tweets.js``."""
    text = decode_text(path)
    author = archive_account(path) if text.lstrip().startswith("window.YTD.") else None
    source = str(path)
    for record in iter_json_records(path, text):
        if isinstance(record, ParseIssue):
            yield record
            continue
        value = record.value
        if isinstance(value, dict) and _CONTROL_KEYS & value.keys() and "id_str" not in value:
            continue
        try:
            if not isinstance(value, dict):
                raise ValueError(f"a {type(value).__name__}, expected a status object")
            yield map_status_v1(value, source=f"{source}:{record.position}", author=author)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            yield ParseIssue(source, record.position, f"{record.where()}: {_why(exc)}")


# -- v2 ---------------------------------------------------------------------------------------------


def flatten(page: dict[str, Any]) -> list[dict[str, Any]]:
    """The tweets of one v2 response page, each self-contained (twarc's ``flatten``): ``author`` (the
    user object), ``in_reply_to_user``, and each ``referenced_tweets[]`` entry merged with the
    included tweet and its ``author``, when ``includes`` has them. Pure; the page is not modified."""
    data = page.get("data")
    tweets = [data] if isinstance(data, dict) else list(data or [])
    includes = page.get("includes") or {}
    users = {str(u["id"]): u for u in includes.get("users") or [] if isinstance(u, dict) and "id" in u}
    by_name = {str(u.get("username", "")).lower(): u for u in users.values()}
    known = {str(t["id"]): t for t in [*(includes.get("tweets") or []), *tweets] if isinstance(t, dict) and "id" in t}

    def expand(tweet: dict[str, Any], depth: int) -> dict[str, Any]:
        out = dict(tweet)
        if str(out.get("author_id")) in users:
            out["author"] = users[str(out["author_id"])]
        if str(out.get("in_reply_to_user_id")) in users:
            out["in_reply_to_user"] = users[str(out["in_reply_to_user_id"])]
        mentions = (out.get("entities") or {}).get("mentions")
        if mentions:
            filled = [{**m, "id": m.get("id") or by_name.get(str(m.get("username", "")).lower(), {}).get("id")}
                      for m in mentions if isinstance(m, dict)]
            out["entities"] = {**out["entities"], "mentions": filled}
        refs = []
        for ref in out.get("referenced_tweets") or []:
            found = known.get(str(ref.get("id"))) if isinstance(ref, dict) else None
            if found is not None and depth == 0:
                ref = {**expand(found, depth + 1), "type": ref.get("type"), "id": ref.get("id")}
            refs.append(ref)
        if refs:
            out["referenced_tweets"] = refs
        return out

    return [expand(t, 0) if isinstance(t, dict) else t for t in tweets]


def _v2_author(tweet: dict[str, Any]) -> AccountRef | None:
    author = tweet.get("author") if isinstance(tweet.get("author"), dict) else {}
    uid = tweet.get("author_id") or author.get("id")
    return _user(uid, author.get("username")) if clean(uid) else None


def _v2_text(tweet: dict[str, Any]) -> str | None:
    note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), dict) else {}
    return clean(note.get("text") or tweet.get("text"))


def map_tweet_v2(tweet: dict[str, Any], *, source: str | None = None) -> Interaction:
    """One flattened v2 tweet (see :func:`flatten`) as an interaction; raises for an unreadable one."""
    actor = _v2_author(tweet)
    if actor is None:
        raise ValueError("a tweet without 'author_id'")
    if not clean(tweet.get("created_at")):
        raise ValueError("a tweet without 'created_at' (request tweet.fields=created_at)")
    ts = datetime.fromisoformat(str(tweet["created_at"]))
    if ts.tzinfo is None:
        raise ValueError(f"'created_at' without a time zone: {tweet['created_at']!r}")
    text = _v2_text(tweet)
    entities = tweet.get("entities") or {}
    mentions = [_user(m.get("id"), m.get("username")) for m in entities.get("mentions") or []]
    refs = {r.get("type"): r for r in tweet.get("referenced_tweets") or [] if isinstance(r, dict)}
    common = dict(tweet_id=tweet.get("id"), actor=actor, ts=ts, conversation=tweet.get("conversation_id"),
                  lang=tweet.get("lang"), source=source)
    reply_user = clean(tweet.get("in_reply_to_user_id"))
    reply_handle = (tweet.get("in_reply_to_user") or {}).get("username") if isinstance(
        tweet.get("in_reply_to_user"), dict) else None
    if "retweeted" in refs:
        ref = refs["retweeted"]
        target = _v2_author(ref) or _retweet_target(text, mentions)
        return _interaction(**common, text=_v2_text(ref) or text, kind=Kind.SHARE,
                            targets=[target] if target else [], mentions=[], parent=ref.get("id"))
    replied: list[AccountRef] = []
    if reply_user:
        replied = [_user(reply_user, reply_handle)]
    elif "replied_to" in refs and _v2_author(refs["replied_to"]):
        replied = [_v2_author(refs["replied_to"])]  # type: ignore[list-item]
    if "quoted" in refs:
        ref = refs["quoted"]
        quoted = _v2_author(ref)
        return _interaction(**common, text=text, kind=Kind.QUOTE, targets=([quoted] if quoted else []) + replied,
                            mentions=mentions, parent=ref.get("id"))
    if "replied_to" in refs or reply_user:
        return _interaction(**common, text=text, kind=Kind.REPLY, targets=replied, mentions=mentions,
                            parent=refs.get("replied_to", {}).get("id"))
    return _interaction(**common, text=text, kind=Kind.POST, targets=[], mentions=mentions, parent=None)


def read_twitter_v2(path: Path, options: ImportOptions = ImportOptions()) -> Iterator[Item]:
    """Read v2 response pages or flattened tweets, one JSON value per line (or a JSON array)."""
    source = str(path)
    for record in iter_json_records(path):
        if isinstance(record, ParseIssue):
            yield record
            continue
        value = record.value
        if not isinstance(value, dict):
            yield ParseIssue(source, record.position, f"{record.where()}: a {type(value).__name__}, "
                                                      "expected a v2 page or tweet object")
            continue
        if "data" in value or "includes" in value or "meta" in value or "errors" in value:
            tweets = flatten(value)
            label = "data[{}]" if isinstance(value.get("data"), list) else "data"
        elif "id" in value:
            tweets, label = [value], "tweet"
        else:
            yield ParseIssue(source, record.position, f"{record.where()}: neither a v2 page ('data') nor a tweet "
                                                      "('id')")
            continue
        for k, tweet in enumerate(tweets):
            where = label.format(k)
            try:
                if not isinstance(tweet, dict):
                    raise ValueError(f"a {type(tweet).__name__}, expected a tweet object")
                yield map_tweet_v2(tweet, source=f"{source}:{record.position}")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                yield ParseIssue(source, record.position, f"{record.where()}, {where}: {_why(exc)}")


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return str(exc) or type(exc).__name__
