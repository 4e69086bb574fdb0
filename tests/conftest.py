"""Shared fixtures: a real embedded graph server for the whole session, and the shared data folder."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.server import EmbeddedServer
from graph.store import GraphStore, connect

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository, or ``$AGORA_SHARED_DATA`` (skips when absent)."""
    path = Path(os.environ.get("AGORA_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def graph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A real ArcadeDB server with its Bolt plugin, started once per test session."""
    server = EmbeddedServer(tmp_path_factory.mktemp("graph"), bolt_port=free_port(), http_port=free_port())
    server.start(timeout_s=120)
    yield server
    server.stop()


@pytest.fixture
def store(graph_server: EmbeddedServer) -> Iterator[GraphStore]:
    """A store on the session's server, emptied before each test."""
    st = connect(graph_server.bolt_uri, "root", graph_server.password(), database=graph_server.database,
                 batch_size=500)
    st.ensure_schema()
    st.clear()
    yield st
    st.close()
