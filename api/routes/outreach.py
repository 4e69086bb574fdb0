"""The outreach list: whom to contact first (``graph.outreach``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from agora.config import Config
from api.deps import get_config, get_store, plain
from graph.outreach import outreach as build
from graph.store import GraphStore

router = APIRouter(tags=["outreach"])


@router.get("/outreach", summary="Whom to contact first, and why",
)
def outreach(store: Annotated[GraphStore, Depends(get_store)], config: Annotated[Config, Depends(get_config)],
             limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
    return plain(build(store, config=config, limit=limit))
