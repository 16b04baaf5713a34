"""Calling an organization's custom tool: a signed JSON POST to its HTTPS endpoint, whose JSON
answer is what the model is given.

The request body is ``{"tool": <name>, "arguments": {...}, "call_id": <id or null>}``,
signed with the tool's secret in the ``X-Voiceagents-Signature`` header
(``integrations.signing``). Any 2xx answer with a JSON body is the result; another status is
ToolFailed (with the answer's ``error`` string when it gives one), a body that is not JSON
ToolBadResponse. Redirects are not followed, and the connection goes only to addresses the
deployment's policy allows (``voiceagents.netguard``).
"""

from __future__ import annotations

import time
from typing import Any

import httpx2
import orjson

from integrations.exceptions import (
    ToolBadResponse,
    ToolFailed,
    ToolServerUnreachable,
    ToolTimedOut,
    ToolUrlRefused,
)
from integrations.signing import SIGNATURE_HEADER, signature_header
from voiceagents.netguard import AddressRefused, HostUnresolvable

__all__ = ["RESPONSE_MAX_BYTES", "USER_AGENT", "custom_tool_post"]

RESPONSE_MAX_BYTES = 1 << 20
USER_AGENT = "voiceagents-tools/1"


def _refusal(exc: BaseException) -> AddressRefused | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def custom_tool_post(
    *,
    client: httpx2.AsyncClient,
    url: str,
    tool: str,
    arguments: dict[str, Any],
    signing_secret: str,
    timeout: float,
    call_id: int | None = None,
) -> tuple[Any, float]:
    """POST ``arguments`` to ``url``; the JSON answer and the round trip in milliseconds."""
    body = orjson.dumps({"tool": tool, "arguments": arguments, "call_id": call_id})
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secret=signing_secret, body=body),
    }
    details = {"server": "custom", "tool": tool}
    started = time.perf_counter()
    try:
        async with client.stream(
            "POST", url, content=body, headers=headers, timeout=timeout
        ) as response:
            data = b""
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > RESPONSE_MAX_BYTES:
                    raise ToolBadResponse(
                        f"The custom tool {tool} answered with more than "
                        f"{RESPONSE_MAX_BYTES:,} bytes.",
                        details=details,
                    )
    except httpx2.TimeoutException:
        raise ToolTimedOut(
            f"The custom tool {tool} did not answer within {timeout:g} s.", details=details
        ) from None
    except (httpx2.HTTPError, OSError) as exc:
        refusal = _refusal(exc)
        if refusal is not None:
            raise ToolUrlRefused(
                f"The custom tool {tool}'s endpoint is at a private, loopback or link-local "
                f"address ({refusal.host}); this server does not connect to its own network.",
                details=details,
            ) from None
        reason = "cannot be resolved" if isinstance(exc, HostUnresolvable) else type(exc).__name__
        raise ToolServerUnreachable(
            f"The custom tool {tool}'s endpoint could not be reached ({reason}).",
            details=details,
        ) from None
    duration_ms = (time.perf_counter() - started) * 1000
    try:
        value = orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        value = ...
    if not 200 <= response.status_code < 300:
        said = value.get("error") if isinstance(value, dict) else None
        message = f"The custom tool {tool} answered HTTP {response.status_code}"
        if isinstance(said, str) and said:
            message += f": {said[:300]}"
        raise ToolFailed(message + ".", details={**details, "status": response.status_code})
    if value is ...:
        raise ToolBadResponse(
            f"The custom tool {tool} answered with something that is not JSON.", details=details
        )
    return value, duration_ms
