"""ASGI middleware that selects the tenant for media WebSockets.

Carriers open the stream to the main host, so the host names no organization; the signed,
single-use token in the URL does (calls.stream_tokens). This middleware consumes it once and
puts the grant in the scope; the consumer refuses the socket without one. It is the only
place a WebSocket's organization is decided.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

from calls.exceptions import InvalidStreamToken
from calls.stream_tokens import stream_token_consume

# The media routes' paths (calls/routing.py); a path without a token matches no route and is
# refused by the router's catch-all (voiceagents/routing.py), with no token to consume.
MEDIA_PATH = re.compile(r"^/ws/[a-z0-9_-]+/media/(?P<token>[^/]+)$")

# Channels' scope: a plain dict to which Channels (and this middleware) add their own keys.
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]


class StreamTokenMiddleware:
    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        match = MEDIA_PATH.match(scope.get("path", "")) if scope["type"] == "websocket" else None
        if match is not None:
            scope = dict(scope)
            token = match["token"]
            try:
                # Redis round trip: off the event loop, but not on the ORM's thread.
                scope["stream_grant"] = await sync_to_async(
                    stream_token_consume, thread_sensitive=False
                )(token)
            except InvalidStreamToken as exc:
                scope["stream_grant"] = None
                scope["stream_refusal"] = exc.message
        return await self.inner(scope, receive, send)
