"""The small interface between the call bridge and a realtime model provider.

Audio crossing this interface is always G.711 mu-law at 8 kHz, the carriers' format, so the
bridge never transcodes: a provider that speaks another format (Gemini, Hume) converts inside
its own module, and OpenAI passes the bytes through untouched.

Events are plain dataclasses with ``__slots__``: the audio path creates one per model audio
chunk, so they must be cheap to build and never validated field by field.
"""

from __future__ import annotations

import abc
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class ToolSpec:
    """A function the model may call: JSON-schema parameters, as every provider accepts them."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(slots=True)
class SessionConfig:
    """Everything a provider needs to open a session for one call."""

    model: str
    instructions: str = ""
    voice: str = ""
    language: str = "en"
    temperature: float | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    api_key: str = ""
    # Points the SDK at a loopback fake in tests and benchmarks; empty = the provider's own.
    base_url: str = ""
    # Provider specifics (Hume: config_id; Gemini: ssl context for the fake's TLS...).
    extra: dict[str, Any] = field(default_factory=dict)


# --- events the session yields ----------------------------------------------------------------


@dataclass(slots=True)
class AudioOut:
    """A chunk of the agent's speech, mu-law 8 kHz. ``item_id`` names the answer it belongs to."""

    payload: bytes
    item_id: str


class EncodedAudio(Protocol):
    """What an :class:`AudioOut` that kept the provider's base64 string also has (OpenAI's
    ``AudioOutB64``): a bridge that sends base64 anyway forwards ``payload_b64`` as is."""

    payload_b64: str
    nbytes: int  # length of the decoded audio


@dataclass(slots=True)
class SpeechStarted:
    """The provider's VAD heard the caller start speaking: the bridge performs barge-in."""

    audio_start_ms: int | None = None


@dataclass(slots=True)
class SpeechStopped:
    audio_end_ms: int | None = None


@dataclass(slots=True)
class Transcript:
    """A finished transcript of one turn. speaker is ``"caller"`` or ``"agent"``."""

    speaker: str
    text: str
    item_id: str = ""


@dataclass(slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class ResponseDone:
    """The agent finished (or was cut off in) one answer. ``usage`` is the provider's counts."""

    item_id: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False


@dataclass(slots=True)
class ProviderError:
    """A non-fatal error the provider reported (the session stays open)."""

    code: str
    message: str


@dataclass(slots=True)
class Closed:
    """The provider's socket closed. ``unexpected`` is True for a drop (the bridge reconnects)."""

    unexpected: bool
    reason: str = ""


RealtimeEvent = (
    AudioOut
    | SpeechStarted
    | SpeechStopped
    | Transcript
    | ToolCall
    | ResponseDone
    | ProviderError
    | Closed
)


class RealtimeSessionError(Exception):
    """The provider refused the session or could not be reached."""


class RealtimeSession(abc.ABC):
    """One conversation with a realtime model. Not thread-safe; owned by one call's task."""

    provider: str = ""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config

    @abc.abstractmethod
    async def connect(self, *, history: list[Transcript] | None = None) -> None:
        """Open the socket and configure the session. ``history`` replays the conversation so
        far after a reconnect, so the model picks up where it was."""

    @abc.abstractmethod
    async def send_audio(self, mulaw: bytes) -> None:
        """Caller audio, mu-law 8 kHz, in whatever chunk size the carrier delivered."""

    @abc.abstractmethod
    def events(self) -> AsyncIterator[RealtimeEvent]:
        """Yield events until the session closes; the last event is always :class:`Closed`."""

    async def send_audio_b64(self, payload_b64: str) -> None:
        """Caller audio as the carrier's base64 string. Providers that send base64 anyway
        (OpenAI) override this to forward the string without a decode/encode round trip."""
        await self.send_audio(base64.b64decode(payload_b64))

    @abc.abstractmethod
    async def send_tool_result(self, call_id: str, output: str, *, is_error: bool = False) -> None:
        """Answer a :class:`ToolCall` (``is_error``: the tool failed and ``output`` says why);
        the provider then continues its answer."""

    @abc.abstractmethod
    async def interrupt(self, *, item_id: str, audio_end_ms: int) -> None:
        """Barge-in: stop the current answer and tell the model only ``audio_end_ms`` of it
        were heard by the caller. Providers without a truncate operation (Gemini, Hume) only
        drop the rest of the answer's audio locally; their context keeps the whole answer."""

    @abc.abstractmethod
    async def send_text(self, text: str, *, respond: bool = True) -> None:
        """Inject text as the caller's turn (DTMF digits, a silence prompt...)."""

    @abc.abstractmethod
    async def say(self, text: str) -> None:
        """Make the agent speak ``text`` (first message, goodbye, voicemail)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the socket; idempotent."""
