"""The bridge's persistence and call-control hooks, over the calls services. The sync
functions here run in the call's tenant schema through voiceagents.tenancy.in_tenant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from agents.config import ResolvedAgentConfig
from agents.realtime.base import SessionConfig
from agents.selectors import agent_config_resolve
from agents.tools import Tool
from calls import services
from calls.bridge.core import BridgeHooks, PendingRecords
from calls.models import Call, CallEvent, ToolInvocation, TranscriptTurn
from voiceagents.tenancy import in_tenant


@dataclass(frozen=True, slots=True)
class BridgeContext:
    call_id: int
    provider: str
    direction: str
    is_final: bool
    config: ResolvedAgentConfig
    system_prompt: str
    first_message: str
    voicemail_message: str
    missing_variables: tuple[str, ...]


def bridge_context_load(*, call_id: int) -> BridgeContext | None:
    call = (
        Call.objects.filter(pk=call_id)
        .only("id", "provider", "direction", "status", "agent_id", "variables")
        .first()
    )
    if call is None or call.agent_id is None:
        return None
    config = agent_config_resolve(agent_id=call.agent_id)
    rendered = config.render(variables=call.variables)
    if rendered.missing:
        CallEvent.objects.create(
            call_id=call.pk,
            kind=CallEvent.Kind.INFO,
            name="prompt_variables_missing",
            payload={"missing": list(rendered.missing)},
        )
    return BridgeContext(
        call_id=call.pk,
        provider=call.provider,
        direction=call.direction,
        is_final=call.is_final,
        config=config,
        system_prompt=rendered.system_prompt,
        first_message=rendered.first_message,
        voicemail_message=rendered.voicemail_message,
        missing_variables=rendered.missing,
    )


def session_config_for(context: BridgeContext, tools: dict[str, Tool]) -> SessionConfig:
    config = context.config
    provider = config.ai_provider
    api_key, base_url = {
        "openai": (settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL),
        "gemini": (settings.GEMINI_API_KEY, settings.GEMINI_BASE_URL),
        "hume": (settings.HUME_API_KEY, settings.HUME_BASE_URL),
    }[provider]
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


def _record(*, call_id: int, records: PendingRecords, started_at) -> None:
    def at(ms: int):
        return started_at + dt.timedelta(milliseconds=ms)

    TranscriptTurn.objects.bulk_create(
        TranscriptTurn(
            call_id=call_id,
            speaker=t["speaker"],
            text=t["text"],
            start_ms=t["start_ms"],
            end_ms=t["end_ms"],
        )
        for t in records.turns
    )
    ToolInvocation.objects.bulk_create(
        ToolInvocation(
            call_id=call_id,
            name=t["name"],
            arguments=t["arguments"] or {},
            result=t["result"],
            error=t["error"],
            duration_ms=t["duration_ms"],
        )
        for t in records.tools
    )
    CallEvent.objects.bulk_create(
        CallEvent(
            call_id=call_id,
            kind=CallEvent.Kind.INFO,
            name=e["name"],
            payload=e["payload"],
            created_at=at(e["at_ms"]),
        )
        for e in records.events
    )


class ServiceHooks(BridgeHooks):
    def __init__(self, *, schema_name: str, call_id: int) -> None:
        self.schema_name = schema_name
        self.call_id = call_id
        self.started_at = timezone.now()
        self.group = f"call-{call_id}"

    async def started(self, *, carrier_call_id: str, stream_id: str) -> None:
        await in_tenant(
            self.schema_name,
            services.call_mark_in_progress,
            call_id=self.call_id,
            provider_call_id=carrier_call_id,
        )

    async def record(self, records: PendingRecords) -> None:
        await in_tenant(
            self.schema_name,
            _record,
            call_id=self.call_id,
            records=records,
            started_at=self.started_at,
        )

    async def finalize(self, *, end_reason: str, usage: dict[str, Any]) -> None:
        await in_tenant(
            self.schema_name,
            services.call_finalize,
            call_id=self.call_id,
            end_reason=end_reason,
            usage=usage,
        )
        await self.publish({"type": "call.ended", "end_reason": end_reason})

    async def transfer(self, *, to_number: str) -> None:
        await in_tenant(
            self.schema_name, services.transfer_call, call_id=self.call_id, to_number=to_number
        )

    async def apologize_and_end(self, *, message: str) -> None:
        await in_tenant(
            self.schema_name, services.call_say_and_hangup, call_id=self.call_id, message=message
        )

    async def publish(self, message: dict[str, Any]) -> None:
        layer = get_channel_layer()
        if layer is not None:
            await layer.group_send(self.group, {**message, "call_id": self.call_id})
