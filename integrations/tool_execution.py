"""Running a tool (an integration's MCP tool or a custom HTTP tool) and keeping a row of every
run (``ToolExecution``), from a call, the API or the admin alike.

- :class:`ToolSessions` is what one phone call (or one API request) holds open for its tools:
  one MCP connection per server, opened on the first call of one of its tools and reused by
  every later one, and one HTTP client for custom tools. ``close()`` ends them, once the call
  is over.
- :func:`tool_target_run` checks the arguments against the tool's input schema and runs it;
  every failure is one of ``integrations.exceptions``' ToolError subclasses.
- :func:`tool_execute` is the service description's ``execute_tool("telegram",
  "send_message", {...})``: the integration by id, slug or kind, the tool run now, the row
  written. :func:`tool_execute_in_call` is the bridge's: the row is written in the background
  so the model's answer does not wait for the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Mapping
from typing import Any

import httpx2
import orjson
import structlog
from asgiref.sync import async_to_sync

from integrations.custom_http import custom_tool_post
from integrations.exceptions import ToolError
from integrations.mcp import McpConnection, McpServerConfig
from integrations.models import CustomTool, ExecutionSource, Integration, ToolExecution
from integrations.tool_rules import arguments_check, arguments_redact
from integrations.tool_selectors import (
    CustomToolTarget,
    McpToolTarget,
    ToolTarget,
    custom_tool_target,
    integration_find,
    integration_tool_target,
)
from integrations.tool_services import integration_tools_refresh
from organizations.models import User
from voiceagents.netguard import guarded_http_client
from voiceagents.tenancy import in_tenant

__all__ = [
    "ToolSessions",
    "custom_tool_execute",
    "tool_execute",
    "tool_execute_in_call",
    "tool_execution_record",
    "tool_target_run",
]

logger = structlog.get_logger(__name__)

# What an execution keeps of a result at most (the model gets all of it).
RESULT_KEPT_BYTES = 64 * 1024


class ToolSessions:
    """See the module's docstring. Not shared between event loops."""

    def __init__(self) -> None:
        self._mcp: dict[tuple[Any, ...], McpConnection] = {}
        self._opening: dict[tuple[Any, ...], asyncio.Lock] = {}
        self._http: httpx2.AsyncClient | None = None
        self._pending: set[asyncio.Task[Any]] = set()
        self._closed = False

    @staticmethod
    def _key(config: McpServerConfig) -> tuple[Any, ...]:
        return (config.label, config.url, config.transport, tuple(sorted(config.headers.items())))

    async def mcp(self, config: McpServerConfig) -> McpConnection:
        """The open connection to ``config``'s server, opened now if there is none (or the
        last one was lost). Two tools of one server called at once share one opening."""
        key = self._key(config)
        connection = self._mcp.get(key)
        if connection is not None and connection.alive:
            return connection
        lock = self._opening.setdefault(key, asyncio.Lock())
        async with lock:
            connection = self._mcp.get(key)
            if connection is not None and connection.alive:
                return connection
            if connection is not None:
                await connection.close()
            connection = await McpConnection(config).open()
            self._mcp[key] = connection
            return connection

    def http(self, target: CustomToolTarget) -> httpx2.AsyncClient:
        if self._http is None:
            self._http = guarded_http_client(policy=target.policy)
        return self._http

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` (an execution row being written) in the background; close() waits."""
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    @property
    def open_connections(self) -> int:
        return sum(1 for connection in self._mcp.values() if connection.alive)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        connections, self._mcp = list(self._mcp.values()), {}
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None


async def tool_target_run(
    target: ToolTarget,
    arguments: Any,
    *,
    sessions: ToolSessions,
    call_id: int | None = None,
) -> tuple[Any, float]:
    """Check ``arguments`` and run the tool; its result and the round trip (ms) to it."""
    checked = arguments_check(
        schema=target.input_schema, arguments=arguments, tool=f"{target.server}.{target.tool}"
    )
    if isinstance(target, McpToolTarget):
        connection = await sessions.mcp(target.config)
        result = await connection.call_tool(target.tool, checked)
        return result.value, result.duration_ms
    return await custom_tool_post(
        client=sessions.http(target),
        url=target.url,
        tool=target.tool,
        arguments=checked,
        signing_secret=target.signing_secret,
        timeout=target.timeout_seconds,
        call_id=call_id,
    )


def _kept(value: Any, secrets: tuple[str, ...]) -> Any:
    value = arguments_redact(value, secrets=secrets, by_name=False)
    encoded = orjson.dumps(value, default=str)
    if len(encoded) <= RESULT_KEPT_BYTES:
        return orjson.loads(encoded)
    return {"truncated": True, "preview": encoded[:2000].decode(errors="ignore")}


def tool_execution_record(
    *,
    source: str,
    server: str,
    tool: str,
    arguments: Any,
    secrets: tuple[str, ...] = (),
    result: Any = None,
    error: ToolError | None = None,
    duration_ms: float = 0.0,
    integration_id: int | None = None,
    custom_tool_id: int | None = None,
    call_id: int | None = None,
    actor: User | None = None,
) -> ToolExecution:
    """Keep one run: the arguments with secrets redacted, the result or the error."""
    execution = ToolExecution.objects.create(
        source=source,
        integration_id=integration_id,
        custom_tool_id=custom_tool_id,
        server=server[:64],
        tool=tool[:128],
        arguments=_kept(arguments_redact(arguments, secrets=secrets), secrets)
        if isinstance(arguments, Mapping)
        else {},
        result=None if error is not None else _kept(result, secrets),
        ok=error is None,
        error_code=str(error.code)[:40] if error is not None else "",
        error_message=error.message[:500] if error is not None else "",
        duration_ms=max(0, round(duration_ms)),
        call_id=call_id,
        actor=actor,
    )
    logger.info(
        "tool_executed",
        source=source,
        server=server,
        tool=tool,
        ok=error is None,
        error_code=execution.error_code,
        duration_ms=execution.duration_ms,
        call_id=call_id,
    )
    return execution


def _target_ids(target: ToolTarget) -> dict[str, Any]:
    if isinstance(target, McpToolTarget):
        return {"integration_id": target.integration_id}
    return {"custom_tool_id": target.custom_tool_id}


def _run_now(target: ToolTarget, arguments: Any) -> tuple[Any, ToolError | None, float]:
    """Run once with sessions of its own (opened and closed here): result, error, wall ms."""

    async def run() -> Any:
        sessions = ToolSessions()
        try:
            value, _ms = await tool_target_run(target, arguments, sessions=sessions)
            return value
        finally:
            await sessions.close()

    started = time.perf_counter()
    try:
        value = async_to_sync(run)()
    except ToolError as exc:
        return None, exc, (time.perf_counter() - started) * 1000
    return value, None, (time.perf_counter() - started) * 1000


def _finish(execution: ToolExecution, error: ToolError | None) -> ToolExecution:
    if error is not None:
        error.details = {**error.details, "execution_id": execution.pk}
        raise error
    return execution


def tool_execute(
    server: Any,
    tool: str,
    arguments: Any,
    *,
    source: str = ExecutionSource.API,
    actor: User | None = None,
) -> ToolExecution:
    """Run ``tool`` of the integration named by ``server`` (id, slug or kind) now, from the
    API or the admin, and keep the row. A tool the cached listing does not have is looked
    for once more on the server (it may be new). A failure is raised (its details carry the
    row's ``execution_id``); the row is written either way."""
    integration: Integration = integration_find(server)
    try:
        try:
            target = integration_tool_target(integration, tool)
        except ToolError:
            integration = integration_tools_refresh(integration=integration, actor=actor)
            target = integration_tool_target(integration, tool)
    except ToolError as exc:
        execution = tool_execution_record(
            source=source,
            server=integration.slug,
            tool=tool,
            arguments=arguments,
            error=exc,
            integration_id=integration.pk,
            actor=actor,
        )
        return _finish(execution, exc)
    value, error, duration_ms = _run_now(target, arguments)
    execution = tool_execution_record(
        source=source,
        server=target.server,
        tool=target.tool,
        arguments=arguments,
        secrets=target.secrets,
        result=value,
        error=error,
        duration_ms=duration_ms,
        actor=actor,
        **_target_ids(target),
    )
    return _finish(execution, error)


def custom_tool_execute(
    *,
    custom_tool: CustomTool,
    arguments: Any,
    source: str = ExecutionSource.API,
    actor: User | None = None,
) -> ToolExecution:
    """Run a custom tool now (a test from the API or the admin) and keep the row."""
    target = custom_tool_target(custom_tool)
    value, error, duration_ms = _run_now(target, arguments)
    execution = tool_execution_record(
        source=source,
        server=target.server,
        tool=target.tool,
        arguments=arguments,
        secrets=target.secrets,
        result=value,
        error=error,
        duration_ms=duration_ms,
        actor=actor,
        **_target_ids(target),
    )
    return _finish(execution, error)


async def tool_execute_in_call(
    target: ToolTarget,
    arguments: Any,
    *,
    sessions: ToolSessions,
    schema_name: str,
    call_id: int,
) -> Any:
    """Run a tool the model called during a call, on the call's sessions; the row is written
    in the background (in the call's schema). Raises ToolError for the model to hear."""
    started = time.perf_counter()
    value: Any = None
    error: ToolError | None = None
    try:
        value, _ms = await tool_target_run(target, arguments, sessions=sessions, call_id=call_id)
    except ToolError as exc:
        error = exc
    sessions.spawn(
        in_tenant(
            schema_name,
            tool_execution_record,
            source=ExecutionSource.CALL,
            server=target.server,
            tool=target.tool,
            arguments=arguments,
            secrets=target.secrets,
            result=value,
            error=error,
            duration_ms=(time.perf_counter() - started) * 1000,
            call_id=call_id,
            **_target_ids(target),
        )
    )
    if error is not None:
        raise error
    return value
