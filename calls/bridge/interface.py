"""What a CallBridge is given and what it hands back: its settings for the call, the hooks
through which it reaches the rest of the system, and the records it buffers for those hooks
to write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BridgeHooks", "BridgeSettings", "PendingRecords"]


@dataclass(slots=True)
class BridgeSettings:
    silence_timeout_s: float
    max_duration_s: float
    first_message: str = ""
    voicemail_message: str = ""
    end_call_phrases: tuple[str, ...] = ()
    transfer_number: str = ""


@dataclass(slots=True)
class PendingRecords:
    turns: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def take(self) -> PendingRecords:
        taken = PendingRecords(self.turns, self.tools, self.events)
        self.turns, self.tools, self.events = [], [], []
        return taken

    def __bool__(self) -> bool:
        return bool(self.turns or self.tools or self.events)


class BridgeHooks:
    """What the bridge needs from the rest of the system (persistence, carrier REST, live
    watchers). calls.bridge.hooks.ServiceHooks implements it over the calls services; each
    method runs in the call's tenant schema."""

    async def started(self, *, carrier_call_id: str, stream_id: str) -> None: ...

    async def record(self, records: PendingRecords) -> None: ...

    async def finalize(
        self,
        *,
        end_reason: str,
        usage: dict[str, Any],
        error_code: str = "",
        error_message: str = "",
    ) -> None: ...

    async def transfer(self, *, to_number: str) -> None: ...

    async def apologize_and_end(self, *, message: str) -> None: ...

    async def publish(self, message: dict[str, Any]) -> None: ...
