"""A loopback fake of OpenAI's ``POST /v1/embeddings`` and ``GET /v1/models`` (the cheap
call that verifies a key), driven by the real ``openai`` SDK.

It answers like the API: bearer-key check (401 with OpenAI's error body), ``float`` or
``base64`` (little-endian float32, the SDK's default) encodings, ``dimensions`` honoured,
``index`` on every item and usage counts. Vectors come from :func:`fake_vector`, seeded by the
text, deliberately not unit length so tests see the client normalise them.

Every request is recorded in :attr:`FakeOpenAIEmbeddings.requests`. Keys it accepts are
:attr:`FakeOpenAIEmbeddings.api_keys` (``API_KEY``, plus any a test adds, as organizations
bring their own).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from tests.fakes.http_server import JsonPostFake
from tests.fakes.vectors import fake_vector

API_KEY = "sk-fake-openai"


class FakeOpenAIEmbeddings(JsonPostFake):
    """``with FakeOpenAIEmbeddings() as fake: OpenAI(base_url=fake.base_url, ...)``."""

    def __init__(self, *, dimensions: int = 1536) -> None:
        super().__init__()
        self.dimensions = dimensions  # the model's native width
        self.api_keys: set[str] = {API_KEY}

    @property
    def base_url(self) -> str:
        return f"{super().base_url}/v1"

    def respond(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if headers.get("authorization") not in {f"Bearer {key}" for key in self.api_keys}:
            return 401, _error(
                "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        if path.split("?")[0] == "/v1/models":
            return 200, {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": 1700000000, "owned_by": "system"}
                    for name in ("text-embedding-3-small", "gpt-realtime")
                ],
            }
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


class FakeOpenAIChat(JsonPostFake):
    """A loopback fake of OpenAI's ``POST /v1/chat/completions`` (what post-call analysis
    asks), driven by the real ``openai`` SDK: the bearer-key check, and an answer whose
    message ``content`` is :attr:`answer` as JSON (or :attr:`raw_answer` verbatim), as a
    model with a ``json_schema`` response format answers. :attr:`status` other than 200
    answers OpenAI's error body instead."""

    def __init__(self) -> None:
        super().__init__()
        self.api_keys: set[str] = {API_KEY}
        self.answer: Any = {}
        self.raw_answer: str | None = None
        self.status = 200

    @property
    def base_url(self) -> str:
        return f"{super().base_url}/v1"

    def respond(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        if headers.get("authorization") not in {f"Bearer {key}" for key in self.api_keys}:
            return 401, _error(
                "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        if path != "/v1/chat/completions":
            return 404, _error(f"Unknown path {path}.", "invalid_request_error", None)
        if self.status != 200:
            return self.status, _error("The server had an error.", "server_error", None)
        if not body.get("messages") or not body.get("model"):
            return 400, _error(
                "'messages' and 'model' are required.", "invalid_request_error", None
            )
        content = self.raw_answer if self.raw_answer is not None else json.dumps(self.answer)
        return 200, {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1700000000,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
