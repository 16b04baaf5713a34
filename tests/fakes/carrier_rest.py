"""What the Twilio and Plivo REST fakes share: a threaded loopback HTTP server, a thread-safe
request log, basic-auth parsing and programmable failures.

A subclass implements :meth:`FakeCarrierRest.route`, which gets a :class:`RecordedRequest` and
returns ``(status, json_body_or_None)``. The server speaks HTTP/1.1 with Content-Length, so the
SDKs' keep-alive sessions work as against the real APIs.
"""

from __future__ import annotations

import base64
import collections
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    auth: tuple[str, str] | None
    body: bytes
    form: dict[str, list[str]]  # form-encoded body, every value of repeated keys
    json: Any  # JSON body, or None

    def field(self, name: str) -> str | None:
        """The single value of a form field (or JSON key), ``None`` when absent."""
        if self.json is not None:
            return self.json.get(name)
        values = self.form.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Failure:
    status: int
    code: int | None
    message: str


class FakeCarrierRest:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: dict[str, collections.deque[Failure]] = collections.defaultdict(
            collections.deque
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

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

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, resource: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if self.resource_of(r.path) == resource and (method is None or r.method == method)
        ]

    def fail_next(
        self, resource: str, *, status: int, code: int | None = None, message: str = "error"
    ) -> None:
        """Answer the next request to ``resource`` with the carrier's error format."""
        with self._lock:
            self._failures[resource].append(Failure(status, code, message))

    # --- for subclasses -------------------------------------------------------------------

    def resource_of(self, path: str) -> str | None:
        raise NotImplementedError

    def route(self, request: RecordedRequest) -> tuple[int, Any]:
        raise NotImplementedError

    def error_body(self, failure: Failure) -> Any:
        raise NotImplementedError

    def _dispatch(self, request: RecordedRequest) -> tuple[int, Any]:
        with self._lock:
            self._requests.append(request)
            queue = self._failures.get(self.resource_of(request.path) or "")
            failure = queue.popleft() if queue else None
        if failure is not None:
            return failure.status, self.error_body(failure)
        return self.route(request)


def basic_auth(value: str | None) -> tuple[str, str] | None:
    if not value or not value.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _handler(fake: FakeCarrierRest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            url = urlsplit(self.path)
            content_type = headers.get("content-type", "")
            parsed_json = json.loads(body) if body and "json" in content_type else None
            form = (
                parse_qs(body.decode(), keep_blank_values=True)
                if body and "x-www-form-urlencoded" in content_type
                else {}
            )
            request = RecordedRequest(
                method=self.command,
                path=url.path,
                query=parse_qs(url.query, keep_blank_values=True),
                headers=headers,
                auth=basic_auth(headers.get("authorization")),
                body=body,
                form=form,
                json=parsed_json,
            )
            status, payload = fake._dispatch(request)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
