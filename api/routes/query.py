"""Read-only Cypher: refused if it writes (400 with the reason), else run in
a read transaction that is rolled back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from neo4j.exceptions import DriverError, Neo4jError
from pydantic import BaseModel, Field

from api.deps import get_store, plain
from graph.store import GraphStore, WriteQueryError

router = APIRouter(tags=["query"])


class CypherQuery(BaseModel):
    cypher: str = Field(..., min_length=1, max_length=20_000, examples=["MATCH (p:Person) RETURN p.name LIMIT 5"])
    params: dict[str, Any] = Field(default_factory=dict, description="Query parameters ($name).")
    limit: int = Field(1000, ge=1, le=10_000, description="At most this many rows.")


@router.post("/query", summary="Run a read-only Cypher query",
             responses={400: {"description": "Refused (write clause) or invalid Cypher"}})
def run_query(body: CypherQuery, store: Annotated[GraphStore, Depends(get_store)]) -> dict[str, Any]:
    try:
        rows = store.read_query(body.cypher, body.params, limit=body.limit, timeout_s=30.0)
    except WriteQueryError as exc:
        raise HTTPException(400, f"refused: {exc}") from None
    except Neo4jError as exc:
        first = (exc.message or "").splitlines()[0][:300] if exc.message else ""
        raise HTTPException(400, f"query failed: {exc.code}: {first}") from None
    except (DriverError, ValueError, TypeError, OverflowError) as exc:  # e.g. a parameter the driver cannot send
        raise HTTPException(400, f"query failed: {type(exc).__name__}: {str(exc)[:300]}") from None
    return {"rows": plain(rows), "count": len(rows)}
