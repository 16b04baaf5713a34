"""A customer's endpoint on loopback, as a custom tool (or a webhook) reaches it: it checks the
``X-Voiceagents-Signature`` of every POST against its secret with the ten lines docs/api.md
gives customers (not with our own code), records what it got, and answers by path:

- ``/book``: ``{"booked": true, "day": <arguments.day>}``;
- ``/fail``: HTTP 500 ``{"error": "calendar is down"}``;
- ``/text``: 200 with a body that is not JSON;
- ``/slow``: answers after ``slow_seconds``.

A request whose signature does not verify is answered 401 and recorded as not verified.

``ToolEndpoint(tls=True)`` serves HTTPS with a certificate for 127.0.0.1 from a ``trustme``
CA, which clients trust through ``SSL_CERT_FILE`` (:meth:`ToolEndpoint.ca_file`), as in
tests/fakes/https_files.py: the code under test keeps its default TLS context.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import tempfile
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import trustme

from tests.fakes.http_server import LoopbackHTTPFake, QuietHandler


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, as docs/api.md shows it."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    timestamp = parts.get("t", "")
    signatures = [
        v for k, v in (i.split("=", 1) for i in header.split(",") if "=" in i) if k == "v1"
    ]
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return any(hmac.compare_digest(expected.hexdigest(), s) for s in signatures)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes
    verified: bool


class ToolEndpoint(LoopbackHTTPFake):
    def __init__(self, secret: str = "", *, tls: bool = False) -> None:
        self.secret = secret
        self.slow_seconds = 5.0
        self.received: list[Received] = []
        super().__init__(_handler(self))
        self._ca: trustme.CA | None = None
        self._ca_dir: tempfile.TemporaryDirectory[str] | None = None
        if tls:
            self._ca = trustme.CA()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._ca_dir = tempfile.TemporaryDirectory()

    @property
    def base_url(self) -> str:
        scheme = "https" if self._ca is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def ca_file(self) -> str:
        """The PEM file of the CA that signed the HTTPS certificate."""
        assert self._ca is not None and self._ca_dir is not None, "not a TLS endpoint"
        path = Path(self._ca_dir.name) / "ca.pem"
        self._ca.cert_pem.write_to_path(str(path))
        return str(path)

    def stop(self) -> None:
        super().stop()
        if self._ca_dir is not None:
            self._ca_dir.cleanup()


def _handler(fake: ToolEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            ok = bool(fake.secret) and verify(
                fake.secret, headers.get("x-voiceagents-signature", ""), raw
            )
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            fake.received.append(Received(self.path, headers, body, raw, ok))
            if not ok:
                self.send_json(401, {"error": "bad signature"})
                return
            arguments = body.get("arguments") or {}
            if self.path == "/book":
                self.send_json(200, {"booked": True, "day": arguments.get("day")})
            elif self.path == "/fail":
                self.send_json(500, {"error": "calendar is down"})
            elif self.path == "/text":
                data = b"<html>ok</html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            elif self.path == "/slow":
                time.sleep(fake.slow_seconds)
                self.send_json(200, {"late": True})
            else:
                self.send_json(404, {"error": "no such tool"})

    return Handler
