"""Building one call's bridge when its media stream connects: the call's context (its agent's
resolved configuration and rendered prompts), the agent's tools, the provider session with
the organization's credentials (or the platform's), the service hooks and the bridge's
settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from asgiref.sync import sync_to_async

from agents.realtime.base import SessionConfig
from agents.realtime.registry import provider_credentials, session_for
from agents.tools import Tool, ToolContext, tools_for
from calls.bridge.core import CallBridge
from calls.bridge.integration_tools import TOOL_SESSIONS_KEY, ToolSessionHooks
from calls.bridge.interface import BridgeSettings
from calls.selectors import BridgeContext, bridge_context_get
from calls.services import call_prompt_variables_missing_record
from calls.stream_tokens import StreamGrant
from calls.telephony.media import MediaProtocol
from integrations.exceptions import CredentialMissing, CredentialUnreadable
from integrations.tool_execution import ToolSessions
from knowledge.tools import warm_up as knowledge_warm_up
from voiceagents.tenancy import current_schema_name, in_tenant

__all__ = ["bridge_build"]

logger = structlog.get_logger(__name__)

# Warm-up tasks run on their own; the event loop keeps only weak references to tasks.
_background: set[asyncio.Task[Any]] = set()


async def bridge_build(
    grant: StreamGrant,
    protocol: MediaProtocol,
    send: Callable[[str], Awaitable[None]],
    close: Callable[[], Awaitable[None]],
) -> CallBridge | None:
    """The bridge for the call ``grant`` names, or None when the call is missing, has no agent,
    has already ended or its provider has no usable key here (the stream is then refused)."""
    context = await in_tenant(grant.schema_name, _context_load, call_id=grant.call_id)
    if context is None or context.is_final:
        return None
    config = context.config
    # In the call's schema: the organization's integration and custom tools are read there.
    tools = await in_tenant(grant.schema_name, _tools_load, names=config.tools)
    # One MCP connection per server for the whole call, closed when the call is finalized.
    tool_sessions = ToolSessions()
    try:
        # The organization's own key or the platform's: a database read, in the call's schema.
        api_key, base_url = await in_tenant(
            grant.schema_name, provider_credentials, config.ai_provider
        )
    except (CredentialMissing, CredentialUnreadable) as exc:
        logger.warning(
            "media_stream_refused_no_provider_key",
            call_id=grant.call_id,
            provider=config.ai_provider,
            reason=exc.code,
        )
        return None
    session = session_for(
        config.ai_provider, _session_config(context, tools, api_key=api_key, base_url=base_url)
    )
    bridge = CallBridge(
        protocol=protocol,
        send=send,
        close=close,
        session=session,
        hooks=ToolSessionHooks(
            schema_name=grant.schema_name, call_id=grant.call_id, sessions=tool_sessions
        ),
        settings=BridgeSettings(
            silence_timeout_s=float(config.silence_timeout_seconds),
            max_duration_s=float(config.max_call_duration_seconds),
            first_message=context.first_message,
            voicemail_message=context.voicemail_message,
            end_call_phrases=config.end_call_phrases,
            transfer_number=config.transfer_number,
        ),
        tools=tools,
        tool_context=lambda bridge: ToolContext(
            schema_name=grant.schema_name,
            call_id=grant.call_id,
            agent_id=config.agent_id,
            knowledge_base_ids=config.knowledge_base_ids,
            transfer_number=config.transfer_number,
            control=bridge,
            extra={TOOL_SESSIONS_KEY: tool_sessions},
        ),
        call_id=grant.call_id,
    )
    if "knowledge_search" in config.tools:
        # Loading the local embedding model takes seconds: start now, off the event loop,
        # so the caller's first question does not wait for it (no-op once loaded).
        task = asyncio.create_task(sync_to_async(knowledge_warm_up, thread_sensitive=False)())
        _background.add(task)
        task.add_done_callback(_background.discard)
    return bridge


def _context_load(*, call_id: int) -> BridgeContext | None:
    """The call's context, and its missing prompt variables put on its timeline (sync: runs
    in the call's schema)."""
    context = bridge_context_get(call_id=call_id)
    if context is not None and context.missing_variables:
        call_prompt_variables_missing_record(
            call_id=context.call_id, missing=context.missing_variables
        )
    return context


def _tools_load(*, names: tuple[str, ...]) -> dict[str, Tool]:
    return tools_for(schema_name=current_schema_name(), names=names)


def _session_config(
    context: BridgeContext, tools: dict[str, Tool], *, api_key: str, base_url: str
) -> SessionConfig:
    config = context.config
    return SessionConfig(
        model=config.model,
        instructions=context.system_prompt,
        voice=config.voice,
        language=config.language,
        temperature=config.temperature,
        tools=[tool.spec for tool in tools.values()],
        api_key=api_key,
        base_url=base_url,
        extra=dict(config.provider_settings),
    )
