"""The interface of a carrier's media-stream wire format, which the bridge uses for every call.
Each carrier implements it in its own module (``calls.telephony.twilio.TwilioMediaProtocol``,
``calls.telephony.plivo.PlivoMediaProtocol``; docs/protocols.md, "Twilio: media streams" and
"Plivo: media streams").

Outbound messages are built by string concatenation around the base64 payload: the payload is
base64 (no JSON escaping needed) and this runs for every audio chunk of every call, so there
is no dict building and no ``json.dumps`` on the audio path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["Frame", "MediaProtocol", "StreamStart", "loads"]

# One text frame of a media stream, as orjson decodes it.
Frame = dict[str, Any]


@dataclass(slots=True)
class StreamStart:
    stream_id: str
    carrier_call_id: str
    parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000


class MediaProtocol:
    """One carrier's stream protocol for one call (it knows the stream id once started)."""

    name = ""

    def __init__(self) -> None:
        self.stream_id = ""

    # inbound: the bridge decodes each text frame with orjson and dispatches on ``event``
    def parse_start(self, message: Frame) -> StreamStart:
        raise NotImplementedError

    def media_payload(self, message: Frame) -> str:
        payload: str = message["media"]["payload"]
        return payload

    def dtmf_digit(self, message: Frame) -> str:
        return str(message["dtmf"]["digit"])

    def mark_name(self, message: Frame) -> str:
        raise NotImplementedError

    # event names as the carrier sends them
    MEDIA = "media"
    START = "start"
    DTMF = "dtmf"
    MARK = ""
    STOP = "stop"
    IGNORED: frozenset[str] = frozenset()

    # outbound
    def media(self, payload_b64: str) -> str:
        raise NotImplementedError

    def mark(self, name: str) -> str:
        raise NotImplementedError

    def clear(self) -> str:
        raise NotImplementedError


loads = orjson.loads
