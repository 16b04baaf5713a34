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

__all__ = [
    "Frame",
    "InvalidStartFrame",
    "MediaProtocol",
    "StreamStart",
    "frame_id",
    "frame_object",
    "loads",
    "media_format",
]

# One text frame of a media stream, as orjson decodes it.
Frame = dict[str, Any]


DEFAULT_ENCODING = "audio/x-mulaw"
DEFAULT_SAMPLE_RATE = 8000


@dataclass(slots=True)
class StreamStart:
    stream_id: str
    carrier_call_id: str
    parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = DEFAULT_ENCODING
    sample_rate: int = DEFAULT_SAMPLE_RATE


class InvalidStartFrame(ValueError):
    """A ``start`` frame the bridge cannot use (a field of the wrong type, an id missing);
    ``reason`` names the field, for the log and the call's timeline."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# The typed readers of a start frame, shared by the carriers' ``parse_start``: each returns
# the value in the type the bridge relies on or raises InvalidStartFrame naming the field.


def frame_object(value: Any, field_name: str, *, optional: bool = False) -> dict[str, Any]:
    """``value`` as a JSON object; ``{}`` for an absent optional one (null counts as absent)."""
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise InvalidStartFrame(f"{field_name} is {_kind(value)}, not an object")
    return value


def frame_id(value: Any, field_name: str) -> str:
    """A required id: a non-empty string."""
    if value is None or value == "":
        raise InvalidStartFrame(f"{field_name} is missing")
    if not isinstance(value, str):
        raise InvalidStartFrame(f"{field_name} is {_kind(value)}, not a string")
    return value


def media_format(value: Any, field_name: str) -> tuple[str, int]:
    """``(encoding, sample rate)`` of an optional ``mediaFormat`` object (mu-law 8 kHz when
    absent); the rate may come as a number or a string of digits."""
    media = frame_object(value, field_name, optional=True)
    encoding = media.get("encoding", DEFAULT_ENCODING)
    if not isinstance(encoding, str) or not encoding:
        raise InvalidStartFrame(f"{field_name}.encoding is {_kind(encoding)}, not a string")
    rate = media.get("sampleRate", DEFAULT_SAMPLE_RATE)
    if isinstance(rate, str) and rate.isdigit():
        rate = int(rate)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise InvalidStartFrame(f"{field_name}.sampleRate is not a positive whole number")
    return encoding, rate


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


class MediaProtocol:
    """One carrier's stream protocol for one call (it knows the stream id once started)."""

    name = ""

    def __init__(self) -> None:
        self.stream_id = ""

    # inbound: the bridge decodes each text frame with orjson and dispatches on ``event``
    def parse_start(self, message: Frame) -> StreamStart:
        """The stream's ids, parameters and format, checked once (InvalidStartFrame with the
        reason otherwise); the protocol takes the stream id for the frames it writes."""
        raise NotImplementedError

    def media_payload(self, message: Frame) -> str:
        payload = message["media"]["payload"]
        if type(payload) is not str:
            raise TypeError("media.payload is not a string")
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
