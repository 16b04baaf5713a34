"""GeminiLiveSession through the real google-genai SDK against the loopback Gemini Live fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import websockets
from google import genai
from google.genai import types

from agents.realtime.audio import mulaw_to_pcm16
from agents.realtime.base import (
    AudioOut,
    Closed,
    RealtimeSessionError,
    ResponseDone,
    SessionConfig,
    SpeechStarted,
    ToolCall,
    ToolSpec,
    Transcript,
)
from agents.realtime.gemini import GeminiLiveSession, gemini_schema
from tests.agents.realtime_support import (
    collect_until,
    dominant_hz,
    frames,
    mulaw_silence,
    mulaw_tone,
    speak,
)
from tests.fakes.gemini_live import LIVE_PATH, FakeGeminiLive

LOOKUP = ToolSpec(
    name="lookup_order",
    description="Find an order by id.",
    parameters={
        "type": "object",
        "properties": {"order_id": {"type": "string", "description": "The order id."}},
        "required": ["order_id"],
        "additionalProperties": False,
    },
)


def config_for(fake: FakeGeminiLive, **overrides) -> SessionConfig:
    values = {
        "model": "gemini-3.1-flash-live-preview",
        "instructions": "You answer calls for Acme.",
        "voice": "Kore",
        "api_key": fake.api_key,
        "base_url": fake.base_url,
        "extra": {"ssl_context": fake.client_ssl_context()},
    }
    values.update(overrides)
    return SessionConfig(**values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeGeminiLive]:
    async with FakeGeminiLive() as fake:
        yield fake


@pytest.fixture
async def paced_fake() -> AsyncIterator[FakeGeminiLive]:
    # A 2 s greeting streamed at 5x real time: long enough to talk over.
    async with FakeGeminiLive(greeting_ms=2000, pace=0.2) as fake:
        yield fake


async def open_session(fake: FakeGeminiLive, **overrides) -> GeminiLiveSession:
    session = GeminiLiveSession(config_for(fake, **overrides))
    await session.connect()
    return session


async def test_setup_carries_voice_instructions_tools_and_transcription(fake):
    session = await open_session(fake, tools=[LOOKUP], temperature=0.6)

    conn = fake.connections[0]
    setup = conn.setup
    assert conn.path == LIVE_PATH
    assert conn.headers["x-goog-api-key"] == fake.api_key
    assert setup["model"] == "models/gemini-3.1-flash-live-preview"
    generation = setup["generationConfig"]
    assert generation["responseModalities"] == ["AUDIO"]
    assert generation["temperature"] == 0.6
    voice = generation["speechConfig"]["voice_config"]["prebuilt_voice_config"]["voice_name"]
    assert voice == "Kore"
    assert setup["systemInstruction"]["parts"] == [{"text": "You answer calls for Acme."}]
    [declaration] = setup["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "lookup_order"
    assert declaration["parameters"] == {
        "type": "OBJECT",
        "properties": {"order_id": {"type": "STRING", "description": "The order id."}},
        "required": ["order_id"],
    }
    assert "inputAudioTranscription" in setup
    assert "outputAudioTranscription" in setup
    assert "historyConfig" not in setup
    await session.close()


def test_tool_schemas_are_reduced_to_what_gemini_live_accepts():
    schema = gemini_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "size": {"type": "integer", "enum": [1, 2, 3]},
                "note": {"type": ["string", "null"], "default": ""},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            },
            "additionalProperties": False,
        }
    )

    dumped = schema.model_dump(mode="json", exclude_none=True)
    assert dumped == {
        "type": "OBJECT",
        "properties": {
            "size": {"type": "STRING", "enum": ["1", "2", "3"]},
            "note": {"type": "STRING", "nullable": True},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "min_items": 1},
        },
    }


async def test_greeting_arrives_as_mulaw_8k_with_a_third_of_the_samples(fake):
    session = await open_session(fake)
    stream = session.events()

    await session.say("Hello and welcome to Acme.")
    events = await collect_until(stream, ResponseDone)

    audio = [e for e in events if isinstance(e, AudioOut)]
    assert {e.item_id for e in audio} == {"gemini-1"}
    # 600 ms at 24 kHz = 14 400 samples in; 8 kHz mu-law = 4 800 one-byte samples out.
    payload = b"".join(e.payload for e in audio)
    assert len(payload) == fake.greeting_ms * 8
    assert abs(dominant_hz(mulaw_to_pcm16(payload), 8000) - 440) < 5
    [transcript] = [e for e in events if isinstance(e, Transcript)]
    assert transcript == Transcript(
        speaker="agent",
        text="Hello, thanks for calling. How can I help you today?",
        item_id="gemini-1",
    )
    done = events[-1]
    assert done.item_id == "gemini-1" and not done.interrupted
    assert done.usage["total_token_count"] == done.usage["prompt_token_count"] + 15
    [content] = fake.connections[0].client_content
    assert content["turnComplete"] is True
    assert "Hello and welcome to Acme." in content["turns"][0]["parts"][0]["text"]
    await session.close()


async def test_caller_audio_reaches_gemini_as_16k_pcm(fake):
    session = await open_session(fake)

    for frame in frames(mulaw_tone(1000)):
        await session.send_audio(frame)
    conn = fake.connections[0]
    await fake.wait_for(lambda: len(conn.audio_in) >= 31_900)

    assert conn.audio_mime_types == {"audio/pcm;rate=16000"}
    # 1 s of 8 kHz in → 16 000 PCM16 samples out, less a few held in the resampler.
    assert 31_900 <= len(conn.audio_in) <= 32_000
    assert abs(dominant_hz(bytes(conn.audio_in), 16000) - 440) < 5
    await session.close()


async def test_tool_call_round_trip(fake):
    session = await open_session(fake, tools=[LOOKUP])
    stream = session.events()

    await speak(session)
    events = await collect_until(stream, ToolCall)
    call = events[-1]
    await session.send_tool_result(call.call_id, '{"status": "shipped"}')
    answer = await collect_until(stream, ResponseDone)

    assert Transcript(speaker="caller", text="I would like to check my order.") in events
    assert call.name == "lookup_order" and call.arguments == {"order_id": "A-123"}
    assert fake.connections[0].tool_responses == [
        {"id": call.call_id, "name": "lookup_order", "response": {"output": {"status": "shipped"}}}
    ]
    [said] = [e for e in answer if isinstance(e, Transcript)]
    assert said.text == 'The lookup says {"output": {"status": "shipped"}}.'
    assert sum(len(e.payload) for e in answer if isinstance(e, AudioOut)) == fake.answer_ms * 8
    assert answer[-1].item_id == said.item_id == "gemini-1"
    await session.close()


async def test_tool_error_is_sent_as_error_response(fake):
    session = await open_session(fake, tools=[LOOKUP])
    stream = session.events()

    await speak(session)
    call = (await collect_until(stream, ToolCall))[-1]
    await session.send_tool_result(call.call_id, "order system down", is_error=True)
    await collect_until(stream, ResponseDone)

    assert fake.connections[0].tool_responses[0]["response"] == {"error": "order system down"}
    await session.close()


async def test_barge_in_cuts_the_turn_and_reports_its_usage_later(paced_fake):
    fake = paced_fake
    session = await open_session(fake)
    stream = session.events()

    await session.say("Hi")
    first = await collect_until(stream, AudioOut)
    for frame in frames(mulaw_tone(200)):
        await session.send_audio(frame)
    cut = await collect_until(stream, ResponseDone)
    for frame in frames(mulaw_silence(300)):
        await session.send_audio(frame)
    next_answer = await collect_until(stream, ResponseDone)

    assert any(isinstance(e, SpeechStarted) for e in cut)
    done = cut[-1]
    assert done.item_id == "gemini-1" and done.interrupted
    heard = sum(len(e.payload) for e in first + cut if isinstance(e, AudioOut))
    assert heard < fake.greeting_ms * 8
    assert Transcript(speaker="caller", text="I would like to check my order.") in next_answer
    assert next_answer[-1].item_id == "gemini-2" and not next_answer[-1].interrupted
    # The cut turn's usage came on a turnComplete after the cut: it is added to the next report.
    usages = [m["usageMetadata"] for m in fake.connections[0].sent if "usageMetadata" in m]
    assert next_answer[-1].usage["total_token_count"] == sum(u["totalTokenCount"] for u in usages)
    await session.close()


async def test_interrupt_drops_the_rest_of_the_turn_locally(paced_fake):
    fake = paced_fake
    session = await open_session(fake)
    stream = session.events()

    await session.say("Hi")
    before = await collect_until(stream, AudioOut)
    await session.interrupt(item_id="gemini-1", audio_end_ms=40)
    after = await collect_until(stream, ResponseDone, timeout=10)

    assert not [e for e in after if isinstance(e, AudioOut)]
    assert sum(len(e.payload) for e in before if isinstance(e, AudioOut)) < fake.greeting_ms * 8
    assert after[-1].item_id == "gemini-1" and after[-1].interrupted
    await session.close()


async def test_history_is_replayed_as_context_without_an_answer(fake):
    history = [
        Transcript(speaker="agent", text="Acme, how can I help?"),
        Transcript(speaker="caller", text="Where is order A-1?"),
    ]
    session = GeminiLiveSession(config_for(fake))

    await session.connect(history=history)
    await session.send_text("The caller pressed 1.", respond=False)
    conn = fake.connections[0]
    await fake.wait_for(lambda: conn.client_content)

    # Nested config goes out in snake_case (protobuf JSON accepts both spellings).
    assert conn.setup["historyConfig"] == {"initial_history_in_client_content": True}
    assert conn.history == [
        {"role": "model", "parts": [{"text": "Acme, how can I help?"}]},
        {"role": "user", "parts": [{"text": "Where is order A-1?"}]},
    ]
    assert conn.client_content[0]["turnComplete"] is False
    await asyncio.sleep(0.05)
    assert not any("serverContent" in m for m in conn.sent)
    await session.close()


async def test_the_fake_refuses_api_versions_other_than_v1beta(fake):
    # The SDK defaults to v1 for the Gemini API; the real service serves Live only on v1beta.
    client = genai.Client(
        api_key=fake.api_key,
        http_options=types.HttpOptions(
            base_url=fake.base_url,
            api_version="v1",
            async_client_args={"ssl": fake.client_ssl_context()},
        ),
    )

    with pytest.raises(websockets.InvalidStatus) as refused:
        async with client.aio.live.connect(model="gemini-3.1-flash-live-preview"):
            pass

    assert refused.value.response.status_code == 404


async def test_a_wrong_api_key_is_a_session_error(fake):
    session = GeminiLiveSession(config_for(fake, api_key="not-the-key"))

    with pytest.raises(RealtimeSessionError, match="403"):
        await session.connect()


async def test_a_dropped_socket_is_an_unexpected_close(fake):
    session = await open_session(fake)
    stream = session.events()

    await fake.drop()
    events = await collect_until(stream, Closed)

    assert events == [Closed(unexpected=True, reason=events[-1].reason)]
    assert "1006" in events[-1].reason


async def test_after_a_drop_the_session_reconnects_with_its_history(fake):
    session = await open_session(fake)
    stream = session.events()
    await session.say("Hi")
    await collect_until(stream, ResponseDone)
    await fake.drop()
    await collect_until(stream, Closed)

    await session.connect(history=[Transcript(speaker="agent", text="Hello, how can I help?")])
    stream = session.events()
    await session.say("Sorry, we were cut off.")
    events = await collect_until(stream, ResponseDone)

    assert len(fake.connections) == 2
    assert fake.connections[1].history == [
        {"role": "model", "parts": [{"text": "Hello, how can I help?"}]}
    ]
    assert events[-1].item_id == "gemini-2"  # item ids stay unique across sockets
    await session.close()


async def test_closing_the_session_is_an_expected_close(fake):
    session = await open_session(fake)
    stream = session.events()

    await session.close()
    events = await collect_until(stream, Closed)

    assert events[-1].unexpected is False


async def test_go_away_closes_after_the_current_turn(paced_fake):
    fake = paced_fake
    session = await open_session(fake)
    stream = session.events()

    await session.say("Hi")
    await collect_until(stream, AudioOut)
    await fake.go_away("5s")
    events = await collect_until(stream, Closed, timeout=10)

    assert isinstance(events[-2], ResponseDone) and not events[-2].interrupted
    assert events[-1].unexpected is True
    assert events[-1].reason.startswith("go_away")
