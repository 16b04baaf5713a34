"""WebSocket routes. The media streams select their tenant from the signed token in the URL
(calls.bridge.middleware); an operator's socket (a call's live view, calls/routing.py) from
its Host header, as HTTP does, with the user of the console's session
(voiceagents.websocket_tenancy). Those are the two places WebSocket tenancy is decided.

A socket to any other path (or to a media path without a token) is refused before the
handshake completes, with one line at info: HTTP 404 where the server can answer the upgrade
with a response of ours (uvicorn), else a plain denial, which servers send as 403 (daphne).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import structlog
from channels.routing import URLRouter
from django.urls import re_path

from calls.bridge.middleware import StreamTokenMiddleware
from calls.routing import websocket_urlpatterns as call_routes

logger = structlog.get_logger(__name__)

# The ASGI extension that lets an application answer a WebSocket upgrade with an HTTP response.
DENIAL_RESPONSE = "websocket.http.response"


async def websocket_not_found(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """The catch-all route: refuse the socket, as "no such path"."""
    await receive()  # websocket.connect
    logger.info("websocket_refused", reason="no such path", path=scope.get("path", ""))
    if DENIAL_RESPONSE in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"Not found."})
    else:
        await send({"type": "websocket.close", "code": 4404})


# Channels' router takes ASGI applications where Django's re_path is typed for views.
websocket_urlpatterns = [*call_routes, re_path(r"", cast(Any, websocket_not_found))]


def websocket_application() -> StreamTokenMiddleware:
    return StreamTokenMiddleware(URLRouter(websocket_urlpatterns))
