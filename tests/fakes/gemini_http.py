"""A loopback fake of the Gemini API's ``models/{model}:batchEmbedContents``, driven by the real
``google-genai`` SDK.

Plain HTTP is enough: unlike the Live API's websocket, the SDK's REST client accepts an
``http://`` base URL. The fake answers like the API: ``x-goog-api-key`` check (400
``INVALID_ARGUMENT``, as Google answers a bad key), at most 100 requests per batch, every
request naming the model of the URL, ``outputDimensionality`` honoured (3072 by default).
Vectors come from :func:`fake_vector`, seeded by the text and not unit length, as the real
model's reduced-width outputs are not.

Every request is recorded in :attr:`FakeGeminiEmbeddings.requests`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

API_KEY = "fake-gemini-key"
MAX_BATCH = 100
NATIVE_DIMENSIONS = 3072
_PATH = re.compile(r"^/(v1|v1beta)/models/(?P<model>[\w.-]+):batchEmbedContents$")


def fake_vector(text: str, dimensions: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return (np.random.default_rng(seed).normal(size=dimensions) * 3).tolist()


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeGeminiEmbeddings:
    """``with FakeGeminiEmbeddings() as fake: genai.Client(http_options={"base_url": ...})``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FakeGeminiEmbeddings:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append(RecordedRequest(path=path, headers=headers, body=body))
        if headers.get("x-goog-api-key") != API_KEY:
            return 400, _error(400, "API key not valid. Please pass a valid API key.")
        match = _PATH.match(path)
        if not match:
            return 404, _error(404, f"Method not found: {path}")
        requests = body.get("requests") or []
        if len(requests) > MAX_BATCH:
            return 400, _error(400, f"at most {MAX_BATCH} requests can be in one batch")
        embeddings = []
        for request in requests:
            if request.get("model") != f"models/{match['model']}":
                return 400, _error(400, "Model in request does not match the URL.")
            text = "".join(part.get("text", "") for part in request["content"]["parts"])
            width = request.get("outputDimensionality", NATIVE_DIMENSIONS)
            embeddings.append({"values": fake_vector(text, width)})
        return 200, {"embeddings": embeddings}


def _error(code: int, message: str) -> dict[str, Any]:
    status = "INVALID_ARGUMENT" if code == 400 else "NOT_FOUND"
    return {"error": {"code": code, "message": message, "status": status}}


def _handler(fake: FakeGeminiEmbeddings) -> type[BaseHTTPRequestHandler]:
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
