"""End to end through daphne: a carrier media stream bridged to the (fake) OpenAI Realtime
model, through the real openai SDK."""

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django_tenants.utils import tenant_context

from calls.models import CallEvent, ToolInvocation, TranscriptTurn
from tests.calls.bridge_support import make_call, media_url, wait_for_final, wait_until
from tests.fakes.carrier_media import TwilioMediaClient, caller_turn

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]


def _events(org, call):
    with tenant_context(org):
        return list(CallEvent.objects.filter(call=call).values_list("name", flat=True))


def _tool_invocation(org, call, name):
    with tenant_context(org):
        return ToolInvocation.objects.get(call_id=call.pk, name=name)


def _turns(org, call):
    with tenant_context(org):
        return list(TranscriptTurn.objects.filter(call=call).values("speaker", "text"))


@pytest.mark.parametrize("server_name", ["daphne", "uvicorn_server"])
async def test_greeting_is_heard_and_a_conversation_is_recorded(
    request, server_name, fake_openai, script, org_a
):
    # Both ASGI servers make run can use serve the same application.
    server = request.getfixturevalue(server_name)
    call = await sync_to_async(make_call)(org_a)
    client = TwilioMediaClient(media_url(server, org_a, call))
    async with client:
        # The rendered first message is what the model is asked to say.
        await wait_until(lambda: client.audio_received, what="greeting audio")
        connection = fake_openai.current
        update = connection.of_type("session.update")[0]["session"]
        assert "The caller is Ada." in update["instructions"]
        assert update["audio"]["input"]["format"]["type"] == "audio/pcmu"
        says = [
            e
            for e in connection.of_type("response.create")
            if "Hello Ada" in (e.get("response") or {}).get("instructions", "")
        ]
        assert says, connection.of_type("response.create")
        await wait_until(lambda: client.queued_ms == 0 and client.marks, what="greeting played")

        # The caller speaks: the audio reaches the model unchanged, the answer comes back.
        before = len(client.audio_received)
        await client.send_audio(caller_turn(speech_ms=600, silence_ms=700))
        await wait_until(lambda: len(client.audio_received) > before + 800, what="answer")
        sent = {payload for payload in connection.raw_appends}
        assert len(sent) > 10
        await client.hangup()

    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.end_reason) == ("completed", "caller_hangup")
    assert ended.usage, "usage is recorded"
    turns = await sync_to_async(_turns)(org_a, call)
    assert {"speaker": "caller", "text": "I have a question about my order."} in turns
    assert any(t["speaker"] == "agent" and "Hello Ada" in t["text"] for t in turns)
    assert not client.protocol_errors
    # The server's metrics sampled the audio path in both directions.
    import httpx

    async with httpx.AsyncClient(base_url=server.base_url) as http:
        metrics = (await http.get("/metrics")).text
    for direction in ("to_model", "to_carrier"):
        line = next(
            line
            for line in metrics.splitlines()
            if line.startswith(f'voiceagents_bridge_frame_seconds_count{{direction="{direction}"}}')
        )
        assert float(line.rsplit(" ", 1)[1]) >= 1, line


async def test_bad_and_reused_tokens_are_refused(daphne, org_a):
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    call = await sync_to_async(make_call)(org_a)
    with pytest.raises(InvalidStatus):
        async with connect(f"{daphne.ws_url}/ws/twilio/media/not-a-token"):
            pass
    url = media_url(daphne, org_a, call)
    client = TwilioMediaClient(url)
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        with pytest.raises(InvalidStatus):
            async with connect(url):
                pass
        await client.hangup()
    await wait_for_final(org_a, call)


async def test_end_call_tool_hangs_up_after_the_goodbye(daphne, fake_openai, script, org_a):
    script.tool_calls = {1: ("end_call", {"reason": "done"})}
    call = await sync_to_async(make_call)(org_a, tools=["end_call"])
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        await client.send_audio(caller_turn(speech_ms=600, silence_ms=700))
        await wait_until(lambda: client.closed_at is not None, timeout=15, what="hangup")
    ended = await wait_for_final(org_a, call)
    assert ended.end_reason == "agent_hangup"
    invocation = await sync_to_async(_tool_invocation)(org_a, call, "end_call")
    assert invocation.error == ""


async def test_barge_in_clears_the_carrier_and_truncates_at_what_was_heard(
    daphne, fake_openai, script, org_a
):
    # A long greeting, streamed faster than real time, so most of it is still queued at the
    # carrier when the caller starts talking.
    call = await sync_to_async(make_call)(
        org_a, first_message="Hello! " + "This is a rather long greeting that goes on. " * 6
    )
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.played_ms >= 800, what="greeting playing")
        await client.send_audio(caller_turn(speech_ms=600, silence_ms=700))
        await wait_until(lambda: client.clears, what="clear")
        heard_at_clear = client.played_ms
        truncates = await fake_openai.wait_for_received("conversation.item.truncate")
        audio_end_ms = truncates[0]["audio_end_ms"]
        # What the caller heard when the clear arrived (marks every 100 ms + elapsed time).
        assert abs(audio_end_ms - heard_at_clear) <= 250, (audio_end_ms, heard_at_clear)
        assert audio_end_ms < len(client.audio_received) / 8
        await client.hangup()
    await wait_for_final(org_a, call)
    assert "barge_in" in await sync_to_async(_events)(org_a, call)


async def test_failing_and_unknown_tools_return_errors_and_the_call_goes_on(
    daphne, fake_openai, script, org_a
):
    script.tool_calls = {
        1: ("knowledge_search", {"query": "  "}),
        2: ("launch_rocket", {"when": "now"}),
    }
    call = await sync_to_async(make_call)(org_a, tools=["knowledge_search"])
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        for turn in (1, 2):
            await client.send_audio(caller_turn(speech_ms=600, silence_ms=700, seed=turn))
            await fake_openai.wait_for(
                lambda n=turn: (
                    len(fake_openai.current.of_type("conversation.item.create")) >= n
                    and any(
                        e["item"]["type"] == "function_call_output"
                        for e in fake_openai.current.of_type("conversation.item.create")[n - 1 :]
                    )
                ),
                timeout=10,
            )
        outputs = [
            e["item"]["output"]
            for e in fake_openai.current.of_type("conversation.item.create")
            if e["item"]["type"] == "function_call_output"
        ]
        assert "non-empty 'query'" in outputs[0]
        assert "Unknown tool 'launch_rocket'" in outputs[1]
        # The model carried on after each error (the follow-up answer was spoken).
        await wait_until(
            lambda: len(fake_openai.current.sent_of_type("response.done")) >= 4, what="follow-ups"
        )
        await client.hangup()
    ended = await wait_for_final(org_a, call)
    assert ended.end_reason == "caller_hangup"
    failed = await sync_to_async(_tool_invocation)(org_a, call, "launch_rocket")
    assert failed.error.startswith("Unknown tool")


async def test_voicemail_leaves_the_message_and_hangs_up(daphne, fake_openai, script, org_a):
    call = await sync_to_async(make_call)(
        org_a, voicemail_message="Hi {{customer_name}}, please call us back."
    )
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        from tests.calls.bridge_support import send_control

        await send_control(org_a, call, action="machine_detected")
        await wait_until(lambda: client.closed_at is not None, timeout=15, what="hangup")
    says = [
        e["response"]["instructions"]
        for e in fake_openai.current.of_type("response.create")
        if "instructions" in (e.get("response") or {})
    ]
    assert any("Hi Ada, please call us back." in text for text in says), says
    ended = await wait_for_final(org_a, call)
    assert ended.end_reason == "voicemail"


async def test_silence_prompts_then_says_goodbye_and_hangs_up(daphne, fake_openai, script, org_a):
    from tests.calls.bridge_support import agent_tweak

    call = await sync_to_async(make_call)(org_a, first_message="")
    await sync_to_async(agent_tweak)(org_a, call, silence_timeout_seconds=1)
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.closed_at is not None, timeout=20, what="hangup")
    texts = [
        c.get("text", "")
        for e in fake_openai.current.of_type("conversation.item.create")
        for c in e["item"].get("content", [])
    ]
    assert any("still there" in t for t in texts) and any("goodbye" in t for t in texts), texts
    ended = await wait_for_final(org_a, call)
    assert ended.end_reason == "agent_hangup"
    assert (await sync_to_async(_events)(org_a, call)).count("silence_timeout") == 2


async def test_max_duration_says_goodbye_then_hangs_up(daphne, fake_openai, script, org_a):
    from tests.calls.bridge_support import agent_tweak

    call = await sync_to_async(make_call)(org_a, first_message="")
    await sync_to_async(agent_tweak)(org_a, call, max_call_duration_seconds=2)
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        await client.send_silence(1000)
        await wait_until(lambda: client.closed_at is not None, timeout=20, what="hangup")
    texts = [
        c.get("text", "")
        for e in fake_openai.current.of_type("conversation.item.create")
        for c in e["item"].get("content", [])
    ]
    assert any("time limit" in t for t in texts), texts
    ended = await wait_for_final(org_a, call)
    assert ended.end_reason == "max_duration"


async def test_provider_drop_reconnects_with_the_conversation_so_far(
    daphne, fake_openai, script, org_a
):
    call = await sync_to_async(make_call)(org_a)
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        await client.send_audio(caller_turn(speech_ms=600, silence_ms=700))
        await fake_openai.wait_for(
            lambda: (
                fake_openai.current.sent_of_type("response.output_audio_transcript.done")
                and len(fake_openai.current.sent_of_type("response.done")) >= 2
            ),
            timeout=10,
        )
        connections = len(fake_openai.connections)
        await fake_openai.drop()
        await fake_openai.wait_for(lambda: len(fake_openai.connections) > connections, timeout=10)
        replayed = await fake_openai.wait_for_received("conversation.item.create")
        assert any("order" in str(item) for item in replayed), replayed
        before = len(client.audio_received)
        await client.send_audio(caller_turn(speech_ms=600, silence_ms=700, seed=3))
        await wait_until(lambda: len(client.audio_received) > before, what="answer after reconnect")
        await client.hangup()
    ended = await wait_for_final(org_a, call)
    assert ended.end_reason == "caller_hangup"
    events = await sync_to_async(_events)(org_a, call)
    assert "provider_dropped" in events and "provider_reconnected" in events


async def test_malformed_frames_are_skipped_and_dtmf_reaches_the_model(
    daphne, fake_openai, script, org_a
):
    call = await sync_to_async(make_call)(org_a)
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        await client.ws.send("this is not json")
        await client.ws.send(b"\x00\x01binary")
        await client.ws.send('{"event": "media"}')
        await client.ws.send('{"event": "surprise"}')
        await client.send_dtmf("7")
        created = await fake_openai.wait_for_received("conversation.item.create")
        assert any("key 7" in str(item) for item in created)
        await client.send_audio(caller_turn(speech_ms=600, silence_ms=700))
        await fake_openai.wait_for(lambda: fake_openai.current.appends > 20, timeout=5)
        await client.hangup()
    ended = await wait_for_final(org_a, call)
    assert ended.end_reason == "caller_hangup"
    assert "malformed_frame" in await sync_to_async(_events)(org_a, call)


async def test_carrier_socket_closing_without_stop_finalizes_the_call_once(
    daphne, fake_openai, script, org_a
):
    call = await sync_to_async(make_call)(org_a)
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.end_reason) == ("completed", "caller_hangup")
    events = await sync_to_async(_events)(org_a, call)
    assert events.count("call_ended") == 1
    await fake_openai.wait_for(lambda: fake_openai.current.closed, timeout=5)


async def test_plivo_stream_is_bridged_too(daphne, fake_openai, script, org_a):
    from tests.fakes.carrier_media import PlivoMediaClient

    call = await sync_to_async(make_call)(org_a, provider="plivo")
    client = PlivoMediaClient(media_url(daphne, org_a, call, provider="plivo"))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        before = len(client.audio_received)
        await client.send_audio(caller_turn(speech_ms=600, silence_ms=700))
        await wait_until(lambda: len(client.audio_received) > before + 800, what="answer")
        await wait_until(lambda: client.marks, what="checkpoints played")
        await client.hangup()
    ended = await wait_for_final(org_a, call)
    assert ended.end_reason == "caller_hangup"
    assert not client.protocol_errors
