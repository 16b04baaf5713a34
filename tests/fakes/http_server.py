"""The threaded loopback HTTP server the REST fakes share (carriers, embeddings).

It speaks HTTP/1.1 with Content-Length, so the SDKs' keep-alive sessions work as against the
real APIs. :class:`JsonPostFake` is the whole plumbing for an API whose every request is a
JSON ``POST`` (and the odd ``GET``, with an empty body): a subclass only answers it in
:meth:`JsonPostFake.respond`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackHTTPFake:
    """Serves ``handler`` on 127.0.0.1 from a daemon thread, from start() (or ``with``)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()  # waits for serve_forever, so only once it runs
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive) and no access log on stderr."""

    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two sends; with Nagle's algorithm on, a kept-alive
    # client's next answer waited for its delayed ACK, about 40 ms a request.
    disable_nagle_algorithm = True

    def send_json(self, status: int, payload: Any) -> None:
        """Answer with ``payload`` as JSON; ``None`` answers with an empty body."""
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class JsonRequest:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]


class JsonPostFake(LoopbackHTTPFake):
    """Every request is recorded in :attr:`requests`, then answered by :meth:`respond`."""

    def __init__(self) -> None:
        self.requests: list[JsonRequest] = []
        super().__init__(_json_post_handler(self))

    def respond(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        """``(status, JSON payload)`` for one request."""
        raise NotImplementedError

    def _answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append(JsonRequest(path=path, headers=headers, body=body))
        return self.respond(path, headers, body)


def _json_post_handler(fake: JsonPostFake) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.send_json(*fake._answer(self.path, headers, json.loads(raw or b"{}")))

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.send_json(*fake._answer(self.path, headers, {}))

    return Handler
