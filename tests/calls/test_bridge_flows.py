"""Whole call flows through daphne: the API places a call with the (fake) carrier, the carrier
fetches the answer document, streams the audio to the bridge and sends its signed callbacks."""

import httpx
import pytest
from channels.db import database_sync_to_async as sync_to_async
from django_tenants.utils import tenant_context

from calls.models import CallEvent
from calls.services import phone_number_create
from organizations.services import api_key_create
from tests.calls.bridge_support import make_call, media_url, wait_for_final, wait_until
from tests.calls.telephony_support import stream_of
from tests.fakes.carrier_media import TwilioMediaClient
from tests.fakes.twilio_rest import TwilioCallbackDriver

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]


def _setup_outbound(org):
    from agents.services import agent_create

    with tenant_context(org):
        agent = agent_create(
            name="Collections",
            first_message="Hello {{customer_name}}!",
            voicemail_message="Hi {{customer_name}}, this is Acme. Please call us back.",
        )
        phone_number_create(number="+14155550100", provider="twilio", agent_id=agent.pk)
    _key, raw = api_key_create(organization=org, name="flow", role="member")
    return agent, raw


async def _post_signed(triple):
    url, params, headers = triple
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, data=params, headers=headers)


async def test_outbound_call_reaching_voicemail_leaves_the_message(
    daphne, fake_openai, fake_twilio_rest, script, org_a
):
    agent, key = await sync_to_async(_setup_outbound)(org_a)
    async with httpx.AsyncClient(base_url=daphne.base_url, timeout=10) as api:
        created = await api.post(
            "/api/v1/calls/",
            json={
                "agent_id": agent.pk,
                "to_phone": "+14155550199",
                "variables": {"customer_name": "Grace"},
            },
            headers={"Authorization": f"Bearer {key}"},
        )
    assert created.status_code == 201, created.text
    call_id = created.json()["id"]
    # The carrier was asked to dial with answering machine detection.
    placed = fake_twilio_rest.requests_to("Calls", "POST")[-1]
    assert placed.field("To") == "+14155550199"
    assert placed.field("MachineDetection")
    call_sid = [sid for sid, c in fake_twilio_rest.calls.items() if c.to == "+14155550199"][-1]
    driver = TwilioCallbackDriver.for_call(fake_twilio_rest, call_sid)

    answer = await _post_signed(driver.answer())
    assert answer.status_code == 200, answer.text
    stream_url, parameters = stream_of(answer.text)
    client = TwilioMediaClient(stream_url, call_sid=call_sid, custom_parameters=parameters)
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        verdict = await _post_signed(driver.machine_detection("machine_end_beep"))
        assert verdict.status_code in (200, 204), verdict.text
        await wait_until(lambda: client.closed_at is not None, timeout=15, what="hangup")
    says = [
        e["response"]["instructions"]
        for e in fake_openai.current.of_type("response.create")
        if "instructions" in (e.get("response") or {})
    ]
    assert any("Hi Grace, this is Acme. Please call us back." in text for text in says), says
    # Twilio then reports the end of the call.
    final = await _post_signed(driver.status("completed", duration=12))
    assert final.status_code in (200, 204)

    class Ref:
        pk = call_id

    ended = await wait_for_final(org_a, Ref)
    assert (ended.status, ended.end_reason, ended.answered_by) == (
        "completed",
        "voicemail",
        "machine",
    )


def _event_names(org, call):
    with tenant_context(org):
        return list(CallEvent.objects.filter(call_id=call.pk).values_list("name", flat=True))


async def test_model_lost_twice_apologizes_through_the_carrier_and_fails_the_call(
    daphne, fake_openai, fake_twilio_rest, script, org_a
):
    from tests.fakes.twilio_rest import FakeCall

    call = await sync_to_async(make_call)(org_a)
    client = TwilioMediaClient(media_url(daphne, org_a, call))
    # An inbound call the carrier knows about (it is the carrier's live call we redirect).
    fake_twilio_rest.calls[client.call_sid] = FakeCall(
        sid=client.call_sid,
        to=call.to_number,
        from_=call.from_number,
        status="in-progress",
        params={},
    )
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        first = len(fake_openai.connections)
        await fake_openai.drop()
        await fake_openai.wait_for(lambda: len(fake_openai.connections) > first, timeout=10)
        await fake_openai.wait_for(lambda: fake_openai.current.of_type("session.update"))
        await fake_openai.drop()
        await wait_until(lambda: client.closed_at is not None, timeout=15, what="hangup")
    # The apology is spoken by the carrier: the live call's TwiML is replaced.
    updates = [
        r for r in fake_twilio_rest.requests_to("Calls", "POST") if client.call_sid in r.path
    ]
    assert updates and "<Say" in (updates[-1].field("Twiml") or ""), updates
    ended = await wait_for_final(org_a, call)
    assert (ended.status, ended.end_reason) == ("failed", "failed")
    events = await sync_to_async(_event_names)(org_a, call)
    assert "apology" in events, events
    assert "say_and_hangup" in events, events
