"""A loopback HTTPS file server (TLS from a ``trustme`` CA) for the batch ``file_url`` tests:
it serves the files it is given, answers redirects where told to, and records every request.

Clients trust its CA through ``SSL_CERT_FILE`` (see :meth:`FakeFileServer.ca_file`), as a
deployment trusts an internal CA: the code under test uses the default TLS context.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.fakes.http_server import LoopbackHTTPFake, QuietHandler


@dataclass(frozen=True)
class Served:
    body: bytes = b""
    content_type: str = "text/csv"
    status: int = 200
    location: str = ""  # a redirect's target
    declare_length: bool = True


class FakeFileServer(LoopbackHTTPFake):
    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        super().__init__(_handler(self))
        self._ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._ca_dir = tempfile.TemporaryDirectory()

    @property
    def port(self) -> int:
        return self._server.server_port

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def ca_file(self) -> str:
        path = Path(self._ca_dir.name) / "ca.pem"
        self._ca.cert_pem.write_to_path(str(path))
        return str(path)

    def stop(self) -> None:
        super().stop()
        self._ca_dir.cleanup()


def _handler(fake: FakeFileServer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            fake.requests.append((self.path, self.headers.get("Host", "")))
            served = fake.files.get(self.path.split("?", 1)[0])
            if served is None:
                self.send_json(404, {"error": "not found"})
                return
            self.send_response(served.status)
            if served.location:
                self.send_header("Location", served.location)
            self.send_header("Content-Type", served.content_type)
            if served.declare_length:
                self.send_header("Content-Length", str(len(served.body)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(served.body)

    return Handler
