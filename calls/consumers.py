"""Channels consumers for the carriers' media WebSockets (/ws/twilio/media/<token>,
/ws/plivo/media/<token>). Thin: they authenticate (the grant put in the scope by
calls.bridge.middleware), have the call's bridge built (calls.bridge.build), and hand every
frame to it.

Plain AsyncConsumer rather than AsyncWebsocketConsumer: the audio path is one dispatch and one
orjson parse per frame, with nothing in between.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer

from calls.bridge.build import bridge_build
from calls.bridge.core import CallBridge
from calls.control import control_group
from calls.telephony.media import MediaProtocol, loads
from calls.telephony.registry import carrier_spec

logger = structlog.get_logger(__name__)

# Malformed frames are logged, but at most this many per call: a broken peer must not flood
# the logs or the CPU.
MAX_LOGGED_BAD_FRAMES = 5
CLOSE_POLICY_VIOLATION = 4403


class MediaStreamConsumer(AsyncConsumer):
    """One carrier media WebSocket; ``carrier`` (from calls/routing.py) picks its protocol."""

    bridge: CallBridge | None = None
    bad_frames = 0

    def __init__(self, *, carrier: str) -> None:
        self.protocol_class: type[MediaProtocol] = carrier_spec(carrier).media_protocol_class

    async def websocket_connect(self, message) -> None:
        grant = self.scope.get("stream_grant")
        if grant is None:
            logger.warning(
                "media_stream_refused",
                reason=self.scope.get("stream_refusal", "no stream token"),
                path=self.scope.get("path"),
            )
            await self.send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
            return
        self.log = logger.bind(call_id=grant.call_id, organization=grant.schema_name)
        self.protocol = self.protocol_class()
        bridge = await bridge_build(grant, self.protocol, send=self._send_text, close=self._close)
        if bridge is None:
            self.log.warning("media_stream_refused", reason="call missing or already ended")
            await self.send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
            return
        self.bridge = bridge
        self.schema_name = grant.schema_name
        self.call_id = grant.call_id
        if self.channel_layer is not None:
            await self.channel_layer.group_add(control_group(self.call_id), self.channel_name)
        await self.send({"type": "websocket.accept"})

    async def __call__(self, scope, receive, send) -> None:
        """AsyncConsumer.__call__ without its per-message costs, which the audio path cannot
        afford at 50+ frames a second per call:

        * its ``dispatch`` first awaits ``aclose_old_connections()``, a hop to the one shared
          sync thread, for every message: that serialized every call of the process behind
          that thread (seconds of backlog at 50 calls). No handler here uses the ORM on the
          event loop; the database work goes through ``in_tenant`` (database_sync_to_async),
          which closes old connections itself;
        * ``await_many_dispatch`` runs ``asyncio.wait`` and a new task per message.

        Here the socket's messages are read in a plain loop and the channel layer's (rare
        control messages) in a second task. A lock keeps the old guarantee that one
        message is handled at a time.
        """
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        self._dispatching = lock = asyncio.Lock()
        control = None
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            control = asyncio.create_task(self._channel_layer_messages())
        handlers = {
            "websocket.receive": self.websocket_receive,
            "websocket.connect": self.websocket_connect,
            "websocket.disconnect": self.websocket_disconnect,
        }
        try:
            while True:
                message = await receive()
                handler = handlers.get(message["type"])
                if handler is None:
                    raise ValueError(f"No handler for message type {message['type']}")
                async with lock:
                    await handler(message)
        except StopConsumer:
            pass
        finally:
            if control is not None:
                control.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await control

    async def _channel_layer_messages(self) -> None:
        receive = self.channel_layer.receive
        try:
            while True:
                message = await receive(self.channel_name)
                handler = getattr(self, get_handler_name(message), None)
                if handler is None:
                    raise ValueError(f"No handler for message type {message['type']}")
                async with self._dispatching:
                    await handler(message)
        except Exception as exc:
            # The call goes on without control messages (webhook verdicts, operator hang-ups)
            # rather than being dropped because Redis had a hiccup.
            logger.warning("media_control_channel_failed", error=repr(exc))

    async def _send_text(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    async def _close(self) -> None:
        await self.send({"type": "websocket.close", "code": 1000})

    async def websocket_receive(self, message) -> None:
        bridge = self.bridge
        if bridge is None:
            return
        text = message.get("text")
        try:
            frame = loads(text if text is not None else message["bytes"])
            event = frame["event"]
            protocol = self.protocol
            if event == protocol.MEDIA:
                bridge.caller_audio(protocol.media_payload(frame))
            elif event == protocol.MARK:
                bridge.mark_played(protocol.mark_name(frame))
            elif event == protocol.START:
                start = protocol.parse_start(frame)
                await bridge.start(carrier_call_id=start.carrier_call_id, stream_id=start.stream_id)
            elif event == protocol.DTMF:
                await bridge.dtmf(protocol.dtmf_digit(frame))
            elif event == protocol.STOP:
                await bridge.carrier_closed()
            elif event not in protocol.IGNORED:
                self._bad_frame(f"unknown event {event!r}")
        except (ValueError, KeyError, TypeError) as exc:
            self._bad_frame(f"{type(exc).__name__}: {exc}")

    def _bad_frame(self, reason: str) -> None:
        self.bad_frames += 1
        if self.bad_frames <= MAX_LOGGED_BAD_FRAMES:
            self.log.warning("media_frame_skipped", reason=reason[:200], count=self.bad_frames)
        if self.bridge is not None and self.bad_frames == 1:
            self.bridge.event("malformed_frame", reason=reason[:200])

    async def call_control(self, message) -> None:
        """Control messages from webhooks and services (group ``call-control-<id>``)."""
        if self.bridge is None:
            return
        action = message.get("action")
        if action == "machine_detected":
            await self.bridge.machine_detected()
        elif action == "hangup":
            await self.bridge.finish(message.get("end_reason") or "agent_hangup")

    async def call_transcript(self, message) -> None:
        """Our own turns published to ``call-<id>`` (operators watch that group); ignore."""

    async def websocket_disconnect(self, message) -> None:
        if self.bridge is not None:
            await self.bridge.carrier_closed()
            if self.channel_layer is not None:
                await self.channel_layer.group_discard(
                    control_group(self.call_id), self.channel_name
                )
        raise StopConsumer()
