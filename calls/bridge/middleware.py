"""ASGI middleware that selects the tenant for media WebSockets.

Carriers open the stream to the main host, so the host names no organization; the signed,
single-use token in the URL does (calls.stream_tokens). This middleware consumes it once and
puts the grant in the scope; the consumer refuses the socket without one. It is the only
place a WebSocket's organization is decided.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable

from calls.exceptions import InvalidStreamToken
from calls.stream_tokens import stream_token_consume

# Channels' scope: a plain dict to which Channels (and this middleware) add their own keys.
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]


class StreamTokenMiddleware:
    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket" and "/media/" in scope.get("path", ""):
            scope = dict(scope)
            token = scope["path"].rstrip("/").rsplit("/", 1)[-1]
            try:
                # Redis round trip: off the event loop, but not on the ORM's thread.
                scope["stream_grant"] = await sync_to_async(
                    stream_token_consume, thread_sensitive=False
                )(token)
            except InvalidStreamToken as exc:
                scope["stream_grant"] = None
                scope["stream_refusal"] = exc.message
        return await self.inner(scope, receive, send)
