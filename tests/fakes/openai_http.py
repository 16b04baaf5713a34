"""A loopback fake of OpenAI's ``POST /v1/embeddings``, driven by the real ``openai`` SDK.

It answers like the API: bearer-key check (401 with OpenAI's error body), ``float`` or
``base64`` (little-endian float32, the SDK's default) encodings, ``dimensions`` honoured,
``index`` on every item and usage counts. Vectors come from :func:`fake_vector`, seeded by the
text, deliberately not unit length so tests see the client normalise them.

Every request is recorded in :attr:`FakeOpenAIEmbeddings.requests`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

API_KEY = "sk-fake-openai"


def fake_vector(text: str, dimensions: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).normal(size=dimensions) * 3).tolist()


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeOpenAIEmbeddings:
    """``with FakeOpenAIEmbeddings() as fake: OpenAI(base_url=fake.base_url, ...)``."""

    def __init__(self, *, dimensions: int = 1536) -> None:
        self.dimensions = dimensions  # the model's native width
        self.requests: list[RecordedRequest] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> FakeOpenAIEmbeddings:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append(RecordedRequest(path=path, headers=headers, body=body))
        if headers.get("authorization") != f"Bearer {API_KEY}":
            return 401, _error(
                "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        if path != "/v1/embeddings":
            return 404, _error(f"Unknown path {path}.", "invalid_request_error", None)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if not inputs or any(not isinstance(text, str) or not text for text in inputs):
            return 400, _error("'input' must be non-empty strings.", "invalid_request_error", None)
        width = body.get("dimensions", self.dimensions)
        data = []
        for index, text in enumerate(inputs):
            vector = fake_vector(text, width)
            if body.get("encoding_format") == "base64":
                encoded: Any = base64.b64encode(np.asarray(vector, "<f4").tobytes()).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(text.split()) for text in inputs)
        return 200, {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _handler(fake: FakeOpenAIEmbeddings) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = fake.respond(self.path, headers, json.loads(raw or b"{}"))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
