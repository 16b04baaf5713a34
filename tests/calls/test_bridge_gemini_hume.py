"""End to end through daphne with the transcoding providers: Gemini Live (mu-law 8 kHz <->
PCM 16/24 kHz, through google-genai over TLS) and Hume EVI (PCM in, WAV chunks out)."""

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django_tenants.utils import tenant_context

from calls.models import ToolInvocation, TranscriptTurn
from tests.calls.bridge_support import make_call, media_url, wait_for_final, wait_until
from tests.fakes.carrier_media import TwilioMediaClient, caller_turn

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]


def _recorded(org, call):
    with tenant_context(org):
        return (
            list(TranscriptTurn.objects.filter(call_id=call.pk).values_list("speaker", flat=True)),
            list(ToolInvocation.objects.filter(call_id=call.pk).values_list("name", "error")),
        )


@pytest.mark.parametrize("provider", ["gemini", "hume"])
async def test_transcoding_providers_hold_a_conversation_with_a_tool_call(
    daphne, fake_gemini, fake_hume, org_a, provider
):
    fake = {"gemini": fake_gemini, "hume": fake_hume}[provider].fake
    call = await sync_to_async(make_call)(org_a, ai_provider=provider, tools=["knowledge_search"])
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    async with client:
        # The greeting arrives as mu-law 8 kHz, ready for the carrier.
        await wait_until(
            lambda: len(client.audio_received) >= 8 * 300, timeout=15, what="greeting audio"
        )
        connection = fake.connections[-1]
        before = len(client.audio_received)
        await client.send_audio(caller_turn(speech_ms=700, silence_ms=900))
        # Caller audio reached the model (as PCM), a tool call ran and the answer came back.
        await wait_until(
            lambda: len(client.audio_received) > before + 8 * 300, timeout=15, what="answer audio"
        )
        assert connection is fake.connections[-1]
        await client.hangup()
    ended = await wait_for_final(org_a, call)
    assert ended.end_reason == "caller_hangup"
    speakers, tools = await sync_to_async(_recorded)(org_a, call)
    assert "agent" in speakers
    assert [name for name, _error in tools] == ["knowledge_search"]
    assert not client.protocol_errors
