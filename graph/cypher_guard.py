"""Refuse Cypher that writes, before it reaches the server.

Read transactions alone are not enough: some Bolt servers (ArcadeDB among
them) execute writes inside a transaction opened in read mode. The store
therefore checks the text first, runs it in a read transaction, and rolls
that transaction back. This module is the first of the three checks.
"""

from __future__ import annotations

import re

__all__ = ["WriteQueryError", "check_read_only"]

_WRITE_CLAUSES = ("CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "FOREACH", "LOAD CSV",
                  "IN TRANSACTIONS", "ALTER", "RENAME", "GRANT", "DENY", "REVOKE",
                  "START DATABASE", "STOP DATABASE", "TERMINATE TRANSACTION")
# Procedures that only read; any other CALL is refused.
_READ_PROCEDURES = ("db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.", "db.indexes",
                    "db.constraints", "dbms.components", "gds.", "apoc.meta.")
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_CALL = re.compile(r"\bCALL\s+([A-Za-z_][\w.]*)", re.I)


class WriteQueryError(ValueError):
    """A query that would write. ``str()`` names the clause found."""


def check_read_only(cypher: str) -> None:
    """Raise :class:`WriteQueryError` if ``cypher`` contains a write clause.

    Strings, quoted names and comments are ignored, so ``MATCH (m) WHERE
    m.text CONTAINS 'create' RETURN m`` is accepted.

    >>> check_read_only("MATCH (p:Person) RETURN p.id LIMIT 5")
    >>> check_read_only("MATCH (p) SET p.x = 1")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    WriteQueryError: write clause SET is not allowed in a read-only query
    """
    bare = _STRINGS.sub("''", _COMMENTS.sub(" ", cypher))
    upper = re.sub(r"\s+", " ", bare.upper())
    for clause in _WRITE_CLAUSES:
        if re.search(rf"(?<![\w.$]){clause}(?![\w])", upper):
            raise WriteQueryError(f"write clause {clause} is not allowed in a read-only query")
    for match in _CALL.finditer(bare):
        name = match.group(1).lower()
        last = name.rsplit(".", 1)[-1]
        if not name.startswith(_READ_PROCEDURES) or last in {"write", "mutate", "drop"} or "create" in last:
            raise WriteQueryError(f"procedure {match.group(1)} is not allowed in a read-only query")
