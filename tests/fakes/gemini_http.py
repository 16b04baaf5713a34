"""A loopback fake of the Gemini API's ``models/{model}:batchEmbedContents`` and ``GET
models`` (the cheap call that verifies a key), and of ``models/{model}:generateContent`` with
a JSON answer (:class:`FakeGeminiText`, post-call analysis), driven by the real
``google-genai`` SDK.

Plain HTTP is enough: unlike the Live API's websocket, the SDK's REST client accepts an
``http://`` base URL. The fake answers like the API: ``x-goog-api-key`` check (400
``INVALID_ARGUMENT``, as Google answers a bad key), at most 100 requests per batch, every
request naming the model of the URL, ``outputDimensionality`` honoured (3072 by default).
Vectors come from :func:`fake_vector`, seeded by the text and not unit length, as the real
model's reduced-width outputs are not.

Every request is recorded in :attr:`FakeGeminiEmbeddings.requests`. Keys it accepts are
:attr:`FakeGeminiEmbeddings.api_keys` (``API_KEY``, plus any a test adds).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.http_server import JsonPostFake
from tests.fakes.vectors import fake_vector

API_KEY = "fake-gemini-key"
MAX_BATCH = 100
NATIVE_DIMENSIONS = 3072
_PATH = re.compile(r"^/(v1|v1beta)/models/(?P<model>[\w.-]+):batchEmbedContents$")
_LIST_PATH = re.compile(r"^/(v1|v1beta)/models$")
_GENERATE_PATH = re.compile(r"^/(v1|v1beta)/models/(?P<model>[\w.-]+):generateContent$")


class FakeGeminiEmbeddings(JsonPostFake):
    """``with FakeGeminiEmbeddings() as fake: genai.Client(http_options={"base_url": ...})``."""

    def __init__(self) -> None:
        super().__init__()
        self.api_keys: set[str] = {API_KEY}

    def respond(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if headers.get("x-goog-api-key") not in self.api_keys:
            return 400, _error(400, "API key not valid. Please pass a valid API key.")
        if _LIST_PATH.match(path.split("?")[0]):
            return 200, {
                "models": [
                    {"name": "models/gemini-embedding-001", "displayName": "Gemini Embedding"},
                    {"name": "models/gemini-3.1-flash-live-preview", "displayName": "Live"},
                ]
            }
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


class FakeGeminiText(JsonPostFake):
    """``models/{model}:generateContent`` as a model asked for structured output answers: the
    key check, a request with ``contents`` and, when ``generationConfig.responseMimeType`` is
    ``application/json``, one candidate whose text is :attr:`answer` as JSON (or
    :attr:`raw_answer` verbatim). :attr:`status` other than 200 answers Google's error body.
    Requests are in :attr:`requests` (path, lower-cased headers, body)."""

    def __init__(self) -> None:
        super().__init__()
        self.api_keys: set[str] = {API_KEY}
        self.answer: Any = {}
        self.raw_answer: str | None = None
        self.status = 200

    def respond(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if headers.get("x-goog-api-key") not in self.api_keys:
            return 400, _error(400, "API key not valid. Please pass a valid API key.")
        match = _GENERATE_PATH.match(path.split("?")[0])
        if not match:
            return 404, _error(404, f"Method not found: {path}")
        if self.status != 200:
            return self.status, _error(self.status, "The model is overloaded.")
        if not body.get("contents"):
            return 400, _error(400, "* GenerateContentRequest.contents: contents is not specified")
        config = body.get("generationConfig") or {}
        if config.get("responseMimeType") != "application/json":
            return 400, _error(400, "This fake only answers JSON (responseMimeType).")
        text = self.raw_answer if self.raw_answer is not None else json.dumps(self.answer)
        return 200, {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 100,
                "candidatesTokenCount": 20,
                "totalTokenCount": 120,
            },
            "modelVersion": match["model"],
        }


def _error(code: int, message: str) -> dict[str, Any]:
    status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}.get(code, "UNAVAILABLE")
    return {"error": {"code": code, "message": message, "status": status}}
