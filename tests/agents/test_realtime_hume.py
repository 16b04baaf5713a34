"""HumeEVISession against the loopback EVI fake, over EVI's real chat WebSocket protocol."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import pytest

from agents.realtime.audio import mulaw_to_pcm16
from agents.realtime.base import (
    AudioOut,
    Closed,
    ProviderError,
    RealtimeSessionError,
    ResponseDone,
    SessionConfig,
    SpeechStarted,
    ToolCall,
    ToolSpec,
    Transcript,
)
from agents.realtime.hume import HumeEVISession
from tests.agents.realtime_support import (
    collect_until,
    dominant_hz,
    frames,
    mulaw_tone,
    speak,
)
from tests.fakes.hume_evi import FakeHumeEVI

TRACK = ToolSpec(
    name="track_parcel",
    description="Where a parcel is.",
    parameters={
        "type": "object",
        "properties": {"parcel_id": {"type": "string"}},
        "required": ["parcel_id"],
    },
)


def config_for(fake: FakeHumeEVI, **overrides) -> SessionConfig:
    values = {
        "model": "evi-3",
        "instructions": "You answer calls for Parcelco.",
        "api_key": fake.api_key,
        "base_url": fake.base_url,
        "extra": {"config_id": "cfg-123", "variables": {"caller_name": "Ada"}},
    }
    values.update(overrides)
    return SessionConfig(**values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeHumeEVI]:
    async with FakeHumeEVI() as fake:
        yield fake


async def open_session(fake: FakeHumeEVI, **overrides) -> HumeEVISession:
    session = HumeEVISession(config_for(fake, **overrides))
    await session.connect()
    return session


async def test_connect_authenticates_and_sends_session_settings(fake):
    session = await open_session(fake, tools=[TRACK], voice="voice-abc")
    conn = fake.connections[0]
    await fake.wait_for(lambda: conn.session_settings)

    assert conn.headers["X-Hume-Api-Key"] == fake.api_key
    assert conn.query["config_id"] == "cfg-123"
    assert conn.query["verbose_transcription"] == "true"
    assert session.chat_group_id.startswith("group-")
    [settings] = conn.session_settings
    assert settings["audio"] == {"encoding": "linear16", "sample_rate": 16000, "channels": 1}
    assert settings["system_prompt"] == "You answer calls for Parcelco."
    assert settings["voice_id"] == "voice-abc"
    assert settings["variables"] == {"caller_name": "Ada"}
    [tool] = settings["tools"]
    assert tool["type"] == "function" and tool["name"] == "track_parcel"
    assert json.loads(tool["parameters"]) == TRACK.parameters
    await session.close()


@pytest.mark.parametrize("rate", [24000, 48000])
async def test_wav_audio_output_becomes_mulaw_8k(rate):
    async with FakeHumeEVI(output_rate=rate) as fake:
        session = await open_session(fake)
        stream = session.events()

        await session.say("Thanks for calling Parcelco.")
        events = await collect_until(stream, ResponseDone)

        assert fake.connections[0].assistant_inputs == ["Thanks for calling Parcelco."]
        audio = [e for e in events if isinstance(e, AudioOut)]
        assert {e.item_id for e in audio} == {"hume-1"}
        payload = b"".join(e.payload for e in audio)
        assert len(payload) == fake.sentence_ms * 8  # 400 ms of 8 kHz mu-law
        assert abs(dominant_hz(mulaw_to_pcm16(payload), 8000) - 440) < 5
        assert (
            Transcript(speaker="agent", text="Thanks for calling Parcelco.", item_id="hume-1")
            in events
        )
        assert events[-1] == ResponseDone(item_id="hume-1")
        await session.close()


async def test_caller_audio_reaches_hume_as_16k_pcm(fake):
    session = await open_session(fake)

    for frame in frames(mulaw_tone(1000)):
        await session.send_audio(frame)
    conn = fake.connections[0]
    await fake.wait_for(lambda: len(conn.audio_in) >= 31_900)

    assert 31_900 <= len(conn.audio_in) <= 32_000
    assert abs(dominant_hz(bytes(conn.audio_in), 16000) - 440) < 5
    await session.close()


async def test_tool_call_round_trip(fake):
    session = await open_session(fake, tools=[TRACK])
    stream = session.events()

    await speak(session)
    events = await collect_until(stream, ToolCall)
    call = events[-1]
    await session.send_tool_result(call.call_id, "in the van")
    answer = await collect_until(stream, ResponseDone)

    assert isinstance(events[0], SpeechStarted)  # the interim transcript
    assert Transcript(speaker="caller", text="Where is my parcel?") in events
    assert call.name == "track_parcel" and call.arguments == {"parcel_id": "P-9"}
    assert fake.connections[0].tool_replies == [
        {"type": "tool_response", "tool_call_id": call.call_id, "content": "in the van"}
    ]
    [said] = [e for e in answer if isinstance(e, Transcript)]
    assert said.text == "The tracker says in the van. Anything else?"
    assert (
        sum(len(e.payload) for e in answer if isinstance(e, AudioOut)) == 2 * fake.sentence_ms * 8
    )
    await session.close()


async def test_tool_errors_go_back_as_tool_error(fake):
    session = await open_session(fake, tools=[TRACK])
    stream = session.events()

    await speak(session)
    call = (await collect_until(stream, ToolCall))[-1]
    await session.send_tool_result(call.call_id, "tracker offline", is_error=True)
    await collect_until(stream, ResponseDone)

    assert fake.connections[0].tool_replies == [
        {"type": "tool_error", "tool_call_id": call.call_id, "error": "tracker offline"}
    ]
    await session.close()


async def test_user_interruption_cuts_the_answer():
    async with FakeHumeEVI(sentence_ms=2000, pace=0.25) as fake:
        session = await open_session(fake)
        stream = session.events()

        await session.say("A long safety notice.")
        first = await collect_until(stream, AudioOut)
        for frame in frames(mulaw_tone(200)):
            await session.send_audio(frame)
        cut = await collect_until(stream, ResponseDone)

        assert any(isinstance(e, SpeechStarted) for e in cut)
        assert cut[-1] == ResponseDone(item_id="hume-1", interrupted=True)
        heard = sum(len(e.payload) for e in first + cut if isinstance(e, AudioOut))
        assert heard < fake.sentence_ms * 8
        assert any(m["type"] == "user_interruption" for m in fake.connections[0].sent)
        await session.close()


async def test_send_text_is_a_user_turn_and_say_is_spoken_verbatim(fake):
    session = await open_session(fake)
    stream = session.events()

    await session.send_text("I pressed 2")
    events = await collect_until(stream, ResponseDone)
    await session.send_text("The caller is a premium customer.", respond=False)
    conn = fake.connections[0]
    await fake.wait_for(lambda: len(conn.session_settings) == 2)

    assert conn.user_inputs == ["I pressed 2"]
    assert Transcript(speaker="caller", text="I pressed 2") in events
    assert conn.session_settings[1]["context"] == {
        "type": "temporary",
        "text": "The caller is a premium customer.",
    }
    await session.close()


async def test_history_goes_in_as_context_on_a_fresh_chat(fake):
    session = HumeEVISession(config_for(fake))

    await session.connect(
        history=[
            Transcript(speaker="agent", text="Parcelco, hello."),
            Transcript(speaker="caller", text="My parcel is late."),
        ]
    )
    conn = fake.connections[0]
    await fake.wait_for(lambda: conn.session_settings)

    context = conn.session_settings[0]["context"]
    assert context["type"] == "temporary"
    assert context["text"].endswith("agent: Parcelco, hello.\ncaller: My parcel is late.")
    await session.close()


async def test_reconnecting_after_a_drop_resumes_the_chat_group(fake):
    session = await open_session(fake)
    group = session.chat_group_id
    stream = session.events()
    await fake.drop()
    await collect_until(stream, Closed)

    await session.connect(history=[Transcript(speaker="caller", text="Hi")])
    conn = fake.connections[1]
    await fake.wait_for(lambda: conn.session_settings)

    assert conn.query["resumed_chat_group_id"] == group
    assert "context" not in conn.session_settings[0]  # EVI restores the context itself
    await session.close()


async def test_error_frames_are_provider_errors(fake):
    session = await open_session(fake)
    stream = session.events()

    await fake.error(code="E0710", message="tool failed")
    events = await collect_until(stream, ProviderError)

    assert events == [ProviderError(code="E0710", message="tool failed")]
    await session.close()


async def test_a_wrong_api_key_is_a_session_error(fake):
    session = HumeEVISession(config_for(fake, api_key="nope"))

    with pytest.raises(RealtimeSessionError, match="401"):
        await session.connect()


async def test_a_dropped_socket_is_an_unexpected_close(fake):
    session = await open_session(fake)
    stream = session.events()

    await fake.drop()
    events = await collect_until(stream, Closed)

    assert events[-1].unexpected is True and "1006" in events[-1].reason


async def test_closing_the_session_is_an_expected_close(fake):
    session = await open_session(fake)
    stream = session.events()

    await session.close()

    assert (await collect_until(stream, Closed))[-1].unexpected is False


async def test_frames_both_ways_match_the_hume_sdk_types(fake):
    # The SDK's generated types are Hume's published schema: they keep the fake and the
    # session honest about field names and required fields.
    pydantic_utilities = pytest.importorskip("hume.core.pydantic_utilities")
    from hume.empathic_voice.chat.types.publish_event import PublishEvent
    from hume.empathic_voice.types.subscribe_event import SubscribeEvent

    session = await open_session(fake, tools=[TRACK])
    stream = session.events()
    await session.say("Hello.")
    await collect_until(stream, ResponseDone)
    await speak(session)
    call = (await collect_until(stream, ToolCall))[-1]
    await session.send_tool_result(call.call_id, "at the depot")
    await collect_until(stream, ResponseDone)
    await session.send_tool_result("tool-x", "nope", is_error=True)
    await session.send_text("1")
    await session.close()
    await collect_until(stream, Closed)

    conn = fake.connections[0]
    for message in conn.sent:
        pydantic_utilities.parse_obj_as(SubscribeEvent, message)
    for message in conn.messages:
        if message["type"] == "audio_input":
            base64.b64decode(message["data"], validate=True)
        pydantic_utilities.parse_obj_as(PublishEvent, message)
    kinds = {m["type"] for m in conn.sent}
    assert {"chat_metadata", "assistant_message", "audio_output", "user_message"} <= kinds
    assert {"tool_call", "assistant_end"} <= kinds


# The SDK connects through websockets.legacy, deprecated since websockets 14.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_the_hume_sdk_itself_can_chat_with_the_fake(fake):
    hume = pytest.importorskip("hume")

    client = hume.AsyncHumeClient(
        api_key=fake.api_key,
        environment=hume.HumeClientEnvironment(
            base=f"http://{fake.host}:{fake.port}",
            evi=f"{fake.base_url}/v0/evi",
            tts=f"{fake.base_url}/v0/tts",
            stream=f"{fake.base_url}/v0/stream",
        ),
    )
    async with client.empathic_voice.chat.connect(
        config_id="cfg-123", session_settings={}
    ) as socket:
        metadata = await socket.recv()

    assert metadata.type == "chat_metadata" and metadata.chat_group_id
    assert fake.connections[0].query["config_id"] == "cfg-123"
