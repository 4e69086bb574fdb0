"""Open the configured graph: start the embedded server when the config says so."""

from __future__ import annotations

from agora.config import Config
from graph.server import EmbeddedServer
from graph.store import GraphStore, connect

__all__ = ["embedded_server", "open_store"]


def embedded_server(config: Config) -> EmbeddedServer:
    """The embedded server for ``config`` (whether or not it runs)."""
    g = config.graph
    return EmbeddedServer(g.data_dir, bolt_port=g.bolt_port, http_port=g.http_port, heap=g.heap, database=g.database)


def open_store(config: Config) -> GraphStore:
    """A connected store with its schema in place.

    ``graph.uri: embedded`` starts the local server first if it is not
    running; any other URI is used as given, with ``graph.user`` and
    ``graph.password`` (from the environment: ``AGORA_GRAPH__PASSWORD``).
    """
    g = config.graph
    if g.embedded:
        server = embedded_server(config)
        server.start(timeout_s=g.start_timeout_s)
        store = connect(server.bolt_uri, "root", server.password(), database=g.database, batch_size=g.batch_size)
    else:
        store = connect(g.uri, g.user, g.password, database=g.database, batch_size=g.batch_size)
    store.ensure_schema()
    return store
