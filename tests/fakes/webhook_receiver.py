"""A customer's webhook receiver on loopback: it checks ``X-Voiceagents-Signature`` on every
POST with the verification lines docs/api.md gives customers (read from the document itself,
not our own code), records what it got, and answers:

- 500 for the next ``fail_next`` requests (to exercise retries), then 200 ``{"ok": true}``;
- 401 when the signature does not verify (recorded as not verified);
- ``/redirect``: 302 to ``/elsewhere`` (a receiver's redirect must not be followed);
- ``/elsewhere``: 200, so a followed redirect would show up as a delivery.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.fakes.http_server import LoopbackHTTPFake, QuietHandler

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
_SNIPPET_RE = re.compile(r"<!-- webhook-verification -->\s*```python\n(?P<code>.*?)```", re.DOTALL)


def docs_verify() -> Any:
    """The ``verify(secret, header, body)`` function of docs/api.md, executed as written."""
    match = _SNIPPET_RE.search(DOCS.read_text())
    assert match, "docs/api.md has no webhook verification snippet"
    namespace: dict[str, Any] = {}
    exec(compile(match["code"], str(DOCS), "exec"), namespace)  # noqa: S102 (our own docs)
    return namespace["verify"]


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    raw: bytes
    verified: bool
    status: int


class WebhookReceiver(LoopbackHTTPFake):
    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.fail_next = 0
        self.received: list[Delivery] = []
        self._verify = docs_verify()
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    def url(self, path: str = "/hooks") -> str:
        return f"{self.base_url}{path}"

    @property
    def event_ids(self) -> list[str]:
        return [d.headers.get("x-voiceagents-event-id", "") for d in self.received]


def _handler(fake: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified = bool(fake.secret) and fake._verify(
                fake.secret, headers.get("x-voiceagents-signature", ""), raw
            )
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            with fake._lock:
                if not verified:
                    status = 401
                elif self.path == "/redirect":
                    status = 302
                elif fake.fail_next > 0:
                    fake.fail_next -= 1
                    status = 500
                else:
                    status = 200
                fake.received.append(Delivery(self.path, headers, body, raw, verified, status))
            if status == 302:
                self.send_response(302)
                self.send_header("Location", fake.url("/elsewhere"))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif status == 200:
                self.send_json(200, {"ok": True})
            else:
                self.send_json(status, {"error": "bad signature" if status == 401 else "down"})

    return Handler
