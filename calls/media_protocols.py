"""The carriers' media-stream wire formats (PROTOCOLS.md §1.2-1.3 Twilio, §2.2-2.3 Plivo),
behind one small interface the bridge uses.

Outbound messages are built by string concatenation around the base64 payload: the payload is
base64 (no JSON escaping needed) and this runs for every audio chunk of every call, so there
is no dict building and no ``json.dumps`` on the audio path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson


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
    def parse_start(self, message: dict) -> StreamStart:
        raise NotImplementedError

    def media_payload(self, message: dict) -> str:
        return message["media"]["payload"]

    def dtmf_digit(self, message: dict) -> str:
        return str(message["dtmf"]["digit"])

    def mark_name(self, message: dict) -> str:
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


class TwilioMediaProtocol(MediaProtocol):
    name = "twilio"
    MARK = "mark"
    IGNORED = frozenset({"connected"})

    def parse_start(self, message: dict) -> StreamStart:
        start = message["start"]
        self.stream_id = start.get("streamSid") or message.get("streamSid", "")
        self._media_head = (
            '{"event":"media","streamSid":"' + self.stream_id + '","media":{"payload":"'
        )
        media_format = start.get("mediaFormat") or {}
        return StreamStart(
            stream_id=self.stream_id,
            carrier_call_id=start.get("callSid", ""),
            parameters={str(k): str(v) for k, v in (start.get("customParameters") or {}).items()},
            encoding=media_format.get("encoding", "audio/x-mulaw"),
            sample_rate=int(media_format.get("sampleRate", 8000)),
        )

    def mark_name(self, message: dict) -> str:
        return message["mark"]["name"]

    def media(self, payload_b64: str) -> str:
        return self._media_head + payload_b64 + '"}}'

    def mark(self, name: str) -> str:
        return (
            '{"event":"mark","streamSid":"' + self.stream_id + '","mark":{"name":"' + name + '"}}'
        )

    def clear(self) -> str:
        return '{"event":"clear","streamSid":"' + self.stream_id + '"}'


class PlivoMediaProtocol(MediaProtocol):
    name = "plivo"
    MARK = "playedStream"
    IGNORED = frozenset({"clearedAudio"})
    _MEDIA_HEAD = (
        '{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"'
    )

    def parse_start(self, message: dict) -> StreamStart:
        start = message["start"]
        self.stream_id = start.get("streamId", "")
        # Plivo passes our stream parameters as extraHeaders: "k=v;k=v" (or "k=v,k=v").
        raw = message.get("extra_headers") or start.get("extra_headers") or ""
        parameters: dict[str, str] = {}
        for part in raw.replace(",", ";").split(";"):
            key, sep, value = part.partition("=")
            if sep and key.strip():
                parameters[key.strip()] = value.strip()
        media_format = start.get("mediaFormat") or {}
        return StreamStart(
            stream_id=self.stream_id,
            carrier_call_id=start.get("callId", ""),
            parameters=parameters,
            encoding=media_format.get("encoding", "audio/x-mulaw"),
            sample_rate=int(media_format.get("sampleRate", 8000)),
        )

    def mark_name(self, message: dict) -> str:
        return message["name"]

    def media(self, payload_b64: str) -> str:
        return self._MEDIA_HEAD + payload_b64 + '"}}'

    def mark(self, name: str) -> str:
        return '{"event":"checkpoint","streamId":"' + self.stream_id + '","name":"' + name + '"}'

    def clear(self) -> str:
        return '{"event":"clearAudio","streamId":"' + self.stream_id + '"}'


PROTOCOLS: dict[str, type[MediaProtocol]] = {
    "twilio": TwilioMediaProtocol,
    "plivo": PlivoMediaProtocol,
}

loads = orjson.loads
