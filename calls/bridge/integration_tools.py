"""The tools the calls app adds to ``agents.tools`` (agents must not import calls, so they are
registered from here when the app loads, ``CallsConfig.ready``):

- ``send_sms``: text the caller during the call (``calls.services.message_send``, from the
  call's number to the other party);
- ``integration:<server>.<tool>`` and ``custom:<name>``: the organization's MCP tools and
  custom HTTP tools, run through ``integrations.tool_execution`` on the call's
  :class:`~integrations.tool_execution.ToolSessions`, so each MCP server is connected to once
  per call. The sessions travel in ``ToolContext.extra`` and are closed when the call is
  finalized (:class:`ToolSessionHooks`).

A tool's failure reaches the model as ``agents.tools.ToolError`` with the integration's own
message (never a header or a token), and the call goes on.
"""

from __future__ import annotations

from typing import Any

import structlog

from agents.realtime.base import ToolSpec
from agents.tools import Tool, ToolContext, ToolError, register_tool_resolver
from calls.bridge.hooks import ServiceHooks
from calls.services import SMS_MAX_LENGTH, message_send
from integrations import exceptions as integration_errors
from integrations.tool_execution import ToolSessions, tool_execute_in_call
from integrations.tool_selectors import ToolTarget, tool_targets_for
from voiceagents.exceptions import ApplicationError
from voiceagents.tenancy import in_tenant

__all__ = [
    "SEND_SMS",
    "TOOL_SESSIONS_KEY",
    "ToolSessionHooks",
    "integration_tools_register",
]

logger = structlog.get_logger(__name__)

TOOL_SESSIONS_KEY = "tool_sessions"


# --- send_sms ------------------------------------------------------------------------------------


async def _send_sms(ctx: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    body = str(arguments.get("text") or "").strip()
    if not body:
        raise ToolError("Give the 'text' of the message.")
    try:
        message = await in_tenant(ctx.schema_name, message_send, body=body, call_id=ctx.call_id)
    except ApplicationError as exc:
        raise ToolError(f"The SMS was not sent: {exc.message}") from None
    return {"ok": True, "to": message.to_number, "note": "The text message was sent."}


SEND_SMS = Tool(
    ToolSpec(
        name="send_sms",
        description="Send a text message (SMS) to the caller's phone, e.g. a confirmation, an "
        "address or a link they asked for. Tell the caller you are sending it.",
        parameters={
            "type": "object",
            "properties": {
                "text": {
                    "type": "string",
                    "description": f"The message, at most {SMS_MAX_LENGTH} characters.",
                }
            },
            "required": ["text"],
        },
    ),
    _send_sms,
    timeout_seconds=15.0,
)


# --- integrations' and custom tools --------------------------------------------------------------


def _executor(target: ToolTarget) -> Any:
    async def execute(ctx: ToolContext, arguments: dict[str, Any]) -> Any:
        sessions = ctx.extra.get(TOOL_SESSIONS_KEY)
        if not isinstance(sessions, ToolSessions):
            raise ToolError("This tool cannot run outside a call.")
        try:
            return await tool_execute_in_call(
                target,
                arguments,
                sessions=sessions,
                schema_name=ctx.schema_name,
                call_id=ctx.call_id,
            )
        except integration_errors.ToolError as exc:
            raise ToolError(exc.message) from None

    return execute


def _organization_tool(schema_name: str, name: str) -> Tool | None:
    """The Tool for an agent's ``integration:``/``custom:`` name, or None (logged) when it
    no longer resolves (its integration was removed or disabled since the agent was saved)."""
    try:
        targets = tool_targets_for([name])
    except ApplicationError as exc:  # e.g. credentials no configured key decrypts
        logger.warning("agent_tool_unusable", tool=name, schema=schema_name, reason=exc.code)
        return None
    target = targets.get(name)
    if target is None:
        logger.warning("agent_tool_unresolved", tool=name, schema=schema_name)
        return None
    return Tool(
        ToolSpec(
            name=target.model_name,
            description=target.description or f"{target.tool} ({target.server})",
            parameters=target.input_schema,
        ),
        _executor(target),
        # Room for connecting to the server on the tool's first call, then the call itself;
        # each is bounded by the tool's own timeout inside.
        timeout_seconds=2 * target.timeout_seconds + 1.0,
    )


def integration_tools_register() -> None:
    register_tool_resolver("send_sms", lambda schema_name, name: SEND_SMS)
    register_tool_resolver("integration", _organization_tool)
    register_tool_resolver("custom", _organization_tool)


# --- the call's sessions -------------------------------------------------------------------------


class ToolSessionHooks(ServiceHooks):
    """The service hooks, and the call's tool sessions closed once the call is finalized
    (its tool tasks have been stopped by then)."""

    def __init__(self, *, schema_name: str, call_id: int, sessions: ToolSessions) -> None:
        super().__init__(schema_name=schema_name, call_id=call_id)
        self.sessions = sessions

    async def finalize(
        self,
        *,
        end_reason: str,
        usage: dict[str, Any],
        error_code: str = "",
        error_message: str = "",
    ) -> None:
        try:
            await super().finalize(
                end_reason=end_reason,
                usage=usage,
                error_code=error_code,
                error_message=error_message,
            )
        finally:
            await self.sessions.close()
