"""What every route needs: the app's graph store and config, and plain JSON values."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from fastapi import Request

from agora.config import Config
from api.cache import TTLCache
from graph.store import GraphStore

__all__ = ["get_store", "get_config", "get_cache", "plain"]


def get_store(request: Request) -> GraphStore:
    """The app's one :class:`GraphStore` (opened in the lifespan)."""
    return request.app.state.store


def get_config(request: Request) -> Config:
    return request.app.state.config


def get_cache(request: Request) -> TTLCache:
    """The app's cache of aggregate reads (:mod:`api.cache`)."""
    return request.app.state.cache


def plain(value: Any) -> Any:
    """Driver values → JSON-friendly ones (times as ISO strings, nodes as property maps).

    >>> plain({"a": [datetime(2025, 1, 2, 3, 4)], "b": float("nan")})
    {'a': ['2025-01-02T03:04:00'], 'b': None}
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if hasattr(value, "to_native"):  # driver times: to Python's, whose ISO form every browser parses
        value = value.to_native()
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if hasattr(value, "items") and hasattr(value, "element_id"):  # a node or relationship
        return plain(dict(value.items()))
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return json.loads(json.dumps(value, default=str))
