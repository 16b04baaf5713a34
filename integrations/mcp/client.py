"""One connection to one MCP server, over streamable HTTP or SSE, through the SDK's ``Client``.

The SDK's transports are anyio task groups, which must be left by the task that entered them.
A connection therefore lives in a task of its own (``_own``): it enters the client, says it
is ready, and waits until it is told to close; tool calls are made from any task through the
session it opened (the SDK's streams are safe to share). So a phone call opens each server
once, on its first tool call, and every later call of a tool reuses it; the call's end
closes it (``integrations.tool_execution.ToolSessions``).

Every failure leaves as one of ``integrations.exceptions``' tool errors, with a message that
names the server by its slug and host, never a header value.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from integrations.exceptions import (
    ToolBadResponse,
    ToolError,
    ToolFailed,
    ToolServerUnreachable,
    ToolTimedOut,
    ToolUnknown,
    ToolUrlRefused,
)
from voiceagents.netguard import AddressPolicy, AddressRefused, guarded_http_client

__all__ = ["McpConnection", "McpServerConfig", "McpToolInfo", "McpToolResult", "mcp_tools_list"]

TRANSPORT_STREAMABLE_HTTP = "streamable_http"
TRANSPORT_SSE = "sse"
# How long an open stream may stay silent: as long as a phone call may last.
_STREAM_READ_TIMEOUT = 4 * 3600.0
_CLOSE_TIMEOUT = 5.0
_MESSAGE_MAX = 500
_LIST_PAGES_MAX = 50
# JSON-RPC codes a server answers a call of a tool it does not have with.
_UNKNOWN_TOOL_CODES = {-32601, -32602}


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """Where a server is and how to reach it. ``headers`` hold credentials: not in repr."""

    label: str  # the integration's slug, for messages
    url: str
    transport: str = TRANSPORT_STREAMABLE_HTTP
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout_seconds: float = 10.0
    # None: a trusted server (the platform's own), connected to as is.
    policy: AddressPolicy | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "?"


@dataclass(frozen=True, slots=True)
class McpToolInfo:
    name: str
    description: str
    input_schema: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


@dataclass(frozen=True, slots=True)
class McpToolResult:
    """A successful answer: ``value`` is the structured content when the tool gives one,
    else its text (parsed as JSON when it is JSON); ``duration_ms`` is the round trip."""

    value: Any
    duration_ms: float


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 1] + "…"


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or ``exc`` itself."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _connect_error(config: McpServerConfig, exc: BaseException) -> ToolError:
    details = {"server": config.label, "host": config.host}
    for leaf in _leaves(exc):
        if isinstance(leaf, AddressRefused) or isinstance(leaf.__cause__, AddressRefused):
            return ToolUrlRefused(
                f"The MCP server of {config.label} is at a private, loopback or link-local "
                f"address ({config.host}); this server does not connect to its own network.",
                details=details,
            )
    for leaf in _leaves(exc):
        if isinstance(leaf, httpx2.HTTPStatusError):
            status = leaf.response.status_code
            return ToolServerUnreachable(
                f"The MCP server of {config.label} ({config.host}) answered HTTP {status}.",
                details={**details, "status": status},
            )
        if isinstance(leaf, MCPError):
            return ToolServerUnreachable(
                f"The MCP server of {config.label} ({config.host}) refused the connection: "
                f"{_short(leaf.error.message)}",
                details={**details, "mcp_code": leaf.error.code},
            )
    reason = type(_leaves(exc)[0]).__name__
    return ToolServerUnreachable(
        f"The MCP server of {config.label} ({config.host}) could not be reached ({reason}).",
        details={**details, "reason": reason},
    )


class McpConnection:
    """An open session with one server; see the module's docstring."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self._client: Client | None = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._failure: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._client is not None and not self._closing.is_set()

    async def open(self) -> McpConnection:
        """Connect and complete the MCP handshake within the server's timeout."""
        self._task = asyncio.create_task(self._own(), name=f"mcp-{self.config.label}")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=self.config.timeout_seconds)
        except TimeoutError:
            await self.close()
            raise ToolTimedOut(
                f"The MCP server of {self.config.label} ({self.config.host}) did not complete "
                f"the connection within {self.config.timeout_seconds:g} s.",
                details={"server": self.config.label},
            ) from None
        if self._client is None:
            raise _connect_error(self.config, self._failure or RuntimeError("closed"))
        return self

    def _http_client(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        # The SDK's factory signature; ``auth`` stays unused (credentials are headers here).
        return guarded_http_client(
            policy=self.config.policy,
            headers={**(headers or {}), **self.config.headers},
            timeout=timeout
            or httpx2.Timeout(self.config.timeout_seconds, read=_STREAM_READ_TIMEOUT),
        )

    async def _own(self) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self.config.transport == TRANSPORT_SSE:
                    transport: Any = sse_client(
                        self.config.url,
                        timeout=self.config.timeout_seconds,
                        sse_read_timeout=_STREAM_READ_TIMEOUT,
                        httpx_client_factory=self._http_client,
                    )
                else:
                    http = await stack.enter_async_context(self._http_client())
                    transport = streamable_http_client(self.config.url, http_client=http)
                client = await stack.enter_async_context(Client(transport))
                self._client = client
                self._ready.set()
                await self._closing.wait()
        except asyncio.CancelledError:
            if not self._closing.is_set():
                raise
        except BaseException as exc:  # noqa: BLE001 (reported to whoever waits, or on next use)
            self._failure = exc
        finally:
            self._client = None
            self._ready.set()

    async def close(self) -> None:
        self._closing.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=_CLOSE_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    def _session(self) -> Client:
        client = self._client
        if client is None or self._closing.is_set():
            raise ToolServerUnreachable(
                f"The connection to the MCP server of {self.config.label} was lost.",
                details={"server": self.config.label},
            )
        return client

    async def list_tools(self) -> list[McpToolInfo]:
        client = self._session()
        tools: list[McpToolInfo] = []
        cursor: str | None = None
        try:
            with anyio.fail_after(self.config.timeout_seconds):
                for _page in range(_LIST_PAGES_MAX):
                    page = await client.list_tools(cursor=cursor, cache_mode="refresh")
                    tools.extend(
                        McpToolInfo(
                            name=tool.name,
                            description=tool.description or "",
                            input_schema=dict(tool.input_schema or {"type": "object"}),
                        )
                        for tool in page.tools
                    )
                    cursor = page.next_cursor
                    if not cursor:
                        break
        except TimeoutError:
            raise ToolTimedOut(
                f"The MCP server of {self.config.label} did not list its tools within "
                f"{self.config.timeout_seconds:g} s.",
                details={"server": self.config.label},
            ) from None
        except MCPError as exc:
            raise ToolFailed(
                f"The MCP server of {self.config.label} refused to list its tools: "
                f"{_short(exc.error.message)}",
                details={"server": self.config.label, "mcp_code": exc.error.code},
            ) from None
        except ToolError:
            raise
        except Exception as exc:
            await self.close()
            raise _connect_error(self.config, exc) from None
        return tools

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float | None = None
    ) -> McpToolResult:
        """Call ``name``; the tool's own error (``isError``) is ToolFailed with its text."""
        client = self._session()
        limit = self.config.timeout_seconds if timeout is None else timeout
        started = time.perf_counter()
        details = {"server": self.config.label, "tool": name}
        try:
            with anyio.fail_after(limit):
                result = await client.call_tool(name, arguments)
        except TimeoutError:
            raise ToolTimedOut(
                f"The tool {self.config.label}.{name} did not answer within {limit:g} s.",
                details=details,
            ) from None
        except MCPError as exc:
            if exc.error.code in _UNKNOWN_TOOL_CODES and "tool" in exc.error.message.lower():
                raise ToolUnknown(
                    f"The MCP server of {self.config.label} has no tool {name!r}.",
                    details=details,
                ) from None
            raise ToolFailed(
                f"The tool {self.config.label}.{name} failed: {_short(exc.error.message)}",
                details={**details, "mcp_code": exc.error.code},
            ) from None
        except Exception as exc:
            # The stream broke (the server went away): this connection is done.
            await self.close()
            raise _connect_error(self.config, exc) from None
        duration_ms = (time.perf_counter() - started) * 1000
        return McpToolResult(
            value=_result_value(self.config.label, name, result), duration_ms=duration_ms
        )


def _text_of(result: CallToolResult) -> str:
    return "\n".join(
        str(getattr(block, "text", "")) for block in result.content if block.type == "text"
    )


def _result_value(server: str, name: str, result: CallToolResult) -> Any:
    details = {"server": server, "tool": name}
    if result.is_error:
        text = _text_of(result) or "no message"
        if text.startswith("Unknown tool"):
            raise ToolUnknown(f"The MCP server of {server} has no tool {name!r}.", details=details)
        raise ToolFailed(
            f"The tool {server}.{name} reported an error: {_short(text)}", details=details
        )
    if result.structured_content is not None:
        return result.structured_content
    text = _text_of(result)
    others = [block.type for block in result.content if block.type != "text"]
    if text and not others:
        try:
            return json.loads(text)
        except ValueError:
            return {"text": text}
    if not text and not others:
        return {}
    if not text:
        raise ToolBadResponse(
            f"The tool {server}.{name} answered with {', '.join(others)} content only, which "
            "cannot be given to a voice model.",
            details=details,
        )
    return {"text": text, "omitted_content": others}


async def mcp_tools_list(config: McpServerConfig) -> list[McpToolInfo]:
    """Connect, list the server's tools, disconnect (the API's and the admin's listing)."""
    connection = await McpConnection(config).open()
    try:
        return await connection.list_tools()
    finally:
        await connection.close()
