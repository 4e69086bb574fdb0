"""Privacy controls: erase a person, pseudonymise handles, retain raw text for N days.

* :func:`forget_person` (GDPR art. 17) deletes a person, their accounts and
  every message those accounts posted; alerts about the person are deleted,
  alerts that quote their messages lose those quotes, other people's messages
  that mention them have the handle replaced by ``[erased]``, and a community
  named after them is renamed to its id. Idempotent: a second call finds
  nothing and returns zeros. Scores of the others (community sizes, influence)
  change at the next scoring.
* :func:`pseudonym` / :func:`pseudonymise_interaction` replace handles and
  native ids of accounts by a stable keyed hash (HMAC-SHA-256 with a secret
  from the environment) before anything is stored, so the same account always
  gets the same pseudonym and re-imports stay idempotent.
* :func:`apply_retention` deletes message text older than N days and keeps
  what was derived from it (sentiment, polarity, counts, edges); alert quotes
  of those messages lose their text too.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from hashlib import sha256
from typing import Any

from agora.records import AccountRef, Interaction
from graph.store import GraphStore

__all__ = ["ForgetReport", "resolve_person", "forget_person", "pseudonym", "pseudonymise_interaction",
           "apply_retention"]

ERASED = "[erased]"
_BATCH = 5000

ForgetReport = dict[str, int]


def resolve_person(store: GraphStore, ref: str) -> str | None:
    """The person id for ``ref``: a person id or one of their account keys
    (``platform:native_id``); ``None`` when neither exists."""
    rows = store.fetch("""
        OPTIONAL MATCH (p:Person {id: $ref})
        OPTIONAL MATCH (:Account {key: $ref})-[:OF]->(q:Person)
        RETURN coalesce(p.id, q.id) AS id
        """, ref=ref)
    return rows[0]["id"] if rows else None


def forget_person(store: GraphStore, person_id: str) -> ForgetReport:
    """Erase ``person_id`` everywhere and return what was removed, by kind.

    Keys: ``people``, ``accounts``, ``messages`` (deleted), ``alerts_deleted``
    (alerts about the person), ``alerts_redacted`` (alerts that quoted one of
    their messages), ``mentions_redacted`` (others' messages whose text named
    one of their handles), ``communities_renamed``.
    """
    report: ForgetReport = {"people": 0, "accounts": 0, "messages": 0, "alerts_deleted": 0, "alerts_redacted": 0,
                            "mentions_redacted": 0, "communities_renamed": 0}
    found = store.fetch("""
        MATCH (p:Person {id: $id})
        OPTIONAL MATCH (a:Account)-[:OF]->(p)
        RETURN p.name AS name, collect(a.key) AS keys, collect(a.handle) AS handles
        """, id=person_id)
    if not found:
        return report
    name, keys, handles = found[0]["name"], found[0]["keys"], [h for h in found[0]["handles"] if h]
    message_ids = [r["id"] for r in store.fetch(
        "MATCH (a:Account)-[:POSTED]->(m:Message) WHERE a.key IN $keys RETURN m.id AS id", keys=keys)]

    # Others' messages that mention them: the handle goes from the text.
    mentioning = store.fetch("""
        MATCH (m:Message)-[:MENTIONS|ADDRESSES]->(a:Account) WHERE a.key IN $keys AND m.text IS NOT NULL
        AND NOT m.id IN $own
        RETURN DISTINCT m.id AS id, m.text AS text
        """, keys=keys, own=message_ids)
    names = sorted({*handles, *([name] if name else [])}, key=len, reverse=True)
    redacted = [{"id": r["id"], "text": _redact(r["text"], names)} for r in mentioning]
    redacted = [r for r, old in zip(redacted, mentioning) if r["text"] != old["text"]]
    for chunk in _chunks(redacted):
        store._write(lambda tx, c=chunk: tx.run(
            "UNWIND $rows AS r MATCH (m:Message {id: r.id}) SET m.text = r.text", rows=c).consume())
    report["mentions_redacted"] = len(redacted)

    # Alerts: about them → deleted; quoting them → the quotes go.
    report["alerts_deleted"] = store._write(lambda tx: tx.run(
        "MATCH (a:Alert) WHERE a.subject = $id OR a.subject IN $keys DETACH DELETE a RETURN count(*) AS n",
        id=person_id, keys=keys).single()["n"])
    own = set(message_ids)
    quoting = store.fetch("""
        MATCH (a:Alert) WHERE any(x IN coalesce(a.evidence_ids, []) WHERE x IN $ids)
        RETURN a.id AS id, a.evidence AS evidence, a.evidence_ids AS ids
        """, ids=message_ids) if message_ids else []
    for alert in quoting:
        evidence = [e for e in json.loads(alert["evidence"] or "[]") if e.get("message_id") not in own]
        ids = [i for i in alert["ids"] or [] if i not in own]
        store._write(lambda tx, a=alert, e=evidence, i=ids: tx.run(
            "MATCH (a:Alert {id: $id}) SET a.evidence = $evidence, a.evidence_ids = $ids",
            id=a["id"], evidence=json.dumps(e, ensure_ascii=False), ids=i).consume())
    report["alerts_redacted"] = len(quoting)

    if name:
        report["communities_renamed"] = store._write(lambda tx: tx.run(
            "MATCH (c:Community) WHERE c.label = $name SET c.label = c.id RETURN count(c) AS n",
            name=name).single()["n"])

    for chunk in _chunks(message_ids):
        report["messages"] += store._write(lambda tx, c=chunk: tx.run(
            "UNWIND $ids AS id MATCH (m:Message {id: id}) DETACH DELETE m RETURN count(*) AS n",
            ids=c).single()["n"])
    report["accounts"] = store._write(lambda tx: tx.run(
        "UNWIND $keys AS k MATCH (a:Account {key: k}) DETACH DELETE a RETURN count(*) AS n", keys=keys).single()["n"])
    report["people"] = store._write(lambda tx: tx.run(
        "MATCH (p:Person {id: $id}) DETACH DELETE p RETURN count(*) AS n", id=person_id).single()["n"])
    store.mark_scores_stale()  # their interactions are gone: the next rescore is a full one
    return report


def _redact(text: str, names: list[str]) -> str:
    """``text`` with each of ``names`` (and its ``@`` form) replaced by ``[erased]``.

    >>> _redact("grazie @giulia_r e Giulia Rossi!", ["Giulia Rossi", "giulia_r"])
    'grazie [erased] e [erased]!'
    """
    for n in names:
        text = re.sub(rf"@?{re.escape(n)}(?!\w)", ERASED, text, flags=re.I)
    return text


def _chunks(rows: list[Any]) -> list[list[Any]]:
    return [rows[i:i + _BATCH] for i in range(0, len(rows), _BATCH)]


# -- pseudonyms --------------------------------------------------------------------


def pseudonym(value: str, secret: str) -> str:
    """A stable pseudonym of ``value``: the same secret always gives the same one.

    >>> pseudonym("twitter:42", "s3cret") == pseudonym("twitter:42", "s3cret")
    True
    >>> pseudonym("twitter:42", "s3cret")[:5], len(pseudonym("twitter:42", "s3cret"))
    ('anon-', 17)
    """
    return "anon-" + hmac.new(secret.encode(), value.encode(), sha256).hexdigest()[:12]


def pseudonymise_interaction(it: Interaction, secret: str, keep: frozenset[str] | set[str] = frozenset()) -> Interaction:
    """``it`` with every account's native id and handle replaced by its
    :func:`pseudonym` (accounts whose key is in ``keep``, e.g. the brand's,
    stay as they are), and every ``@handle`` in the text replaced by the
    pseudonym of that handle (kept accounts' handles stay).

    >>> from datetime import datetime, timezone
    >>> it = Interaction("tw:1", "tw", "reply", AccountRef("tw", "7", "ann"), datetime(2025, 1, 1, tzinfo=timezone.utc),
    ...                  "@bob hi", targets=(AccountRef("tw", "8", "bob"),))
    >>> p = pseudonymise_interaction(it, "k")
    >>> p.actor.handle == p.actor.native_id == pseudonym("tw:7", "k"), p.text == "@" + pseudonym("@bob", "k") + " hi"
    (True, True)
    """
    mapped: dict[str, AccountRef] = {}

    def swap(ref: AccountRef) -> AccountRef:
        if ref.key in keep:
            return ref
        if ref.key not in mapped:
            alias = pseudonym(ref.key, secret)
            mapped[ref.key] = AccountRef(ref.platform, alias, alias)
        return mapped[ref.key]

    actor, targets, mentions = swap(it.actor), tuple(map(swap, it.targets)), tuple(map(swap, it.mentions))
    text = it.text
    if text:
        # The text may name people this interaction does not reference: every @handle goes,
        # to a pseudonym of the handle itself (stable too), except the kept (brand) accounts' handles.
        kept = {r.handle.lstrip("@").lower() for r in (it.actor, *it.targets, *it.mentions)
                if r.key in keep and r.handle}
        text = _MENTION.sub(lambda m: m.group(0) if m.group(1).lower() in kept
                            else "@" + pseudonym("@" + m.group(1).lower(), secret), text)
    return replace(it, actor=actor, targets=targets, mentions=mentions, text=text)


_MENTION = re.compile(r"(?<![\w@])@(\w[\w.]*\w|\w)")


# -- retention ---------------------------------------------------------------------


def apply_retention(store: GraphStore, days: float, *, now: datetime | None = None) -> dict[str, int]:
    """Delete the text of messages older than ``days`` (before ``now``, default
    the wall clock) and the quotes of those messages in alerts.

    Sentiment, polarity, timestamps, counts and interaction edges stay, so
    scores and mood over time are unchanged. Returns ``{"messages": n,
    "alert_quotes": k}``; a second run on the same day finds nothing.
    """
    if days <= 0:
        raise ValueError(f"retention days must be > 0, got {days}")
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    total = 0
    while True:
        n = store._write(lambda tx: tx.run("""
            MATCH (m:Message) WHERE m.ts < datetime($cutoff) AND m.text IS NOT NULL
            WITH m LIMIT $batch
            SET m.text = null, m.text_removed = true
            RETURN count(m) AS n
            """, cutoff=cutoff.isoformat(), batch=_BATCH).single()["n"])
        total += n
        if n < _BATCH:
            break
    quotes = 0
    for alert in store.fetch("MATCH (a:Alert) WHERE a.evidence IS NOT NULL RETURN a.id AS id, a.evidence AS evidence"):
        evidence = json.loads(alert["evidence"] or "[]")
        changed = 0
        for e in evidence:
            ts = e.get("ts")
            if e.get("text") is not None and ts and datetime.fromisoformat(ts) < cutoff:
                e["text"] = None
                changed += 1
        if changed:
            quotes += changed
            store._write(lambda tx, a=alert["id"], ev=evidence: tx.run(
                "MATCH (a:Alert {id: $id}) SET a.evidence = $ev", id=a, ev=json.dumps(ev, ensure_ascii=False)).consume())
    return {"messages": total, "alert_quotes": quotes}
