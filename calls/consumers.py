"""Channels consumers for the carriers' media WebSockets (/ws/twilio/media/<token>,
/ws/plivo/media/<token>, and /ws/web/media/<token> for a web call's browser). Thin: they
authenticate (the grant put in the scope by calls.bridge.middleware), have the call's bridge
built (calls.bridge.build), and hand every frame to it.

Plain AsyncConsumer rather than AsyncWebsocketConsumer: the audio path is one dispatch and one
orjson parse per frame, with nothing in between.

However the socket ends (the carrier hangs up or closes, a frame is malformed, a handler
raises, the server shuts down and cancels the task), the call is finalized once, through the
bridge and the ``call_finalize`` service, with an end reason that says which.
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
from calls.exceptions import CallsErrorCode
from calls.models import EndReason
from calls.telephony.media import InvalidStartFrame, MediaProtocol, loads
from calls.telephony.registry import carrier_spec

logger = structlog.get_logger(__name__)

# Malformed frames are logged, but at most this many per call: a broken peer must not flood
# the logs or the CPU.
MAX_LOGGED_BAD_FRAMES = 5
CLOSE_POLICY_VIOLATION = 4403
CLOSE_NORMAL = 1000
CLOSE_INTERNAL_ERROR = 1011
# The close code the ASGI server reports to us when it shuts down (uvicorn: "service restart").
CLOSE_SERVICE_RESTART = 1012
SHUTDOWN_MESSAGE = "The server shut down during the call."


class MediaStreamConsumer(AsyncConsumer):
    """One carrier media WebSocket; ``carrier`` (from calls/routing.py) picks its protocol."""

    bridge: CallBridge | None = None
    bad_frames = 0
    repeated_starts = 0
    close_code = CLOSE_NORMAL

    def __init__(
        self, *, carrier: str = "", protocol_class: type[MediaProtocol] | None = None
    ) -> None:
        # A carrier's protocol, or one given directly for a stream no carrier carries (a web
        # call's browser: calls.telephony.browser).
        self.protocol_class: type[MediaProtocol] = (
            protocol_class or carrier_spec(carrier).media_protocol_class
        )

    async def websocket_connect(self, message) -> None:
        grant = self.scope.get("stream_grant")
        if grant is None:
            await self._refuse(logger, self.scope.get("stream_refusal", "no stream token"))
            return
        self.log = logger.bind(call_id=grant.call_id, organization=grant.schema_name)
        self.protocol = self.protocol_class()
        bridge = await bridge_build(grant, self.protocol, send=self._send_text, close=self._close)
        if bridge is None:
            await self._refuse(self.log, "call missing or already ended")
            return
        self.bridge = bridge
        self.schema_name = grant.schema_name
        self.call_id = grant.call_id
        if self.channel_layer is not None:
            await self.channel_layer.group_add(
                control_group(schema_name=self.schema_name, call_id=self.call_id),
                self.channel_name,
            )
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
        # How the call ends if the loop stops without the carrier closing it (see finally).
        ending = (EndReason.FAILED, CallsErrorCode.BRIDGE_ERROR, "")
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
        except asyncio.CancelledError:
            # The server is shutting down (daphne cancels its applications).
            ending = (EndReason.FAILED, CallsErrorCode.SERVER_SHUTDOWN, SHUTDOWN_MESSAGE)
            raise
        except Exception as exc:
            # A bug: one line with the traceback, then the call ends as failed.
            getattr(self, "log", logger).exception("media_stream_failed")
            ending = (EndReason.FAILED, CallsErrorCode.BRIDGE_ERROR, f"{type(exc).__name__}")
            self.close_code = CLOSE_INTERNAL_ERROR
            if self.bridge is None:
                with contextlib.suppress(Exception):
                    await self.send({"type": "websocket.close", "code": CLOSE_INTERNAL_ERROR})
        finally:
            if control is not None:
                control.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await control
            await self._end(*ending)

    async def _end(self, end_reason: str, error_code: str, error_message: str) -> None:
        """Finalize the call if nothing did yet (the bridge ends a call once: after a close,
        this only waits for that ending) and leave the call's control group."""
        bridge = self.bridge
        if bridge is None:
            return
        try:
            await bridge.finish(end_reason, error_code=error_code, error_message=error_message)
        finally:
            if self.channel_layer is not None:
                with contextlib.suppress(Exception):
                    await self.channel_layer.group_discard(
                        control_group(schema_name=self.schema_name, call_id=self.call_id),
                        self.channel_name,
                    )

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
        await self.send({"type": "websocket.close", "code": self.close_code})

    async def _refuse(self, log, reason: str) -> None:
        """Deny the handshake (the server answers 403): one line at info, no traceback."""
        log.info("media_stream_refused", carrier=self.protocol_class.name, reason=reason)
        await self.send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})

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
                await self._stream_start(bridge, frame)
            elif event == protocol.DTMF:
                await bridge.dtmf(protocol.dtmf_digit(frame))
            elif event == protocol.STOP:
                await bridge.carrier_closed()
            elif event not in protocol.IGNORED:
                self._bad_frame(f"unknown event {event!r}")
        except (ValueError, KeyError, TypeError) as exc:
            self._bad_frame(f"{type(exc).__name__}: {exc}")

    async def _stream_start(self, bridge: CallBridge, frame: dict) -> None:
        """The first valid ``start`` opens the model session; a malformed one ends the call
        (there is nothing to bridge without its ids); later ones are ignored."""
        if bridge.started:
            self.repeated_starts += 1
            if self.repeated_starts == 1:
                self.log.warning("media_stream_start_repeated")
                bridge.event("media_stream_start_repeated")
            return
        try:
            start = self.protocol.parse_start(frame)
        except InvalidStartFrame as exc:
            self.log.warning("media_stream_start_invalid", reason=exc.reason)
            bridge.event("media_stream_start_invalid", reason=exc.reason)
            self.close_code = CLOSE_POLICY_VIOLATION
            await bridge.finish(
                EndReason.FAILED,
                error_code=CallsErrorCode.INVALID_START_FRAME,
                error_message=f"Malformed media stream start: {exc.reason}.",
            )
            return
        await bridge.start(carrier_call_id=start.carrier_call_id, stream_id=start.stream_id)

    def _bad_frame(self, reason: str) -> None:
        self.bad_frames += 1
        if self.bad_frames <= MAX_LOGGED_BAD_FRAMES:
            self.log.warning("media_frame_skipped", reason=reason[:200], count=self.bad_frames)
        if self.bridge is not None and self.bad_frames == 1:
            self.bridge.event("malformed_frame", reason=reason[:200])

    async def call_control(self, message) -> None:
        """Control messages from webhooks and services (group ``call-control-<schema>-<id>``)."""
        if self.bridge is None:
            return
        action = message.get("action")
        if action == "machine_detected":
            await self.bridge.machine_detected()
        elif action == "hangup":
            end_reason = message.get("end_reason")
            if end_reason not in EndReason.values:
                end_reason = EndReason.AGENT_HANGUP
            await self.bridge.finish(end_reason)
        elif action == "replay" and isinstance(message.get("reply_to"), str):
            # An operator opened the call's live view (calls.consumers_live): every turn so
            # far, to their socket alone.
            await self.channel_layer.send(
                message["reply_to"], {"type": "call.turns", "turns": list(self.bridge.turns)}
            )

    async def call_transcript(self, message) -> None:
        """Our own turns published to ``call-<schema>-<id>`` (operators watch that group); ignore."""

    async def websocket_disconnect(self, message) -> None:
        bridge = self.bridge
        if bridge is not None:
            if message.get("code") == CLOSE_SERVICE_RESTART:
                # Not the carrier: our server is shutting down (uvicorn closes every socket).
                await bridge.finish(
                    EndReason.FAILED,
                    error_code=CallsErrorCode.SERVER_SHUTDOWN,
                    error_message=SHUTDOWN_MESSAGE,
                )
            else:
                await bridge.carrier_closed()
        raise StopConsumer()
