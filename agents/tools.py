"""Tools an agent's model may call during a call: their specs (what the model sees) and their
executors (what runs). The built-ins are ``end_call``, ``transfer_call`` and
``knowledge_search``; the calls app registers the rest with :func:`register_tool_resolver`
(``send_sms``, which needs the calls services, and the organization's ``integration:<server>.
<tool>`` and ``custom:<name>`` tools, which run through ``integrations.tool_execution``).

Executors receive a :class:`ToolContext` (the call's schema, ids, and the bridge's call-control
hooks) and the model's arguments, and return a JSON-serialisable result. Any exception, or
running past the timeout, becomes an error result for the model; the call goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.realtime.base import ToolSpec
from knowledge.tools import knowledge_search_for_agent
from voiceagents.tenancy import in_tenant


class CallControl(Protocol):
    """What the bridge lets tools do to the live call."""

    def request_hangup(self, *, reason: str) -> None: ...

    async def transfer(self, *, to_number: str) -> None: ...


@dataclass(slots=True)
class ToolContext:
    schema_name: str
    call_id: int
    agent_id: int
    knowledge_base_ids: tuple[int, ...]
    transfer_number: str
    control: CallControl
    extra: dict[str, Any] = field(default_factory=dict)


Executor = Callable[[ToolContext, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Tool:
    spec: ToolSpec
    execute: Executor
    timeout_seconds: float = 10.0


class ToolError(Exception):
    """A tool could not do what was asked; the message is shown to the model."""


# --- built-ins ----------------------------------------------------------------------------------


async def _end_call(ctx: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    # The bridge hangs up once the goodbye the model is saying has finished playing.
    ctx.control.request_hangup(reason="agent_hangup")
    return {"ok": True, "note": "The call will end after your goodbye has played."}


async def _transfer_call(ctx: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    if not ctx.transfer_number:
        raise ToolError("No transfer number is configured for this agent.")
    await ctx.control.transfer(to_number=ctx.transfer_number)
    return {"ok": True, "note": "The caller is being transferred to a person."}


async def _knowledge_search(ctx: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    query = str(arguments.get("query") or "").strip()
    if not query:
        raise ToolError("Give a non-empty 'query'.")
    top_k = max(1, min(int(arguments.get("top_k") or 5), 10))
    results = await in_tenant(
        ctx.schema_name,
        knowledge_search_for_agent,
        agent_id=ctx.agent_id,
        query=query,
        top_k=top_k,
    )
    return {"results": results}


BUILTIN_TOOLS: dict[str, Tool] = {
    "end_call": Tool(
        ToolSpec(
            name="end_call",
            description="End the phone call. Say goodbye first; the call ends after your "
            "goodbye has been heard.",
            parameters={
                "type": "object",
                "properties": {
                    "reason": {"type": "string", "description": "Why the call is ending."}
                },
            },
        ),
        _end_call,
    ),
    "transfer_call": Tool(
        ToolSpec(
            name="transfer_call",
            description="Transfer the caller to a human colleague. Tell the caller first.",
            parameters={"type": "object", "properties": {}},
        ),
        _transfer_call,
    ),
    "knowledge_search": Tool(
        ToolSpec(
            name="knowledge_search",
            description="Search the company's knowledge base for facts to answer the caller.",
            parameters={
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to look up."},
                    "top_k": {"type": "integer", "description": "How many passages (1-10)."},
                },
                "required": ["query"],
            },
        ),
        _knowledge_search,
        timeout_seconds=5.0,
    ),
}

# prefix -> resolver(schema_name, tool_name) -> Tool | None
_RESOLVERS: dict[str, Callable[[str, str], Tool | None]] = {}


def register_tool_resolver(prefix: str, resolver: Callable[[str, str], Tool | None]) -> None:
    """Register how to build the tools whose names start with ``prefix`` and a ``:``
    (``integration``, ``custom``), or the tool named ``prefix`` (``send_sms``). Resolvers
    run with the call's schema active (they may read the database)."""
    _RESOLVERS[prefix] = resolver


def tools_for(*, schema_name: str, names: tuple[str, ...] | list[str]) -> dict[str, Tool]:
    """The agent's enabled tools that can run here, by the name the model calls them with.
    Call it with ``schema_name`` active (resolvers read the organization's tools)."""
    tools: dict[str, Tool] = {}
    for name in names:
        tool = BUILTIN_TOOLS.get(name)
        if tool is None:
            prefix = name.split(":", 1)[0]
            resolver = _RESOLVERS.get(prefix)
            tool = resolver(schema_name, name) if resolver else None
        if tool is not None:
            tools[tool.spec.name] = tool
    return tools
