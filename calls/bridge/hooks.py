"""The bridge's hooks over the calls services: persistence (the call's state, its buffered
records) and call control (transfer, the apology). Each runs its service in the call's tenant
schema through voiceagents.tenancy.in_tenant."""

from __future__ import annotations

from typing import Any

import structlog
from channels.layers import get_channel_layer
from django.utils import timezone

from calls import services
from calls.bridge.interface import BridgeHooks, PendingRecords
from calls.control import transcript_group
from voiceagents.tenancy import in_tenant

__all__ = ["ServiceHooks"]

logger = structlog.get_logger(__name__)


class ServiceHooks(BridgeHooks):
    def __init__(self, *, schema_name: str, call_id: int) -> None:
        self.schema_name = schema_name
        self.call_id = call_id
        self.started_at = timezone.now()
        self.group = transcript_group(schema_name=schema_name, call_id=call_id)

    async def started(self, *, carrier_call_id: str, stream_id: str) -> None:
        await in_tenant(
            self.schema_name,
            services.call_mark_in_progress,
            call_id=self.call_id,
            provider_call_id=carrier_call_id,
        )
        try:
            await self.publish({"type": "call.status", "status": "in_progress"})
        except Exception as exc:  # the call goes on; watchers see the status by polling
            logger.warning("call_status_publish_failed", call_id=self.call_id, error=repr(exc))

    async def record(self, records: PendingRecords) -> None:
        await in_tenant(
            self.schema_name,
            services.call_records_write,
            call_id=self.call_id,
            started_at=self.started_at,
            turns=records.turns,
            tools=records.tools,
            events=records.events,
        )

    async def finalize(
        self,
        *,
        end_reason: str,
        usage: dict[str, Any],
        error_code: str = "",
        error_message: str = "",
    ) -> None:
        await in_tenant(
            self.schema_name,
            services.call_finalize,
            call_id=self.call_id,
            end_reason=end_reason,
            usage=usage,
            error_code=error_code,
            error_message=error_message,
        )
        try:
            await self.publish({"type": "call.ended", "end_reason": end_reason})
        except Exception as exc:  # the call is final; watchers only miss the notice
            logger.warning("call_ended_publish_failed", call_id=self.call_id, error=repr(exc))

    async def transfer(self, *, to_number: str) -> None:
        await in_tenant(
            self.schema_name, services.call_transfer, call_id=self.call_id, to_number=to_number
        )

    async def apologize_and_end(self, *, message: str) -> None:
        await in_tenant(
            self.schema_name, services.call_say_and_hangup, call_id=self.call_id, message=message
        )

    async def publish(self, message: dict[str, Any]) -> None:
        layer = get_channel_layer()
        if layer is not None:
            await layer.group_send(self.group, {**message, "call_id": self.call_id})
