"""Real MCP servers on loopback, built with the ``mcp`` SDK's server side: a fake Telegram and
a fake Shopify, each with a few tools, one tool that reports an error and one that hangs.

Each runs under uvicorn in a thread of its own, over streamable HTTP (``/mcp``) or SSE
(``/sse``). The ASGI wrapper records every HTTP request's headers (so tests see what
credentials arrived), the JSON-RPC method of each message, and how long the server took to answer each (``server_ms``, what the
round-trip benchmark subtracts).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fake_telegram() -> MCPServer:
    server = MCPServer("fake-telegram", log_level="WARNING")
    sent: list[dict[str, Any]] = []
    server.sent = sent  # type: ignore[attr-defined]

    @server.tool()
    def send_message(chat_id: str, text: str) -> dict[str, Any]:
        """Send a text message to a Telegram chat."""
        message = {"message_id": len(sent) + 1, "chat_id": chat_id, "text": text}
        sent.append(message)
        return {"ok": True, **message}

    @server.tool()
    def get_chat(chat_id: str) -> dict[str, Any]:
        """Read a chat's title and type."""
        return {"id": chat_id, "type": "private", "title": f"Chat {chat_id}"}

    @server.tool()
    def ban_user(chat_id: str, user_id: int) -> str:
        """Ban a user (always refused here: the bot is no admin)."""
        raise ToolError("Bad Request: not enough rights to restrict/unrestrict chat member")

    @server.tool()
    async def wait_for_reply(chat_id: str) -> str:
        """Wait for the next message in a chat (never comes)."""
        await asyncio.sleep(3600)
        return "never"

    return server


def fake_shopify() -> MCPServer:
    server = MCPServer("fake-shopify", log_level="WARNING")
    orders = {
        "1001": {"id": "1001", "status": "shipped", "total": "42.50", "currency": "EUR"},
        "1002": {"id": "1002", "status": "processing", "total": "9.99", "currency": "EUR"},
    }

    @server.tool()
    def get_order(order_id: str) -> dict[str, Any]:
        """Look up an order by its number."""
        order = orders.get(order_id)
        if order is None:
            raise ToolError(f"Order {order_id} not found")
        return order

    @server.tool()
    def search_products(query: str, limit: int = 3) -> dict[str, Any]:
        """Search the catalogue."""
        return {"query": query, "products": [f"{query} #{n}" for n in range(1, limit + 1)]}

    @server.tool()
    async def sync_inventory() -> str:
        """Synchronise the inventory (hangs)."""
        await asyncio.sleep(3600)
        return "done"

    return server


class McpFake:
    """``server`` (an MCPServer) on 127.0.0.1 over ``transport`` ("streamable_http" or
    "sse"), from start() (or ``with``) to stop()."""

    def __init__(self, server: MCPServer | Callable[[], MCPServer], *, transport: str) -> None:
        self.server = server() if callable(server) and not isinstance(server, MCPServer) else server
        self.transport = transport
        self.port = _free_port()
        self.requests: list[dict[str, str]] = []
        self.server_ms: list[float] = []
        # The JSON-RPC method of every request received ("tools/call", "server/discover"...).
        self.methods: list[str] = []
        # How long each tools/call request took the server, from its arrival to its answer.
        self.tools_call_ms: list[float] = []
        if transport == "sse":
            app = self.server.sse_app()
            self.path = "/sse"
        else:
            app = self.server.streamable_http_app()
            self.path = "/mcp"
        self._app = app
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def _recording_app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if scope["path"] == "/__stats":
            # For a benchmark whose server runs in another process: the server's own times.
            body = json.dumps({"tools_call_ms": self.tools_call_ms}).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        methods: list[str] = []
        self.requests.append({k.decode().lower(): v.decode() for k, v in scope["headers"]})
        started = time.perf_counter()

        async def recording_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                try:
                    payload = json.loads(message["body"])
                except ValueError:
                    payload = None
                if isinstance(payload, dict) and "method" in payload:
                    self.methods.append(payload["method"])
                    methods.append(payload["method"])
            return message

        async def timed_send(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                elapsed = (time.perf_counter() - started) * 1000
                self.server_ms.append(elapsed)
                if methods == ["tools/call"]:
                    self.tools_call_ms.append(elapsed)

        await self._app(scope, recording_receive, timed_send)

    def start(self) -> McpFake:
        config = uvicorn.Config(
            self._recording_app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            interface="asgi3",
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._uvicorn.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the MCP fake did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            # Open SSE streams and hanging tools would keep a graceful shutdown waiting.
            self._uvicorn.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._uvicorn = self._thread = None

    def __enter__(self) -> McpFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
