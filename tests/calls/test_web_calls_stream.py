"""A web call end to end through daphne: the browser's stream (Twilio's protocol without a
call sid, on /ws/web/media/<token>) reaches the same consumer and bridge as a phone call, the
(fake) OpenAI model answers, and the operator's hang-up ends the call as completed."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django_tenants.utils import tenant_context

from agents.services import agent_create
from calls.models import Call, TranscriptTurn
from calls.services.web_calls import web_call_start
from organizations.models import Organization
from tests.browser.conftest import make_admin
from tests.calls.bridge_support import wait_for_final, wait_until
from tests.fakes.carrier_media import TwilioMediaClient, caller_turn

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]


class BrowserMediaClient(TwilioMediaClient):
    """What static/agents/talk.js sends: Twilio's frames, with no carrier ids."""

    async def _open(self) -> None:
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send(
            {
                "event": "start",
                "streamSid": self.stream_sid,
                "start": {
                    "streamSid": self.stream_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        )

    async def hangup(self) -> None:
        await self._send({"event": "stop", "streamSid": self.stream_sid})
        await self.close()


def _start(org: Organization) -> tuple[Call, str]:
    user = make_admin(org, role="member")
    with tenant_context(org):
        agent = agent_create(
            name="Front desk",
            system_prompt="You answer questions.",
            first_message="Hi, this is the front desk.",
        )
        web_call = web_call_start(agent=agent, user=user)
    return web_call.call, urlsplit(web_call.stream_url).path


def _turns(org: Organization, call: Call) -> list[dict[str, Any]]:
    with tenant_context(org):
        return list(TranscriptTurn.objects.filter(call=call).values("speaker", "text"))


async def test_a_web_call_talks_to_the_model_and_ends_completed_when_the_operator_hangs_up(
    daphne, fake_openai, script, settings, org_a
):
    settings.OPENAI_API_KEY = fake_openai.api_key
    org = org_a
    call, path = await sync_to_async(_start)(org)
    client = BrowserMediaClient(daphne.ws_url + path)
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting audio")
        says = fake_openai.current.of_type("response.create")
        assert any(
            "Hi, this is the front desk." in (e.get("response") or {}).get("instructions", "")
            for e in says
        ), says
        live = await wait_for_in_progress(org, call)
        assert (live.provider, live.provider_call_id) == ("web", "")
        await wait_until(lambda: client.queued_ms == 0 and client.marks, what="greeting played")

        before = len(client.audio_received)
        await client.send_audio(caller_turn(speech_ms=600, silence_ms=700))
        await wait_until(lambda: len(client.audio_received) > before + 800, what="answer")
        await client.hangup()

    ended = await wait_for_final(org, call)
    assert (ended.direction, ended.status, ended.end_reason) == (
        "web",
        "completed",
        "caller_hangup",
    )
    assert ended.answered_at is not None and ended.duration_seconds is not None
    assert ended.provider_call_id == ""
    turns = await sync_to_async(_turns)(org, call)
    assert {"speaker": "agent", "text": "Hi, this is the front desk."} in turns
    assert {"speaker": "caller", "text": "I have a question about my order."} in turns
    assert not client.protocol_errors


async def test_a_web_stream_token_opens_the_stream_once(
    daphne, fake_openai, script, settings, org_a
):
    settings.OPENAI_API_KEY = fake_openai.api_key
    org = org_a
    call, path = await sync_to_async(_start)(org)
    async with BrowserMediaClient(daphne.ws_url + path) as first:
        await wait_until(lambda: first.audio_received, what="greeting audio")
        second = BrowserMediaClient(daphne.ws_url + path)
        with pytest.raises(Exception, match="403"):
            await second.connect()
        await first.hangup()
    ended = await wait_for_final(org, call)
    assert ended.status == "completed"


async def test_an_operator_ending_a_web_call_closes_the_browsers_stream(
    daphne, fake_openai, script, settings, org_a
):
    """No carrier hangs up a browser: ending the call (the API, the call's page) tells its
    bridge, which closes the stream, rather than letting the agent talk on."""
    from calls.services import call_end

    settings.OPENAI_API_KEY = fake_openai.api_key
    org = org_a
    call, path = await sync_to_async(_start)(org)
    client = BrowserMediaClient(daphne.ws_url + path)
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting audio")
        await wait_for_in_progress(org, call)

        def end() -> Call:
            with tenant_context(org):
                return call_end(call_id=call.pk)

        ended = await sync_to_async(end)()
        assert (ended.status, ended.end_reason) == ("completed", "agent_hangup")
        await wait_until(lambda: client.closed_at, what="the stream closed by the server")
    final = await wait_for_final(org, call)
    assert (final.status, final.end_reason) == ("completed", "agent_hangup")


async def wait_for_in_progress(org: Organization, call: Call, *, tries: int = 200) -> Call:
    def read() -> Call:
        with tenant_context(org):
            return Call.objects.get(pk=call.pk)

    for _ in range(tries):
        fresh = await sync_to_async(read)()
        if fresh.status == "in_progress":
            return fresh
        await asyncio.sleep(0.05)
    raise AssertionError(f"call {call.pk} never in progress: {fresh.status}")
