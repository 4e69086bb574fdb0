"""A real uvicorn server running the Agora app over a real graph filled with the sample community.

Each test module gets its own filled graph (module scope): the ``store``
fixture of other modules empties the session's graph server before each of
their tests, and the API tests here change data (acknowledge, forget).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from agora.config import Config, load_config
from api.app import create_app
from api.auth import hash_key
from api.demo_data import fill_sample_graph
from graph.server import EmbeddedServer
from graph.store import GraphStore, connect

KEY = "test-key-7f3a"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ApiServer:
    url: str
    key: str
    config: Config

    def client(self, key: str | None = KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key} if key else {}, timeout=60)


@pytest.fixture(scope="module")
def api_config(graph_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """A config pointing at the session's graph server, with one API key; the graph holds the sample (60 people)."""
    folder = tmp_path_factory.mktemp("api")
    path = folder / "config.yaml"
    path.write_text(f"graph:\n  uri: {graph_server.bolt_uri}\n  database: {graph_server.database}\n"
                    f"api:\n  keys_sha256: [{hash_key(KEY)}]\n")
    config = load_config(path, environ={"AGORA_GRAPH__PASSWORD": graph_server.password()})
    with connect(graph_server.bolt_uri, "root", graph_server.password(), database=graph_server.database) as store:
        store.ensure_schema()
        store.clear()
        fill_sample_graph(store, config, folder / "sample", people=60)
    return config


@pytest.fixture(scope="module")
def api_server(api_config: Config) -> Iterator[ApiServer]:
    """``agora serve``'s app under uvicorn on a free port of 127.0.0.1, in a thread."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(api_config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    yield ApiServer(f"http://127.0.0.1:{port}", KEY, api_config)
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def graph(graph_server: EmbeddedServer) -> Iterator[GraphStore]:
    """A store on the same graph as the API (not emptied), to check what the API did."""
    with connect(graph_server.bolt_uri, "root", graph_server.password(), database=graph_server.database) as store:
        yield store


def sample_dir(config: Config) -> Path:
    return Path(config.source).parent / "sample"
