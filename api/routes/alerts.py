"""Alerts: the feed (newest first, ``since``) and acknowledging one."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from alerts.engine import acknowledge, list_alerts
from api.deps import get_store, plain
from graph.store import GraphStore

router = APIRouter(tags=["alerts"])


@router.get("/alerts", summary="Alerts raised so far, newest first")
def alerts(store: Annotated[GraphStore, Depends(get_store)],
           since: Annotated[datetime | None, Query(description="Only alerts raised at or after this time (ISO; UTC if no zone).")] = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    if since is not None:
        try:
            since = since.replace(tzinfo=timezone.utc) if since.tzinfo is None else since.astimezone(timezone.utc)
        except OverflowError:
            raise HTTPException(422, f"since {since.isoformat()} is out of range") from None
    return plain(list_alerts(store, since=since, limit=limit))


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert", responses={404: {"description": "No such alert"}})
def ack(alert_id: str, store: Annotated[GraphStore, Depends(get_store)]) -> dict[str, Any]:
    if not acknowledge(store, alert_id):
        raise HTTPException(404, f"no alert {alert_id!r}")
    return {"id": alert_id, "acknowledged": True}
