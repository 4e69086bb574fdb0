"""The FastAPI application: REST API under ``/api``, the dashboard under
``/dashboard/``, OpenAPI at ``/docs``, and ``/health``.

:func:`create_app` builds one app for one config; its lifespan opens one
:class:`~graph.store.GraphStore` (starting the embedded graph server if the
config says so) and closes it on shutdown. Every route but ``/health`` and the
dashboard's static files needs an API key (:mod:`api.auth`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from agora.config import Config, ConfigError
from api.auth import ENV_KEYS, load_keys, require_key
from api.cache import TTLCache

__all__ = ["create_app", "DASHBOARD_DIR"]

log = logging.getLogger(__name__)
DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboard"


def create_app(config: Config) -> FastAPI:
    """The Agora app for ``config``. Raises :class:`ConfigError` when no API key is configured."""
    keys = load_keys(config)
    if not keys.hashes:
        raise ConfigError(config.source, "api.keys_sha256",
                          f"no API key configured: set ${ENV_KEYS} (comma-separated) or api.keys_sha256")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from agora.connections import open_store

        app.state.store = open_store(config)
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(title="Agora", version="0.1.0", lifespan=lifespan,
                  description="Who influences whom in your customer community: people, communities, alerts, "
                              "read-only Cypher, exports and erasure. Every route but /health needs an API key "
                              "(X-API-Key header or Authorization: Bearer).")
    app.state.config = config
    app.state.keys = keys
    app.state.cache = TTLCache()

    from api import webhooks
    from api.routes import alerts, communities, export, map, outreach, people, query

    secured = [Depends(require_key)]
    for module in (people, communities, alerts, outreach, query, export, map):
        app.include_router(module.router, prefix="/api", dependencies=secured)
    # The webhook receivers authenticate by platform signature, not API key.
    webhooks.configure(app, config)
    app.include_router(webhooks.router)

    @app.get("/health", tags=["health"], summary="Liveness: is the app up and the graph reachable")
    def health(request: Request) -> dict[str, object]:
        try:
            request.app.state.store.fetch("RETURN 1 AS one")
            graph = True
        except Exception:  # health reports, never fails
            graph = False
        return {"status": "ok", "graph": graph}

    @app.exception_handler(ServiceUnavailable)
    @app.exception_handler(SessionExpired)
    async def _graph_down(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"graph server unavailable: {exc}"}, status_code=503)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    app.mount("/dashboard", StaticFiles(directory=DASHBOARD_DIR, html=True), name="dashboard")
    return app
