"""OpenAIRealtimeSession through the real openai SDK against the loopback fake server."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from websockets.asyncio.server import ServerConnection, serve

from agents.realtime.base import (
    AudioOut,
    Closed,
    ProviderError,
    RealtimeEvent,
    RealtimeSessionError,
    ResponseDone,
    SessionConfig,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    ToolSpec,
    Transcript,
)
from agents.realtime.openai import AudioOutB64, OpenAIRealtimeSession
from tests.fakes.carrier_media import TwilioMediaClient, caller_turn
from tests.fakes.openai_realtime import FakeOpenAIRealtime, Script

LOOKUP = ToolSpec(
    name="lookup_order",
    description="Find an order by id.",
    parameters={"type": "object", "properties": {"order_id": {"type": "string"}}},
)


class EventLog:
    """Reads a session's events in the background, as the bridge does."""

    def __init__(self, session: OpenAIRealtimeSession) -> None:
        self.events: list[RealtimeEvent] = []
        self._task = asyncio.create_task(self._run(session))

    async def _run(self, session: OpenAIRealtimeSession) -> None:
        async for event in session.events():
            self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type, *, count: int = 1, timeout: float = 5.0) -> list:
        async with asyncio.timeout(timeout):
            while len(self.of(kind)) < count:
                await asyncio.sleep(0.005)
        return self.of(kind)

    async def finished(self) -> None:
        await asyncio.wait_for(self._task, 5)


def _config(fake: FakeOpenAIRealtime, **kwargs) -> SessionConfig:
    return SessionConfig(
        model="gpt-realtime",
        api_key=fake.api_key,
        base_url=fake.base_url,
        **{"instructions": "You answer the phone for Acme.", "voice": "cedar", **kwargs},
    )


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAIRealtime]:
    script = Script(speed=0, ms_per_char=10, tool_calls={1: ("lookup_order", {"order_id": "42"})})
    async with FakeOpenAIRealtime(script=script) as server:
        yield server


@pytest_asyncio.fixture
async def session(fake) -> AsyncIterator[OpenAIRealtimeSession]:
    session = OpenAIRealtimeSession(
        _config(fake, tools=[LOOKUP], extra={"turn_detection": {"silence_duration_ms": 200}})
    )
    await session.connect()
    yield session
    await session.close()


async def _speak(session: OpenAIRealtimeSession, audio: bytes) -> None:
    for i in range(0, len(audio), 160):
        await session.send_audio(audio[i : i + 160])


@pytest.mark.asyncio
async def test_session_update_sets_pcmu_voice_instructions_tools_and_transcription(fake, session):
    [update] = await fake.wait_for_received("session.update")
    sent = update["session"]
    assert fake.current.path == "/v1/realtime?model=gpt-realtime"
    assert fake.current.headers["Authorization"] == f"Bearer {fake.api_key}"
    assert sent["type"] == "realtime"
    assert sent["instructions"] == "You answer the phone for Acme."
    assert sent["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert sent["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "cedar"}
    assert sent["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert sent["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200
    assert sent["audio"]["input"]["transcription"] == {
        "model": "gpt-4o-mini-transcribe",
        "language": "en",
    }
    assert sent["tools"] == [
        {
            "type": "function",
            "name": "lookup_order",
            "description": "Find an order by id.",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        }
    ]


@pytest.mark.asyncio
async def test_greeting_audio_arrives_as_audio_out_with_transcript_and_usage(fake, session):
    log = EventLog(session)
    await session.say("Thanks for calling Acme.")

    [done] = await log.wait_for(ResponseDone)
    [create] = fake.current.of_type("response.create")
    assert create["response"]["instructions"] == "Say exactly: Thanks for calling Acme."
    audio = log.of(AudioOut)
    sent = fake.current.sent_of_type("response.output_audio.delta")
    assert [a.payload_b64 for a in audio] == [d["delta"] for d in sent]
    assert b"".join(a.payload for a in audio) == b"".join(
        base64.b64decode(d["delta"]) for d in sent
    )
    assert all(isinstance(a, AudioOutB64) and a.nbytes == len(a.payload) for a in audio)
    assert {a.item_id for a in audio} == {done.item_id}
    assert log.of(Transcript) == [Transcript("agent", "Thanks for calling Acme.", done.item_id)]
    assert done.usage["total_tokens"] > 0 and "output_token_details" in done.usage
    assert not done.interrupted


@pytest.mark.asyncio
async def test_caller_audio_reaches_the_model_and_triggers_speech_events(fake, session):
    fake.script.tool_calls.clear()
    log = EventLog(session)
    turn = caller_turn(speech_ms=400, silence_ms=400)
    await _speak(session, turn)

    [done] = await log.wait_for(ResponseDone)
    assert bytes(fake.current.audio_in) == turn
    assert log.of(SpeechStarted) and log.of(SpeechStopped)[0].audio_end_ms == 400
    caller, agent = log.of(Transcript)
    assert caller.speaker == "caller" and caller.text == "I have a question about my order."
    assert agent == Transcript("agent", "Sure, I can help with that.", done.item_id)


@pytest.mark.asyncio
async def test_tool_result_sent_before_the_answer_ends_makes_the_model_continue(fake, session):
    await _speak(session, caller_turn(speech_ms=300, silence_ms=300))
    seen: list[RealtimeEvent] = []
    async with asyncio.timeout(5):
        async for event in session.events():
            seen.append(event)
            if isinstance(event, ToolCall):
                # Answered at once, while the tool-call response is still open: the session
                # must hold response.create until response.done, or the server refuses it.
                await session.send_tool_result(event.call_id, '{"status": "shipped"}')
            if isinstance(event, ResponseDone) and any(
                isinstance(e, Transcript) and e.speaker == "agent" for e in seen
            ):
                break

    [call] = [e for e in seen if isinstance(e, ToolCall)]
    assert (call.name, call.arguments) == ("lookup_order", {"order_id": "42"})
    assert not [e for e in seen if isinstance(e, ProviderError)]
    [output] = [
        e["item"]
        for e in fake.current.of_type("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]
    assert output == {
        "type": "function_call_output",
        "call_id": call.call_id,
        "output": '{"status": "shipped"}',
    }
    agent = [e for e in seen if isinstance(e, Transcript) and e.speaker == "agent"]
    assert agent[-1].text == 'Here is what I found: {"status": "shipped"}'


@pytest.mark.asyncio
async def test_interrupt_cancels_and_truncates_at_the_heard_offset(fake, session):
    fake.script.speed = 2  # 3 s of speech streamed over 1.5 s: still talking when interrupted
    log = EventLog(session)
    await session.say("x" * 300)
    await log.wait_for(AudioOut, count=3)
    item_id = log.of(AudioOut)[0].item_id

    await session.interrupt(item_id=item_id, audio_end_ms=240)

    [done] = await log.wait_for(ResponseDone)
    assert done.interrupted
    assert fake.current.of_type("response.cancel")
    [truncate] = fake.current.of_type("conversation.item.truncate")
    assert (truncate["item_id"], truncate["content_index"], truncate["audio_end_ms"]) == (
        item_id,
        0,
        240,
    )
    await fake.wait_for(lambda: fake.current.sent_of_type("conversation.item.truncated"))
    assert not log.of(ProviderError)


@pytest.mark.asyncio
async def test_interrupt_never_claims_more_audio_than_the_model_sent(fake, session):
    log = EventLog(session)
    await session.say("Short.")
    [done] = await log.wait_for(ResponseDone)
    sent_ms = sum(a.nbytes for a in log.of(AudioOut)) // 8

    await session.interrupt(item_id=done.item_id, audio_end_ms=sent_ms + 5000)

    [truncate] = await fake.wait_for_received("conversation.item.truncate")
    assert truncate["audio_end_ms"] == sent_ms
    assert not fake.current.of_type("response.cancel")  # nothing was running
    await fake.wait_for(lambda: fake.current.sent_of_type("conversation.item.truncated"))
    assert not log.of(ProviderError)


@pytest.mark.asyncio
async def test_caller_barge_in_ends_the_answer_as_interrupted(fake, session):
    fake.script.speed = 2
    log = EventLog(session)
    await session.say("y" * 300)
    await log.wait_for(AudioOut)
    await _speak(session, caller_turn(speech_ms=100, silence_ms=0))

    await log.wait_for(SpeechStarted)
    [done] = await log.wait_for(ResponseDone)
    assert done.interrupted


@pytest.mark.asyncio
async def test_provider_errors_come_through_and_the_session_stays_open(fake, session):
    log = EventLog(session)
    await session.interrupt(item_id="item_unknown", audio_end_ms=100)
    [error] = await log.wait_for(ProviderError)
    assert error.code == "item_truncate_invalid_item_id"
    await session.say("Still here.")
    await log.wait_for(ResponseDone)


@pytest.mark.asyncio
async def test_drop_yields_unexpected_close_and_reconnect_replays_history(fake, session):
    log = EventLog(session)
    await session.say("Hello.")
    await log.wait_for(ResponseDone)

    await fake.drop()
    [closed] = await log.wait_for(Closed)
    assert closed.unexpected

    history = [Transcript("agent", "Hello."), Transcript("caller", "Where is my order?")]
    await session.connect(history=history)
    assert len(fake.connections) == 2
    items = [e["item"] for e in await fake.wait_for_received("conversation.item.create", count=2)]
    assert items == [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello."}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Where is my order?"}],
        },
    ]
    assert fake.current.of_type("session.update")

    log = EventLog(session)
    await session.say("Let me check.")
    await log.wait_for(AudioOut)
    await session.close()
    await log.finished()
    assert log.events[-1] == Closed(unexpected=False, reason="closed by client")


@pytest.mark.asyncio
async def test_connect_with_a_bad_key_raises_session_error(fake):
    session = OpenAIRealtimeSession(
        SessionConfig(model="gpt-realtime", api_key="wrong", base_url=fake.base_url)
    )
    with pytest.raises(RealtimeSessionError):
        await session.connect()


@pytest.mark.asyncio
async def test_base64_passthrough_forwards_the_exact_carrier_string(fake, session):
    """A carrier → minimal relay → session chain: payloads reach OpenAI byte-identical, and
    AudioOutB64 goes back to the carrier without decoding."""
    fake.script.tool_calls.clear()

    async def relay(ws: ServerConnection) -> None:
        stream_sid = ""
        pump = None

        async def to_carrier() -> None:
            async for event in session.events():
                if isinstance(event, AudioOutB64):
                    await ws.send(
                        json.dumps(
                            {
                                "event": "media",
                                "streamSid": stream_sid,
                                "media": {"payload": event.payload_b64},
                            }
                        )
                    )
                elif isinstance(event, ResponseDone):
                    await ws.send(
                        json.dumps(
                            {"event": "mark", "streamSid": stream_sid, "mark": {"name": "done"}}
                        )
                    )

        async for raw in ws:
            message = json.loads(raw)
            if message["event"] == "start":
                stream_sid = message["start"]["streamSid"]
                pump = asyncio.create_task(to_carrier())
            elif message["event"] == "media":
                await session.send_audio_b64(message["media"]["payload"])
        if pump is not None:
            pump.cancel()

    async with serve(relay, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with TwilioMediaClient(f"ws://127.0.0.1:{port}/media/twilio") as carrier:
            sent: list[str] = []
            turn = caller_turn(speech_ms=300, silence_ms=300)
            for i in range(0, len(turn), 160):
                sent.append(await carrier.send_frame(turn[i : i + 160]))
            await carrier.wait_for(
                lambda: [m for m in carrier.marks if m.name == "done"], timeout=5
            )

    assert fake.current.raw_appends == sent
    assert carrier.received_ms > 0 and not carrier.protocol_errors
    with pytest.raises(ValueError):
        await session.send_audio_b64('AAAA","type":"session.update')


def test_audio_out_b64_decodes_once_and_stays_in_step_when_its_payload_is_set():
    audio = AudioOutB64(base64.b64encode(b"\xff" * 160).decode(), "item-1")
    assert audio.nbytes == 160
    assert audio.payload is audio.payload == b"\xff" * 160

    audio.payload = b"\x7f" * 80

    assert (audio.payload, audio.nbytes) == (b"\x7f" * 80, 80)
    assert base64.b64decode(audio.payload_b64) == b"\x7f" * 80
