"""The embedded graph server: a local ArcadeDB speaking Bolt on 127.0.0.1.

``graph.uri: embedded`` means Agora runs its own graph server, so a new user
needs no credentials and no database install. The server (PyPI
``arcadedb-embedded``, which bundles a JRE and ArcadeDB's Bolt plugin) runs in
its own detached process (``python -m graph.server``), never inside the
caller's: the JVM then outlives short CLI commands, and forked Celery workers
never inherit it. Its pid, log and a generated root password live in
``graph.data_dir``. The official ``neo4j`` driver talks to it exactly as to a
Neo4j 5 server.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EmbeddedServer", "ServerStatus", "GraphServerError"]

log = logging.getLogger(__name__)


class GraphServerError(RuntimeError):
    """The embedded server could not be started or reached."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    bolt_uri: str
    data_dir: Path
    log_file: Path

    def __str__(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        return f"embedded graph server: {state}, {self.bolt_uri}, data in {self.data_dir}"


class EmbeddedServer:
    """Start, stop and find the local ArcadeDB server for one data folder.

    All methods are safe to repeat: ``start()`` on a running server returns at
    once, ``stop()`` on a stopped one does nothing.
    """

    def __init__(self, data_dir: Path, *, bolt_port: int = 17687, http_port: int = 12480,
                 heap: str = "1g", database: str = "agora") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.bolt_port = bolt_port
        self.http_port = http_port
        self.heap = heap
        self.database = database

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "server.pid"

    @property
    def ready_file(self) -> Path:
        return self.data_dir / "server.ready"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def password(self) -> str:
        """The root password, made once per data folder and kept there (mode 0600)."""
        path = self.data_dir / "root-password"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(18))
        return path.read_text().strip()

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def _ready(self, pid: int) -> bool:
        try:
            return int(self.ready_file.read_text().strip()) == pid
        except (FileNotFoundError, ValueError):
            return False

    def status(self) -> ServerStatus:
        pid = self._pid()
        running = pid is not None and self._ready(pid) and _port_open(self.bolt_port)
        return ServerStatus(running, pid, self.bolt_uri, self.data_dir, self.log_file)

    def start(self, timeout_s: float = 90.0) -> ServerStatus:
        """Start the server unless it runs; wait until Bolt accepts connections."""
        status = self.status()
        if status.running:
            return status
        if status.pid is None and _port_open(self.bolt_port):
            raise GraphServerError(
                f"port {self.bolt_port} on 127.0.0.1 is taken by another program; "
                "set graph.bolt_port to a free port")
        if status.pid is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            password = self.password()
            self.ready_file.unlink(missing_ok=True)
            cmd = [sys.executable, "-m", "graph.server", "--data-dir", str(self.data_dir),
                   "--bolt-port", str(self.bolt_port), "--http-port", str(self.http_port),
                   "--heap", self.heap, "--database", self.database]
            env = {**os.environ, "AGORA_EMBEDDED_ROOT_PASSWORD": password}
            root = str(Path(__file__).resolve().parent.parent)
            env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
            with open(self.log_file, "ab") as logf:
                proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, cwd=self.data_dir, start_new_session=True)
            self.pid_file.write_text(str(proc.pid))
            log.info("starting embedded graph server (pid %s) on %s", proc.pid, self.bolt_uri)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._pid() is None:
                raise GraphServerError(f"the embedded graph server exited while starting; see {self.log_file}")
            status = self.status()
            if status.running:
                return status
            time.sleep(0.25)
        raise GraphServerError(f"the embedded graph server did not open port {self.bolt_port} "
                               f"within {timeout_s:.0f} s; see {self.log_file}")

    def stop(self, timeout_s: float = 30.0) -> ServerStatus:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout_s``)."""
        pid = self._pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while self._pid() is not None and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.2)
            if self._pid() is not None:
                os.kill(pid, signal.SIGKILL)
                time.sleep(0.5)
                _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        self.ready_file.unlink(missing_ok=True)
        return self.status()


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _serve(argv: list[str] | None = None) -> None:
    """The server process itself: run ArcadeDB until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m graph.server")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--bolt-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--database", default="agora")
    args = parser.parse_args(argv)

    from arcadedb_embedded.server import ArcadeDBServer

    server = ArcadeDBServer(
        root_path=args.data_dir,
        root_password=os.environ["AGORA_EMBEDDED_ROOT_PASSWORD"],
        config={
            "http_port": args.http_port,
            "host": "127.0.0.1",
            "server_plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
            "bolt_port": args.bolt_port,
            "server_defaultDatabases": f"{args.database}[root]",
        },
        jvm_kwargs={"heap_size": args.heap},
    )
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.start()
    Path(args.data_dir, "server.ready").write_text(str(os.getpid()))
    print(f"agora: embedded graph server ready on bolt://127.0.0.1:{args.bolt_port}", flush=True)
    while not stopping:
        time.sleep(0.2)
    server.stop()
    print("agora: embedded graph server stopped", flush=True)
    os._exit(0)  # the JVM keeps non-daemon threads; leave without waiting for them


if __name__ == "__main__":
    _serve()
