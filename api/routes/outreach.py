"""The outreach list: whom to contact first (``graph.outreach``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from agora.config import Config
from api.deps import get_config, get_store, plain
from graph.store import GraphStore

router = APIRouter(tags=["outreach"])


@router.get("/outreach", summary="Whom to contact first, and why",
            responses={501: {"description": "Outreach not installed"}})
def outreach(store: Annotated[GraphStore, Depends(get_store)], config: Annotated[Config, Depends(get_config)],
             limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
    try:
        from graph.outreach import outreach as build
    except ImportError:
        raise HTTPException(501, "the outreach list is not available in this build (graph.outreach is missing)") from None
    return plain(build(store, config=config, limit=limit))
