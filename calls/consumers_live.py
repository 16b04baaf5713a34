"""The operator's live view of a call: ``/ws/calls/<id>/live/`` on the organization's own
domain (voiceagents.websocket_tenancy picks the organization from the Host header; Channels'
session middleware the operator from their console login).

A member of the organization (any role) gets, as JSON messages:

* ``{"type": "snapshot", "call": {...}, "turns": [...]}`` first: the call and the turns
  written so far;
* ``{"type": "turns", "turns": [...]}``: every turn the call's bridge holds, sent by the bridge
  itself on our request (it writes its turns every couple of seconds, so the latest ones may
  not be in the snapshot yet); the page merges them with what it has;
* ``{"type": "turn", ...}`` for each new turn, ``{"type": "status", "call": {...}}`` for each
  change of the call's status, as they happen;
* and once the call has ended, a last ``status`` (``call.final`` true), then the socket closes.

Anyone else is refused before the handshake completes (HTTP 403): no session, not a member,
another host's page, or a call the organization does not have.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from calls.control import control_group, transcript_group
from calls.live_monitor import (
    live_call_snapshot,
    live_call_state_get,
    live_monitor_role,
    live_turn,
)
from voiceagents.tenancy import in_tenant

logger = structlog.get_logger(__name__)

CLOSE_NOT_ALLOWED = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_CALL_ENDED = 1000
# The call's status is also read from the database this often: a call ringing, ended by the
# carrier before it was answered, or whose bridge is on a process that died has no bridge to
# tell us.
STATUS_POLL_S = 3.0


class LiveCallConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    _poll: asyncio.Task[None] | None = None
    _status: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The poll and the bridge's notices may both see the change: one sends it.
        self._status_lock = asyncio.Lock()

    async def connect(self) -> None:
        organization = self.scope.get("tenant")
        call_id = int(self.scope["url_route"]["kwargs"]["call_id"])
        self.log = logger.bind(call_id=call_id)
        role = await in_tenant(
            "public", live_monitor_role, user=self.scope.get("user"), organization=organization
        )
        if role is None or organization is None:
            self.log.info("live_monitor_refused", reason="not a member")
            await self.close(CLOSE_NOT_ALLOWED)
            return
        self.schema_name = organization.schema_name
        self.call_id = call_id
        # Listen first, then read: a turn published in between is sent twice at worst (the
        # page merges), never missed.
        self.group = transcript_group(schema_name=self.schema_name, call_id=call_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        snapshot = await in_tenant(self.schema_name, live_call_snapshot, call_id=call_id)
        if snapshot is None:
            self.log.info("live_monitor_refused", reason="no such call")
            await self._leave()
            await self.close(CLOSE_NOT_FOUND)
            return
        await self.accept()
        await self.send_json({"type": "snapshot", **snapshot})
        call = snapshot["call"]
        self._status = call["status"]
        if call["final"]:
            await self.close(CLOSE_CALL_ENDED)
            return
        # The bridge answers with every turn it holds (nothing if no bridge is live).
        await self.channel_layer.group_send(
            control_group(schema_name=self.schema_name, call_id=call_id),
            {"type": "call.control", "action": "replay", "reply_to": self.channel_name},
        )
        self._poll = asyncio.create_task(self._poll_status())

    async def disconnect(self, code: int) -> None:
        if self._poll is not None:
            self._poll.cancel()
        await self._leave()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The page only listens; actions are posted to the call's page, through the
        services and their role checks."""

    # --- from the call's bridge (calls.bridge.hooks.ServiceHooks.publish) ---------------------

    async def call_transcript(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "turn", **_turn(message)})

    async def call_turns(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "turns", "turns": [_turn(t) for t in message["turns"]]})

    async def call_status(self, message: dict[str, Any]) -> None:
        await self._status_changed()

    async def call_ended(self, message: dict[str, Any]) -> None:
        await self._status_changed()

    # -------------------------------------------------------------------------------------------

    async def _poll_status(self) -> None:
        while True:
            await asyncio.sleep(STATUS_POLL_S)
            try:
                await self._status_changed()
            except Exception as exc:  # the next poll tries again
                self.log.warning("live_monitor_poll_failed", error=repr(exc))

    async def _status_changed(self) -> None:
        """Send the call's status if it changed; once final, close."""
        async with self._status_lock:
            await self._send_status_if_changed()

    async def _send_status_if_changed(self) -> None:
        call = await in_tenant(self.schema_name, live_call_state_get, call_id=self.call_id)
        if call is None:
            await self.close(CLOSE_NOT_FOUND)
            return
        if call["status"] == self._status:
            return
        self._status = call["status"]
        if call["final"]:
            # The turns as written, the bridge's last flush included.
            snapshot = await in_tenant(self.schema_name, live_call_snapshot, call_id=self.call_id)
            if snapshot is not None:
                await self.send_json({"type": "turns", "turns": snapshot["turns"]})
        await self.send_json({"type": "status", "call": call})
        if call["final"]:
            if self._poll is not None and self._poll is not asyncio.current_task():
                self._poll.cancel()
            await self.close(CLOSE_CALL_ENDED)

    async def _leave(self) -> None:
        if self.group is not None:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None


def _turn(message: dict[str, Any]) -> dict[str, Any]:
    return live_turn(
        speaker=message["speaker"],
        text=message["text"],
        start_ms=message["start_ms"],
        end_ms=message.get("end_ms"),
    )
