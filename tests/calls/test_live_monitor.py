"""The operator's live view of a call (/ws/calls/<id>/live/, calls.consumers_live): on the
organization's own domain, for its members only, with the turns so far, each new turn and
the end of the call.

The first tests drive the WebSocket application in this process (Channels' communicator)
with the headers a browser sends: the Host, the Origin of the console's page and the session
cookie of a console login. The last one is a real call through daphne, the carrier's media
stream and the fake model, watched over a real socket."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from calls import services
from calls.control import control_group, transcript_group
from calls.models import Call, TranscriptTurn
from organizations.models import Role
from organizations.services import member_add
from tests.calls.bridge_support import make_call, media_url, wait_until
from tests.fakes.carrier_media import TwilioMediaClient, caller_turn
from tests.organizations.factories import UserFactory
from voiceagents.routing import websocket_application

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]

ALPHA = "alpha.localhost"


@pytest.fixture(autouse=True)
async def _close_the_database_thread_connections(committed_db):
    """The consumers in this process use the ORM on asgiref's one database thread: close its
    connections after each test, or they keep the test database from being dropped."""
    yield
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


def _session_of(org, role: str | None) -> str:
    """A console login's session cookie for a new user with ``role`` in ``org`` (None: a user
    of no organization)."""
    user = UserFactory()
    if role is not None:
        member_add(organization=org, user=user, role=role)
    client = Client(HTTP_HOST=ALPHA)
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _live_call(org, *, turns=()) -> Call:
    call = make_call(org)
    with tenant_context(org):
        Call.objects.filter(pk=call.pk).update(status="in_progress")
        for speaker, text, start_ms in turns:
            TranscriptTurn.objects.create(
                call=call, speaker=speaker, text=text, start_ms=start_ms, end_ms=start_ms + 900
            )
        return Call.objects.get(pk=call.pk)


def _socket(call_id: int, *, session: str | None, host: str = ALPHA, origin: str | None = None):
    headers = [(b"host", host.encode()), (b"origin", (origin or f"http://{host}").encode())]
    if session is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    return WebsocketCommunicator(
        websocket_application(), f"/ws/calls/{call_id}/live/", headers=headers
    )


async def _refusal(socket: WebsocketCommunicator) -> int:
    """The close code of a socket refused before the handshake completed."""
    connected, code = await socket.connect(timeout=10)
    assert not connected
    await socket.disconnect(code=1006, timeout=5)  # the server's side of the refusal
    return code


async def test_a_member_gets_the_turns_so_far_then_each_new_turn_and_the_end(org_a):
    call = await database_sync_to_async(_live_call)(
        org_a, turns=[("agent", "Hello Ada, thanks for calling.", 0)]
    )
    session = await database_sync_to_async(_session_of)(org_a, Role.VIEWER)
    socket = _socket(call.pk, session=session)
    connected, _ = await socket.connect()
    assert connected

    snapshot = await socket.receive_json_from(timeout=5)
    assert snapshot["type"] == "snapshot"
    assert snapshot["call"] == {
        "id": call.pk,
        "status": "in_progress",
        "end_reason": "",
        "final": False,
    }
    assert [t["text"] for t in snapshot["turns"]] == ["Hello Ada, thanks for calling."]

    # The bridge publishes a turn to the call's group.
    await get_channel_layer().group_send(
        transcript_group(schema_name=org_a.schema_name, call_id=call.pk),
        {
            "type": "call.transcript",
            "speaker": "caller",
            "text": "I have a question about my order.",
            "start_ms": 2400,
            "end_ms": 3900,
            "call_id": call.pk,
        },
    )
    turn = await socket.receive_json_from(timeout=5)
    assert turn == {
        "type": "turn",
        "speaker": "caller",
        "text": "I have a question about my order.",
        "start_ms": 2400,
        "end_ms": 3900,
    }

    # The call ends: the final status, then the socket closes.
    def end():
        with tenant_context(org_a):
            services.call_end(call_id=call.pk)

    await database_sync_to_async(end)()
    await get_channel_layer().group_send(
        transcript_group(schema_name=org_a.schema_name, call_id=call.pk),
        {"type": "call.ended", "end_reason": "agent_hangup", "call_id": call.pk},
    )
    turns = await socket.receive_json_from(timeout=5)
    assert turns["type"] == "turns"
    status = await socket.receive_json_from(timeout=5)
    assert status["type"] == "status"
    assert status["call"]["final"] and status["call"]["status"] == "completed"
    closed = await socket.receive_output(timeout=5)
    assert closed["type"] == "websocket.close"
    await socket.disconnect()


async def test_the_bridge_is_asked_for_the_turns_it_has_not_written_yet(
    org_a, _channel_layer_namespace
):
    call = await database_sync_to_async(_live_call)(org_a)
    layer = get_channel_layer()
    bridge = await layer.new_channel()
    await layer.group_add(control_group(schema_name=org_a.schema_name, call_id=call.pk), bridge)
    session = await database_sync_to_async(_session_of)(org_a, Role.MEMBER)
    socket = _socket(call.pk, session=session)
    assert (await socket.connect())[0]
    await socket.receive_json_from(timeout=5)  # the snapshot

    request = await asyncio.wait_for(layer.receive(bridge), 5)
    assert (request["type"], request["action"]) == ("call.control", "replay")
    await layer.send(
        request["reply_to"],
        {
            "type": "call.turns",
            "turns": [{"speaker": "agent", "text": "Hello!", "start_ms": 0, "end_ms": 800}],
        },
    )
    replay = await socket.receive_json_from(timeout=5)
    assert replay == {
        "type": "turns",
        "turns": [{"speaker": "agent", "text": "Hello!", "start_ms": 0, "end_ms": 800}],
    }
    await socket.disconnect()


async def test_an_anonymous_socket_is_refused(org_a):
    call = await database_sync_to_async(_live_call)(org_a)
    assert await _refusal(_socket(call.pk, session=None)) == 4403


async def test_a_user_of_another_organization_is_refused(org_a, org_b):
    call = await database_sync_to_async(_live_call)(org_a)
    beta_member = await database_sync_to_async(_session_of)(org_b, Role.OWNER)
    no_organization = await database_sync_to_async(_session_of)(org_a, None)
    for session in (beta_member, no_organization):
        assert await _refusal(_socket(call.pk, session=session)) == 4403


async def test_another_organizations_call_is_not_found(org_a, org_b):
    # Alpha has no call at all (committed_db starts empty), beta has this one.
    theirs = await database_sync_to_async(_live_call)(org_b)
    session = await database_sync_to_async(_session_of)(org_a, Role.OWNER)
    assert await _refusal(_socket(theirs.pk, session=session)) == 4404


async def test_a_page_of_another_origin_cannot_use_the_operators_session(org_a):
    call = await database_sync_to_async(_live_call)(org_a)
    session = await database_sync_to_async(_session_of)(org_a, Role.OWNER)
    socket = _socket(call.pk, session=session, origin="http://evil.example")
    assert await _refusal(socket) == 4403


async def test_a_turn_of_a_real_call_reaches_the_operator(daphne, fake_openai, script, org_a):
    """Through daphne: the carrier's media stream bridged to the fake model, and an operator's
    socket on alpha's domain that sees the greeting, the caller's turn, and the end."""
    from websockets.asyncio.client import connect

    call = await database_sync_to_async(make_call)(org_a)
    session = await database_sync_to_async(_session_of)(org_a, Role.VIEWER)
    origin = f"http://{ALPHA}:{daphne.port}"
    carrier = TwilioMediaClient(media_url(daphne, org_a, call))
    received: list[dict] = []

    async with carrier:
        await wait_until(lambda: carrier.audio_received, what="greeting audio")
        async with connect(
            f"ws://{ALPHA}:{daphne.port}/ws/calls/{call.pk}/live/",
            host="127.0.0.1",
            port=daphne.port,
            origin=origin,
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
        ) as operator:

            async def listen():
                import json

                async for raw in operator:
                    received.append(json.loads(raw))

            listening = asyncio.create_task(listen())
            await wait_until(
                lambda: any("Hello Ada" in t["text"] for t in _turns_seen(received)),
                what="the greeting's turn (snapshot, replay or live)",
            )
            await carrier.send_audio(caller_turn(speech_ms=600, silence_ms=700))
            await wait_until(
                lambda: any(m["type"] == "turn" and m["speaker"] == "caller" for m in received),
                what="the caller's turn, live",
            )
            await carrier.hangup()
            await asyncio.wait_for(listening, 15)  # the server closes once the call is final

    assert received[0]["type"] == "snapshot"
    assert received[-1]["type"] == "status" and received[-1]["call"]["final"]
    assert {"speaker": "caller", "text": "I have a question about my order."} in [
        {"speaker": t["speaker"], "text": t["text"]} for t in _turns_seen(received)
    ]


def _turns_seen(messages: list[dict]) -> list[dict]:
    turns = []
    for message in messages:
        if message["type"] in ("snapshot", "turns"):
            turns.extend(message["turns"])
        elif message["type"] == "turn":
            turns.append(message)
    return turns
