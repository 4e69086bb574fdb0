"""Real local servers for the notifier tests: an HTTP endpoint on 127.0.0.1
(scriptable: fail N times, answer with a status, hang until released) and an
aiosmtpd SMTP server that requires STARTTLS and a login, with a throwaway CA
made by trustme."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Endpoint:
    """What the server received, and how it answers next: ``script`` is a list of
    ``(status, body, headers)`` used one per request, then ``(200, ok_body, {})``."""

    url: str
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    ok_body: str = "ok"
    hold: threading.Event | None = None  # when set: requests wait for it before answering
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, times: int, status: int = 503, body: str = "unavailable", **headers: str) -> None:
        self.script.extend([(status, body, dict(headers))] * times)


def _handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if endpoint.hold is not None:
                endpoint.hold.wait(30)
            with endpoint.lock:
                endpoint.received.append(Received(self.path, dict(self.headers.items()), body, time.time()))
                status, text, headers = endpoint.script.pop(0) if endpoint.script else (200, endpoint.ok_body, {})
            data = text.encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """A real HTTP server on 127.0.0.1 and a free port, answering POSTs as scripted."""
    port = free_port()
    ep = Endpoint(f"http://127.0.0.1:{port}/hooks/agora")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(ep))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ep
    if ep.hold is not None:
        ep.hold.set()
    server.shutdown()
    server.server_close()


@dataclass
class Smtp:
    host: str
    port: int
    ca_file: Path
    messages: list[dict[str, Any]]
    user: str = "agora"
    password: str = "s3cret-pass"


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smtp]:
    """aiosmtpd on 127.0.0.1 that offers STARTTLS (a trustme certificate), requires it
    before anything else, and requires a login (user ``agora``)."""
    import trustme
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(tls)
    ca_file = tmp_path_factory.mktemp("smtp") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    smtp = Smtp("127.0.0.1", free_port(), ca_file, [])

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            smtp.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "content": envelope.original_content or envelope.content,
                                  "tls": session.ssl is not None, "authenticated": session.authenticated})
            return "250 Message accepted"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == smtp.user.encode() and \
            data.password == smtp.password.encode()
        return AuthResult(success=ok, handled=False)

    controller = Controller(Handler(), hostname=smtp.host, port=smtp.port, tls_context=tls, require_starttls=True,
                            auth_required=True, auth_require_tls=True, authenticator=authenticator)
    controller.start()
    yield smtp
    controller.stop()
