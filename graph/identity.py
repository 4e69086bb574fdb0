"""Identity resolution: one person behind several accounts, always with the evidence on the link.

An account belongs to one person through ``(:Account)-[:OF {evidence, source, at}]->(:Person)``.
Three things move accounts between people, and nothing else does:

* :func:`import_crm`: a CRM mapping file (CSV with a header; columns
  ``customer_id, platform, handle, phone, email``; ``e-mail`` is accepted for
  ``email``) links the accounts it identifies *exactly* to the person
  ``crm:<customer_id>``:

  - ``handle``: the account whose native id or key is the handle on that
    platform, or, on platforms whose handles are unique user names (Twitter/X,
    Instagram, Mastodon, Bluesky), whose ``@username`` matches
    (case-insensitive). Display names (WhatsApp profile names, Facebook
    names, Telegram first names) are never matched: names are not identities.
  - ``phone``: normalised (:func:`normalise_phone`); it *is* the WhatsApp
    account ``whatsapp:+<digits>``, linked (and created when the number has
    not written yet, so its first message lands on the right person), and
    any account whose ``phone`` property is that number.
  - ``email``: normalised (lowercase); any account whose ``email`` property is it.

  Two customers claiming the same phone, e-mail or account are a conflict:
  reported, and the account is left where it is.
* :func:`apply_claims`: what the platforms themselves say (a Telegram user
  sharing their own contact card) sets the account's ``phone`` or ``email``;
  accounts with the same normalised phone (the WhatsApp account of that
  number included) or e-mail then become one person: the CRM customer's if
  one of them has it, else the WhatsApp account's. Two CRM customers on the
  same number are a conflict, reported and left alone.
* :func:`merge`: ``agora merge A B`` moves every account of B's person to A's
  (A and B are account keys or person ids), with the evidence ``manual merge``.
* :func:`split`: ``agora split ACCOUNT`` gives one account a person of its own again.

Manual decisions win: merged and split accounts are *pinned*, and a later CRM
import reports them instead of moving them. Every operation is idempotent, and
a person left without accounts is deleted (the next rescore recomputes scores).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agora.records import ParseIssue

__all__ = ["normalise_phone", "normalise_email", "CrmRow", "read_crm", "import_crm", "IdentityReport", "merge",
           "split", "MergeResult", "IdentityError", "UNIQUE_HANDLE_PLATFORMS", "links", "apply_claims"]

UNIQUE_HANDLE_PLATFORMS = frozenset({"twitter", "instagram", "mastodon", "bluesky"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class IdentityError(ValueError):
    """An identity operation that cannot be done (unknown account or person); one line."""


def normalise_phone(value: str) -> str:
    """An international phone number as ``+<digits>`` (E.164 without grouping).

    Accepts ``+`` or ``00`` prefixes and bare international digits (WhatsApp
    ``wa_id``); spaces, dots, dashes and parentheses are dropped. Raises
    ``ValueError`` for anything with a national-only form or a wrong length.

    >>> normalise_phone("+39 333 123-4567"), normalise_phone("0039 (333) 1234567"), normalise_phone("393331234567")
    ('+393331234567', '+393331234567', '+393331234567')
    >>> normalise_phone("333 1234567")
    Traceback (most recent call last):
    ...
    ValueError: phone '333 1234567': give it with the country code (+39 ...)
    """
    text = re.sub(r"[\s.\-()/]", "", str(value))
    if text.startswith("00"):
        text = "+" + text[2:]
    if not re.fullmatch(r"\+?\d+", text):
        raise ValueError(f"phone {value!r}: not a phone number")
    digits = text.lstrip("+")
    if text.startswith("+") or len(digits) >= 11:
        if not 8 <= len(digits) <= 15 or digits.startswith("0"):
            raise ValueError(f"phone {value!r}: an international number has 8 to 15 digits")
        return "+" + digits
    raise ValueError(f"phone {value!r}: give it with the country code (+39 ...)")


def normalise_email(value: str) -> str:
    """``value`` lowercased and stripped; ``ValueError`` if it is not an address.

    >>> normalise_email(" Giulia.Rossi@Example.COM ")
    'giulia.rossi@example.com'
    """
    text = str(value).strip().lower()
    if not _EMAIL.match(text):
        raise ValueError(f"e-mail {value!r}: not an address")
    return text


@dataclass(frozen=True, slots=True)
class CrmRow:
    """One validated CRM line; ``source`` is ``file:line``."""

    customer_id: str
    platform: str
    handle: str | None
    phone: str | None
    email: str | None
    source: str


def read_crm(path: Path) -> tuple[list[CrmRow], list[ParseIssue]]:
    """The good rows of a CRM mapping CSV, and one issue (``file:line: reason``) per bad row."""
    rows: list[CrmRow] = []
    issues: list[ParseIssue] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = {(h or "").strip().lower().replace("-", ""): h for h in reader.fieldnames or []}
        missing = [c for c in ("customer_id", "platform") if c not in header]
        if missing:
            return [], [ParseIssue(str(path), 1, f"missing column(s) {', '.join(missing)} "
                                                 "(need customer_id, platform and handle, phone or email)")]
        for row in reader:
            line = reader.line_num
            get = lambda col: (row.get(header[col]) or "").strip() or None if col in header else None  # noqa: E731
            customer, platform = get("customer_id"), (get("platform") or "").lower() or None
            handle, phone, email = get("handle"), get("phone"), get("email")
            try:
                if customer is None:
                    raise ValueError("empty customer_id")
                if platform is None:
                    raise ValueError("empty platform")
                if not (handle or phone or email):
                    raise ValueError("no handle, phone or email")
                rows.append(CrmRow(customer, platform, handle, normalise_phone(phone) if phone else None,
                                   normalise_email(email) if email else None, f"{path}:{line}"))
            except ValueError as exc:
                issues.append(ParseIssue(str(path), line, str(exc)))
    return rows, issues


@dataclass
class IdentityReport:
    """What a CRM import did."""

    rows: int = 0
    linked: int = 0
    unchanged: int = 0
    unmatched: list[str] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    issues: list[ParseIssue] = field(default_factory=list)


_FIND_BY_HANDLE = """
MATCH (a:Account) WHERE a.platform = $platform AND (
  a.key = $platform + ':' + $handle OR a.native_id = $handle OR
  ($unique AND (a.native_id = '@' + toLower($bare) OR toLower(coalesce(a.handle, '')) = toLower($bare))))
RETURN a.key AS key
"""
_FIND_BY_PHONE = "MATCH (a:Account) WHERE a.phone = $value RETURN a.key AS key"
_FIND_BY_EMAIL = "MATCH (a:Account) WHERE a.email = $value RETURN a.key AS key"
_ENSURE_WHATSAPP = """
MERGE (a:Account {key: $key})
ON CREATE SET a.platform = 'whatsapp', a.native_id = $phone
SET a.phone = $phone
"""
_CURRENT = """
MATCH (a:Account {key: $key})
OPTIONAL MATCH (a)-[r:OF]->(p:Person)
RETURN p.id AS person, r.evidence AS evidence, coalesce(a.identity_pinned, false) AS pinned
"""
# Re-link one account to a person, recording why; an emptied former person is deleted.
_LINK = """
MATCH (a:Account {key: $key})
MERGE (p:Person {id: $person})
ON CREATE SET p.name = $name
WITH a, p
OPTIONAL MATCH (a)-[old:OF]->(former:Person) WHERE former.id <> p.id
DELETE old
WITH a, p, collect(DISTINCT former) AS formers
MERGE (a)-[r:OF]->(p)
SET r.evidence = $evidence, r.source = $source, r.at = datetime($at), a.identity_pinned = $pinned
WITH formers
UNWIND formers AS f
OPTIONAL MATCH (f)<-[:OF]-(other:Account)
WITH f, count(other) AS left WHERE left = 0
DETACH DELETE f
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _link(store: Any, key: str, person: str, *, name: str | None, evidence: list[str], source: str,
          pinned: bool) -> None:
    params = dict(key=key, person=person, name=name or person, evidence=sorted(set(evidence)), source=source,
                  at=_now(), pinned=pinned)
    store._write(lambda tx: tx.run(_LINK, **params).consume())  # noqa: SLF001


def import_crm(store: Any, path: Path) -> IdentityReport:
    """Link the accounts a CRM mapping file identifies to ``crm:<customer_id>`` persons (see the module doc)."""
    rows, issues = read_crm(path)
    report = IdentityReport(rows=len(rows), issues=issues)
    wanted: dict[str, dict[str, Any]] = {}  # account key -> {customers, evidence, source}
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        found: list[tuple[str, str]] = []
        if row.handle:
            bare = row.handle.lstrip("@")
            for r in store.fetch(_FIND_BY_HANDLE, platform=row.platform, handle=row.handle, bare=bare,
                                 unique=row.platform in UNIQUE_HANDLE_PLATFORMS):
                found.append((r["key"], f"crm handle {row.platform}:{row.handle}"))
        if row.phone:
            owners[("phone", row.phone)].add(row.customer_id)
            key = f"whatsapp:{row.phone}"
            store._write(lambda tx, k=key, ph=row.phone: tx.run(_ENSURE_WHATSAPP, key=k, phone=ph).consume())  # noqa: SLF001
            found.append((key, f"crm phone {row.phone}"))
            found += [(r["key"], f"crm phone {row.phone}") for r in
                      store.fetch(_FIND_BY_PHONE, value=row.phone) if r["key"] != key]
        if row.email:
            owners[("email", row.email)].add(row.customer_id)
            found += [(r["key"], f"crm email {row.email}") for r in
                      store.fetch(_FIND_BY_EMAIL, value=row.email)]
        if not found:
            report.unmatched.append(f"{row.source}: no account for {row.handle or row.phone or row.email} "
                                    f"on {row.platform} (yet)")
        for key, why in found:
            entry = wanted.setdefault(key, {"customers": set(), "evidence": [], "sources": []})
            entry["customers"].add(row.customer_id)
            entry["evidence"].append(why)
            entry["sources"].append(row.source)
    for (kind, value), customers in sorted(owners.items()):
        if len(customers) > 1:
            report.conflicts.append(f"{kind} {value} is claimed by customers {', '.join(sorted(customers))}")
    for key, entry in sorted(wanted.items()):
        customers = sorted(entry["customers"])
        if len(customers) > 1:
            report.conflicts.append(f"account {key} is claimed by customers {', '.join(customers)}: left as it is")
            continue
        person = f"crm:{customers[0]}"
        [current] = store.fetch(_CURRENT, key=key)
        if current["pinned"] and current["person"] != person:
            report.pinned.append(f"{key}: kept on {current['person']} (a manual merge or split)")
            continue
        evidence = sorted(set(entry["evidence"]))
        if current["person"] == person and sorted(current["evidence"] or []) == evidence:
            report.unchanged += 1
            continue
        _link(store, key, person, name=customers[0], evidence=evidence, source=", ".join(sorted(set(entry["sources"]))),
              pinned=bool(current["pinned"]))
        report.linked += 1
    if report.linked:
        store.mark_scores_stale()  # interactions now belong to other people: the next rescore is a full one
    return report


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The person that holds the accounts now, the accounts moved, and the person removed (if any)."""

    person: str
    moved: tuple[str, ...]
    removed: str | None


def _person_of(store: Any, ref: str) -> str:
    rows = store.fetch("MATCH (a:Account {key: $r})-[:OF]->(p:Person) RETURN p.id AS id", r=ref)
    if rows:
        return rows[0]["id"]
    rows = store.fetch("MATCH (p:Person {id: $r}) RETURN p.id AS id", r=ref)
    if rows:
        return rows[0]["id"]
    raise IdentityError(f"no account or person {ref!r} in the graph (accounts are 'platform:native_id')")


def merge(store: Any, a: str, b: str, *, reason: str | None = None) -> MergeResult:
    """Move every account of ``b``'s person to ``a``'s person (``a``/``b``: account keys or person ids).

    Idempotent: merging two refs that already share a person moves nothing.
    """
    keep, gone = _person_of(store, a), _person_of(store, b)
    if keep == gone:
        return MergeResult(keep, (), None)
    keys = [r["key"] for r in store.fetch("MATCH (a:Account)-[:OF]->(:Person {id: $p}) RETURN a.key AS key ORDER BY key",
                                          p=gone)]
    evidence = [f"manual merge of {b} into {a}" + (f": {reason}" if reason else "")]
    for key in keys:
        _link(store, key, keep, name=None, evidence=evidence, source="agora merge", pinned=True)
    store._write(lambda tx: tx.run("MATCH (p:Person {id: $p}) WHERE NOT (p)<-[:OF]-(:Account) DETACH DELETE p",  # noqa: SLF001
                                   p=gone).consume())
    store.mark_scores_stale()
    return MergeResult(keep, tuple(keys), gone)


def split(store: Any, account: str, *, reason: str | None = None) -> MergeResult:
    """Give ``account`` a person of its own (id = the account key, or ``<key>#split`` when that id is taken
    by a person that keeps other accounts). Idempotent: an account alone on its person stays there."""
    rows = store.fetch("MATCH (a:Account {key: $k}) OPTIONAL MATCH (a)-[:OF]->(p:Person) "
                       "OPTIONAL MATCH (p)<-[:OF]-(o:Account) WHERE o.key <> a.key "
                       "RETURN a.handle AS handle, a.native_id AS native, p.id AS person, count(o) AS others", k=account)
    if not rows:
        raise IdentityError(f"no account {account!r} in the graph (accounts are 'platform:native_id')")
    row = rows[0]
    if row["person"] is not None and row["others"] == 0:
        store._write(lambda tx: tx.run("MATCH (a:Account {key: $k}) SET a.identity_pinned = true", k=account).consume())  # noqa: SLF001
        return MergeResult(row["person"], (), None)
    target = account
    taken = store.fetch("MATCH (p:Person {id: $p})<-[:OF]-(o:Account) WHERE o.key <> $k RETURN count(o) AS n",
                        p=account, k=account)
    if taken and taken[0]["n"]:
        target = f"{account}#split"
    _link(store, account, target, name=row["handle"] or row["native"], source="agora split", pinned=True,
          evidence=[f"manual split of {account}" + (f": {reason}" if reason else "")])
    store.mark_scores_stale()
    return MergeResult(target, (account,), None)


def links(store: Any, person: str) -> list[dict[str, Any]]:
    """Every account of ``person`` with the evidence of its link, sorted by account key."""
    return store.fetch("MATCH (a:Account)-[r:OF]->(:Person {id: $p}) RETURN a.key AS account, r.evidence AS evidence, "
                       "r.source AS source, toString(r.at) AS at, coalesce(a.identity_pinned, false) AS pinned "
                       "ORDER BY account", p=person)


_SET_CLAIM = """
MATCH (a:Account {key: $key})
SET a.phone = CASE WHEN $kind = 'phone' THEN $value ELSE a.phone END,
    a.email = CASE WHEN $kind = 'email' THEN $value ELSE a.email END
"""
_SAME = """
MATCH (a:Account)-[:OF]->(p:Person)
WHERE a.key = $key OR a.key = $wa OR ($kind = 'phone' AND a.phone = $value) OR ($kind = 'email' AND a.email = $value)
RETURN a.key AS key, p.id AS person, coalesce(a.identity_pinned, false) AS pinned
ORDER BY key
"""


def apply_claims(store: Any, claims: list[Any]) -> IdentityReport:
    """Record platform-stated phones and e-mails on their accounts and join accounts that share one.

    ``claims`` are :class:`listening.connectors.base.IdentityClaim` (account, kind, value, evidence);
    their accounts must be stored already. Idempotent.
    """
    report = IdentityReport(rows=len(claims))
    for claim in claims:
        try:
            value = normalise_phone(claim.value) if claim.kind == "phone" else normalise_email(claim.value)
        except ValueError as exc:
            report.issues.append(ParseIssue(claim.evidence, None, str(exc)))
            continue
        key = claim.account.key
        store._write(lambda tx, k=key, v=value: tx.run(_SET_CLAIM, key=k, kind=claim.kind, value=v).consume())  # noqa: SLF001
        same = store.fetch(_SAME, key=key, wa=f"whatsapp:{value}" if claim.kind == "phone" else "", kind=claim.kind,
                           value=value)
        if len(same) < 2:
            continue
        crm = sorted({r["person"] for r in same if r["person"].startswith("crm:")})
        if len(crm) > 1:
            report.conflicts.append(f"{claim.kind} {value} belongs to customers {', '.join(crm)}: {key} left as it is")
            continue
        wa = next((r["person"] for r in same if r["key"] == f"whatsapp:{value}"), None)
        target = crm[0] if crm else wa or next(r["person"] for r in same if r["key"] != key)
        for row in same:
            if row["person"] == target:
                report.unchanged += 1
            elif row["pinned"]:
                report.pinned.append(f"{row['key']}: kept on {row['person']} (a manual merge or split)")
            else:
                _link(store, row["key"], target, name=None, source=claim.evidence, pinned=False,
                      evidence=[f"same {claim.kind} {value}: {claim.account.key} {claim.evidence}"])
                report.linked += 1
    if report.linked:
        store.mark_scores_stale()
    return report
