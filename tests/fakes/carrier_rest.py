"""What the Twilio and Plivo REST fakes share: a threaded loopback HTTP server (from
:mod:`tests.fakes.http_server`), a thread-safe request log, basic-auth parsing and programmable
failures.

A subclass implements :meth:`FakeCarrierRest.route`, which gets a :class:`RecordedRequest` and
returns ``(status, json_body_or_None)``.
"""

from __future__ import annotations

import base64
import collections
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_server import LoopbackHTTPFake, QuietHandler


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


class FakeCarrierRest(LoopbackHTTPFake):
    def __init__(self) -> None:
        super().__init__(_handler(self))
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: dict[str, collections.deque[Failure]] = collections.defaultdict(
            collections.deque
        )

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
    class Handler(QuietHandler):
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
            self.send_json(*fake._dispatch(request))

        do_GET = do_POST = do_DELETE = _serve

    return Handler
