"""How a media socket ends, however it ends: refused before the handshake (unknown path, no
token), a malformed or repeated ``start``, an exception in a handler, the server shutting
down. Every call that got a bridge is finalized exactly once and the active-calls gauge comes
back to where it was."""

from __future__ import annotations

import asyncio
import json
import signal

import httpx
import pytest
from channels.db import database_sync_to_async as sync_to_async
from django_tenants.utils import tenant_context
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from calls.models import CallEvent
from tests.calls.bridge_support import make_call, media_url, wait_for_final, wait_until
from tests.fakes.carrier_media import PlivoMediaClient, TwilioMediaClient
from tests.servers import DaphneServer

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]

SERVERS = ["daphne", "uvicorn_server"]


async def active_calls(server) -> float:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as http:
        metrics = (await http.get("/metrics")).text
    line = next(
        line for line in metrics.splitlines() if line.startswith("voiceagents_active_calls ")
    )
    return float(line.split()[1])


def event_names(org, call) -> list[str]:
    with tenant_context(org):
        return list(CallEvent.objects.filter(call_id=call.pk).values_list("name", flat=True))


async def wait_for_gauge(server, value: float) -> None:
    """The active-calls gauge is back at ``value`` or below: the server is shared by the
    session's tests, and another test's call ending meanwhile only lowers it, while a call
    counted twice or never uncounted keeps it above."""
    for _ in range(100):
        if await active_calls(server) <= value:
            return
        await asyncio.sleep(0.05)
    assert await active_calls(server) <= value


# --- refusals before the handshake ----------------------------------------------------------


@pytest.mark.parametrize("server_name", SERVERS)
@pytest.mark.parametrize(
    "path", ["/ws/nothing-here", "/ws/twilio/media/", "/ws/twilio/media", "/ws/plivo/media/"]
)
async def test_unknown_paths_and_a_missing_token_are_refused_before_the_handshake(
    request, server_name, path
):
    server = request.getfixturevalue(server_name)
    before = server.log_path.stat().st_size

    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{server.ws_url}{path}"):
            pass

    # uvicorn lets us answer the upgrade with a 404; daphne sends its 403 denial.
    assert refused.value.response.status_code == (404 if server.server == "uvicorn" else 403)
    await asyncio.sleep(0.2)
    log = server.log_path.read_text()[before:]
    assert "Traceback" not in log and "No route found" not in log, log


@pytest.mark.parametrize("server_name", SERVERS)
async def test_a_bad_token_is_refused_with_a_403(request, server_name):
    server = request.getfixturevalue(server_name)
    before = server.log_path.stat().st_size

    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{server.ws_url}/ws/twilio/media/not-a-token"):
            pass

    assert refused.value.response.status_code == 403
    assert "Traceback" not in server.log_path.read_text()[before:]


# --- malformed and repeated start frames ----------------------------------------------------


def twilio_start(**start) -> dict:
    body = {
        "streamSid": "MZ" + "1" * 32,
        "accountSid": "AC" + "0" * 32,
        "callSid": "CA" + "2" * 32,
        "tracks": ["inbound"],
        "customParameters": {"callId": "1"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    body.update(start)
    return {"event": "start", "sequenceNumber": "1", "start": body}


MALFORMED_TWILIO_STARTS = {
    "start is a string": ({"event": "start", "start": "MZ123"}, "start is a string"),
    "mediaFormat is a string": (
        twilio_start(mediaFormat="audio/x-mulaw"),
        "start.mediaFormat is a string",
    ),
    "customParameters is a list": (
        twilio_start(customParameters=["callId", "1"]),
        "start.customParameters is a list",
    ),
    "no callSid": (twilio_start(callSid=None), "start.callSid is missing"),
    "no streamSid": (twilio_start(streamSid=""), "streamSid is missing"),
    "sampleRate is text": (
        twilio_start(mediaFormat={"encoding": "audio/x-mulaw", "sampleRate": "fast"}),
        "start.mediaFormat.sampleRate",
    ),
}


async def _send_and_wait_closed(url: str, frames: list[dict]) -> int | None:
    async with connect(url) as ws:
        for frame in frames:
            await ws.send(json.dumps(frame))
        await asyncio.wait_for(ws.wait_closed(), 10)
    return ws.close_code


@pytest.mark.parametrize("case", MALFORMED_TWILIO_STARTS, ids=list(MALFORMED_TWILIO_STARTS))
async def test_a_malformed_twilio_start_fails_the_call_and_closes_the_socket(
    daphne, fake_openai, org_a, case
):
    frame, reason = MALFORMED_TWILIO_STARTS[case]
    call = await sync_to_async(make_call)(org_a)
    gauge = await active_calls(daphne)
    sessions = len(fake_openai.connections)

    code = await _send_and_wait_closed(
        media_url(daphne, org_a, call),
        [{"event": "connected", "protocol": "Call", "version": "1.0.0"}, frame],
    )

    assert code == 4403  # closed by us, not dropped (1006)
    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.end_reason, ended.error_code) == (
        "failed",
        "failed",
        "invalid_start_frame",
    )
    assert reason in ended.error_message
    events = await sync_to_async(event_names)(org_a, call)
    assert events.count("media_stream_start_invalid") == 1, events
    assert len(fake_openai.connections) == sessions  # no model session was opened
    await wait_for_gauge(daphne, gauge)


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        ({"event": "start", "start": ["s1", "c1"]}, "start is a list"),
        ({"event": "start", "start": {"callId": "c1"}}, "start.streamId is missing"),
        (
            {
                "event": "start",
                "start": {"callId": "c1", "streamId": "s1"},
                "extra_headers": ["a=1"],
            },
            "extra_headers is not a string",
        ),
    ],
    ids=["start is a list", "no streamId", "extra_headers is a list"],
)
async def test_a_malformed_plivo_start_fails_the_call(uvicorn_server, org_a, start, reason):
    call = await sync_to_async(make_call)(org_a, provider="plivo")

    code = await _send_and_wait_closed(
        media_url(uvicorn_server, org_a, call, provider="plivo"), [start]
    )

    assert code == 4403
    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.error_code) == ("failed", "invalid_start_frame")
    assert reason in ended.error_message
    await wait_for_gauge(uvicorn_server, 0)


@pytest.mark.parametrize("server_name", SERVERS)
async def test_a_repeated_start_opens_no_second_model_session(
    request, server_name, fake_openai, script, org_a
):
    server = request.getfixturevalue(server_name)
    call = await sync_to_async(make_call)(org_a)
    gauge = await active_calls(server)
    sessions = len(fake_openai.connections)
    client = TwilioMediaClient(media_url(server, org_a, call))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        assert await active_calls(server) == gauge + 1
        for _ in range(2):
            await client._send(twilio_start(streamSid=client.stream_sid, callSid=client.call_sid))
        await client.send_silence(200)
        assert await active_calls(server) == gauge + 1
        await client.hangup()

    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.end_reason) == ("completed", "caller_hangup")
    assert len(fake_openai.connections) == sessions + 1
    events = await sync_to_async(event_names)(org_a, call)
    assert events.count("media_stream_started") == 1, events
    assert events.count("media_stream_start_repeated") == 1, events
    await wait_for_gauge(server, gauge)


async def test_a_plivo_stream_closed_before_any_start_still_ends_the_call(uvicorn_server, org_a):
    call = await sync_to_async(make_call)(org_a, provider="plivo")
    url = media_url(uvicorn_server, org_a, call, provider="plivo")

    async with connect(url):
        pass

    ended = await wait_for_final(org_a, call)
    assert ended.is_final
    await wait_for_gauge(uvicorn_server, 0)


# --- an exception in a handler, a cancelled consumer (in process) ---------------------------


@pytest.fixture
def in_process_bridge(settings, fake_openai, _channel_layer_namespace):
    """The WebSocket application in this process (channels' communicator), its bridge talking
    to the fake model: here a handler can be made to fail and the consumer's task cancelled."""
    from channels.testing import WebsocketCommunicator

    from voiceagents.routing import websocket_application

    settings.OPENAI_API_KEY = fake_openai.api_key
    settings.OPENAI_BASE_URL = fake_openai.base_url

    def communicator(path: str) -> WebsocketCommunicator:
        return WebsocketCommunicator(websocket_application(), path)

    return communicator


async def _started(communicator, call_sid: str = "CA" + "3" * 32) -> None:
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    await communicator.send_to(text_data=json.dumps(twilio_start(callSid=call_sid)))
    # The greeting's first audio: the session is up.
    while True:
        frame = json.loads(await communicator.receive_from(timeout=10))
        if frame["event"] == "media":
            return


async def test_an_exception_in_a_handler_finalizes_the_call(
    in_process_bridge, script, org_a, monkeypatch
):
    from calls.bridge.core import CallBridge
    from voiceagents.metrics import ACTIVE_CALLS

    async def broken(self, digit):
        raise RuntimeError("boom")

    monkeypatch.setattr(CallBridge, "dtmf", broken)
    call = await sync_to_async(make_call)(org_a)
    gauge = ACTIVE_CALLS._value.get()
    communicator = in_process_bridge(media_url_path(org_a, call))
    await _started(communicator)
    assert ACTIVE_CALLS._value.get() == gauge + 1

    await communicator.send_to(text_data=json.dumps({"event": "dtmf", "dtmf": {"digit": "5"}}))

    closed = await _close_message(communicator)
    assert closed["code"] == 1011
    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.end_reason, ended.error_code) == (
        "failed",
        "failed",
        "bridge_error",
    )
    assert ACTIVE_CALLS._value.get() == gauge
    await communicator.wait(timeout=5)


async def test_a_cancelled_consumer_still_finalizes_the_call(in_process_bridge, script, org_a):
    from voiceagents.metrics import ACTIVE_CALLS

    call = await sync_to_async(make_call)(org_a)
    gauge = ACTIVE_CALLS._value.get()
    communicator = in_process_bridge(media_url_path(org_a, call))
    await _started(communicator)

    communicator.future.cancel()  # what daphne does to its applications when it stops

    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.error_code) == ("failed", "server_shutdown")
    await wait_until(lambda: ACTIVE_CALLS._value.get() == gauge, what="gauge back")


def media_url_path(org, call, provider: str = "twilio") -> str:
    from calls.stream_tokens import stream_token_issue

    token = stream_token_issue(schema_name=org.schema_name, call_id=call.pk)
    return f"/ws/{provider}/media/{token}"


async def _close_message(communicator) -> dict:
    while True:
        message = await communicator.receive_output(timeout=10)
        if message["type"] == "websocket.close":
            return message


# --- the server shutting down ---------------------------------------------------------------


async def test_a_server_shutdown_finalizes_its_live_calls(_server_env, fake_openai, script, org_a):
    server = DaphneServer(env=_server_env, server="uvicorn", name="shutdown").start()
    try:
        call = await sync_to_async(make_call)(org_a)
        client = TwilioMediaClient(media_url(server, org_a, call))
        async with client:
            await wait_until(lambda: client.audio_received, what="greeting")
            server.process.send_signal(signal.SIGTERM)
            await wait_until(lambda: client.closed_at is not None, timeout=15, what="close")
        await asyncio.to_thread(server.process.wait, 15)
    finally:
        server.stop()

    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.end_reason, ended.error_code) == (
        "failed",
        "failed",
        "server_shutdown",
    )
    assert "Traceback" not in server.log_tail(20000), server.log_tail()


async def test_a_plivo_call_with_a_valid_start_still_works(uvicorn_server, script, org_a):
    call = await sync_to_async(make_call)(org_a, provider="plivo")
    client = PlivoMediaClient(media_url(uvicorn_server, org_a, call, provider="plivo"))
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        await client.hangup()

    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.end_reason) == ("completed", "caller_hangup")
