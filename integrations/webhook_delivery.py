"""One HTTP attempt of a webhook delivery: a signed JSON POST to the endpoint, through a client
that connects only to addresses the deployment allows (``voiceagents.netguard``), follows no
redirect (a 3xx is a failed attempt) and waits at most the attempt's timeout.

The body is the event's envelope ``{"id", "type", "created", "data"}``, the same bytes on
every attempt; the signature (``integrations.signing``) is made afresh for each, over its own
timestamp and those bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson
from asgiref.sync import async_to_sync

from integrations.signing import SIGNATURE_HEADER, signature_header
from integrations.tool_rules import address_policy
from voiceagents.netguard import AddressRefused, HostUnresolvable, guarded_http_client

__all__ = [
    "ATTEMPT_HEADER",
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "USER_AGENT",
    "AttemptResult",
    "webhook_body",
    "webhook_post",
]

EVENT_ID_HEADER = "X-Voiceagents-Event-Id"
EVENT_TYPE_HEADER = "X-Voiceagents-Event-Type"
ATTEMPT_HEADER = "X-Voiceagents-Delivery-Attempt"
USER_AGENT = "voiceagents-webhooks/1"
# What is read of an answer (the excerpt kept is shorter still).
_READ_MAX_BYTES = 64 * 1024
_EXCERPT_CHARS = 500


@dataclass(frozen=True, slots=True)
class AttemptResult:
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str
    response_excerpt: str


def webhook_body(*, event_id: str, event_type: str, created: str, data: Any) -> bytes:
    return orjson.dumps({"id": event_id, "type": event_type, "created": created, "data": data})


def _refused(exc: BaseException) -> AddressRefused | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def _post(
    *, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    async with (
        guarded_http_client(policy=address_policy(), timeout=timeout) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        data = b""
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) >= _READ_MAX_BYTES:
                break
        return response.status_code, data


def webhook_post(
    *,
    url: str,
    body: bytes,
    secret: str,
    event_id: str,
    event_type: str,
    attempt: int,
    timeout: float,
) -> AttemptResult:
    """POST ``body`` to ``url`` once; never raises for what the receiver or the network does."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        ATTEMPT_HEADER: str(attempt),
        SIGNATURE_HEADER: signature_header(secret=secret, body=body),
    }
    started = time.perf_counter()
    status: int | None = None
    data = b""
    error = ""
    try:
        status, data = async_to_sync(_post)(url=url, body=body, headers=headers, timeout=timeout)
    except httpx2.TimeoutException:
        error = f"No answer within {timeout:g} s."
    except (httpx2.HTTPError, OSError) as exc:
        refusal = _refused(exc)
        if refusal is not None:
            error = f"{refusal.host} is a private, loopback or link-local address; refused."
        elif isinstance(exc, HostUnresolvable):
            error = f"{exc.host} cannot be resolved."
        else:
            error = f"Could not connect ({type(exc).__name__})."
    latency_ms = int((time.perf_counter() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok:
        error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    return AttemptResult(
        ok=ok,
        status_code=status,
        latency_ms=latency_ms,
        error=error[:300],
        response_excerpt=data.decode("utf-8", "replace")[:_EXCERPT_CHARS],
    )
