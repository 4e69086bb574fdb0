"""Real-service harness shared by the fault tests and ``benchmarks.pipeline``.

Worker subprocesses (``agora worker`` in a process group of their own, so a
kill -9 can take the main process and its pool together), a private
``redis-server`` that can be killed and restarted with its data (append-only
file, fsync on every write), the graph's expected content computed from a
source, and the check that the graph holds exactly that: none lost, none
doubled.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agora.records import Interaction, Kind
from graph.store import GraphStore

__all__ = ["REPO", "free_port", "write_config", "die_with_parent", "WorkerProcess", "start_worker", "PrivateRedis", "expected_counts",
           "graph_counts", "wait_results", "Progress"]

REPO = Path(__file__).resolve().parent.parent
_PARENT_REL = {Kind.REPLY: "REPLIES_TO", Kind.QUOTE: "QUOTES", Kind.SHARE: "SHARES"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(folder: Path, *, graph_uri: str, database: str, broker: str, backend: str | None,
                 batch_size: int = 2000, extra: dict[str, Any] | None = None, **workers: Any) -> Path:
    """A worker's config.yaml: graph and brokers as given, ``workers`` keys from the keyword
    arguments, other top-level sections from ``extra``; the graph password is left to the environment."""
    data = {"graph": {"uri": graph_uri, "user": "root", "database": database, "batch_size": batch_size},
            "workers": {"broker_url": broker, "result_backend": backend, **workers}, **(extra or {})}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child is killed when the process that started it dies (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class WorkerProcess:
    """An ``agora worker`` subprocess leading its own process group, logging to ``log``."""

    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def children(self) -> list[int]:
        """The pool processes (children of the main process)."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill9_child(self) -> int:
        """SIGKILL one pool process (the main process sees it die mid-task); returns its pid."""
        deadline = time.monotonic() + 10
        while not self.children():
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.pid} has no pool process:\n{self.tail()}")
            time.sleep(0.05)
        pid = self.children()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill9_all(self) -> None:
        """SIGKILL the main process and its pool at once (the host died)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stop(self, timeout_s: float = 30.0) -> int:
        """Warm shutdown (SIGTERM), then SIGKILL of whatever is left in the group; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.proc.wait(timeout=10)


def start_worker(config: Path, password: str, queue: str, log: Path, *, concurrency: int = 1,
                 pool: str = "prefork", name: str | None = None, metrics_port: int | None = None,
                 env: dict[str, str] | None = None) -> WorkerProcess:
    """Start ``agora worker`` on ``queue`` with ``config`` (the graph password in the environment)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "CELERY_", "PROMETHEUS_"))}
    environ.update({"AGORA_CONFIG": str(config), "AGORA_GRAPH__PASSWORD": password, "HF_HUB_OFFLINE": "1",
                    "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                    "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})})
    cmd = [sys.executable, "-m", "agora.cli", "worker", f"--concurrency={concurrency}", f"--pool={pool}",
           "-Q", queue, "-n", f"{name or queue}@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    if metrics_port is not None:
        cmd.insert(4, f"--metrics-port={metrics_port}")
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=environ, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
    return WorkerProcess(proc, log)


@dataclass
class PrivateRedis:
    """A ``redis-server`` of our own on ``port``, persisting every write to an append-only file in ``folder``,
    so that a kill -9 and a restart lose nothing that was acknowledged."""

    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 20.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
               "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
               "--logfile", str(self.folder / "redis.log")]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout_s
        import redis

        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1).ping()
                return
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"private redis-server on port {self.port} did not start")
                time.sleep(0.1)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()


def expected_counts(interactions: Iterable[Interaction]) -> dict[str, int]:
    """What the graph must hold after storing ``interactions`` once (and what any re-run must leave).

    Keys: stored messages, their distinct ids, all messages (with parent
    placeholders), accounts, people (one per account), and each relationship type.
    """
    items = list(interactions)
    ids = {it.id for it in items}
    accounts = {ref.key for it in items for ref in (it.actor, *it.targets, *it.mentions)}
    parents: Counter[str] = Counter()
    parent_ids = set()
    for it in items:
        if it.parent_id and it.kind in _PARENT_REL:
            parents[_PARENT_REL[it.kind]] += 1
            parent_ids.add(it.parent_id)
    out = {"stored": len(items), "distinct_ids": len(ids), "messages": len(ids | parent_ids),
           "Account": len(accounts), "Person": len(accounts), "OF": len(accounts), "POSTED": len(items),
           "ADDRESSES": len({(it.id, t.key) for it in items for t in it.targets}),
           "MENTIONS": len({(it.id, m.key) for it in items for m in it.mentions})}
    out.update(parents)
    return out


def graph_counts(store: GraphStore, keys: Sequence[str]) -> dict[str, int]:
    """The same counts as :func:`expected_counts`, read from the graph (relationships counted, not merged)."""
    row = store.fetch("MATCH (m:Message) WHERE m.ts IS NOT NULL RETURN count(m) AS n, count(DISTINCT m.id) AS d")[0]
    out = {"stored": row["n"], "distinct_ids": row["d"], "messages": store.count("Message"),
           "Account": store.count("Account"), "Person": store.count("Person")}
    rels = {r["t"]: r["n"] for r in store.fetch("MATCH ()-[r]->() RETURN type(r) AS t, count(r) AS n")}
    out.update({k: rels.get(k, 0) for k in keys if k not in out})
    return out


@dataclass
class Progress:
    """Polls the graph's stored-message count (cheap enough every 0.1 s for tests)."""

    store: GraphStore

    def stored(self) -> int:
        return self.store.count("Message", stored_only=True)

    def wait_until(self, n: int, timeout_s: float, *, worker: WorkerProcess | None = None) -> int:
        deadline = time.monotonic() + timeout_s
        while True:
            seen = self.stored()
            if seen >= n:
                return seen
            if worker is not None and not worker.alive():
                raise RuntimeError(f"worker exited with {worker.proc.returncode}:\n{worker.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {seen} of {n} messages stored after {timeout_s:.0f} s")
            time.sleep(0.1)


def wait_results(results: Sequence[Any], timeout_s: float, workers: Sequence[WorkerProcess] = ()) -> list[Any]:
    """Every result's value, waiting up to ``timeout_s`` in all; raises with the workers' logs on timeout."""
    deadline = time.monotonic() + timeout_s
    while not all(r.ready() for r in results):
        if time.monotonic() > deadline:
            logs = "\n---\n".join(w.tail() for w in workers)
            pending = [r.id for r in results if not r.ready()]
            raise TimeoutError(f"{len(pending)} of {len(results)} tasks not done in {timeout_s:.0f} s "
                               f"({pending[:3]}):\n{logs}")
        time.sleep(0.2)
    return [r.get(timeout=10) for r in results]
