"""Carrier webhooks: signatures, finding the organization, inbound routing and answers,
status callbacks that come late, twice or out of order, machine detection and recordings."""

from xml.etree import ElementTree as ET

import pytest

from agents.models import Agent
from calls.models import Call, CallEvent
from calls.stream_tokens import stream_token_consume
from tests.calls.telephony_support import (
    CALLER,
    HUMAN,
    OUR_NUMBER,
    PUBLIC,
    plivo_headers,
    post_webhook,
    send,
    signed_post,
    stream_of,
    twilio_headers,
)
from tests.fakes.twilio_rest import TwilioCallbackDriver

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(alpha, make_agent):
    with alpha():
        return make_agent(
            name="Front desk", recording_enabled=True, voicemail_message="Sorry we missed you."
        )


@pytest.fixture
def placed(twilio, agent, alpha, make_number, dial):
    """An outbound Twilio call, dialed, with the driver of the callbacks Twilio would send."""
    with alpha():
        make_number(agent=agent)
        call = dial(agent_id=agent.pk)
    return call, TwilioCallbackDriver.for_call(twilio, call.provider_call_id)


def inbound_params(call_sid="CA" + "1" * 32, to=OUR_NUMBER, from_=CALLER):
    return {
        "AccountSid": "AC" + "a1" * 16,
        "CallSid": call_sid,
        "From": from_,
        "To": to,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


# --- signatures --------------------------------------------------------------------------------

VOICE = f"{PUBLIC}/telephony/twilio/voice"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="unsigned"),
        pytest.param(twilio_headers(VOICE, inbound_params(), token="wrong-token"), id="wrong key"),
        pytest.param(
            twilio_headers("http://testserver/telephony/twilio/voice", inbound_params()),
            id="signed for another URL",
        ),
        pytest.param(twilio_headers(VOICE, {**inbound_params(), "To": HUMAN}), id="body changed"),
    ],
)
def test_twilio_webhooks_not_signed_by_twilio_are_refused_and_logged(
    twilio, agent, alpha, make_number, headers, caplog
):
    with alpha():
        make_number(agent=agent)

    response = post_webhook(VOICE, inbound_params(), headers)

    assert response.status_code == 403
    assert "webhook_signature_rejected" in caplog.text
    with alpha():
        assert not Call.objects.exists()


@pytest.mark.parametrize("route", ["answer", "hangup", "sms", "recording"])
def test_plivo_webhooks_with_a_bad_v3_signature_are_refused(plivo, route):
    url = f"{PUBLIC}/telephony/plivo/{route}"
    params = {"CallUUID": "x", "From": CALLER[1:], "To": OUR_NUMBER[1:]}
    headers = plivo_headers(url, params, token="not-the-token")

    assert post_webhook(url, params, headers).status_code == 403
    assert post_webhook(url, params, {}).status_code == 403


def test_a_call_to_a_number_nobody_owns_hears_a_polite_goodbye(twilio):
    response = signed_post(VOICE, inbound_params(to="+14155550999"))

    assert response.status_code == 200
    twiml = ET.fromstring(response.content)
    assert "not in service" in twiml.find("Say").text
    assert twiml.find("Hangup") is not None


# --- inbound -------------------------------------------------------------------------------------


def test_an_inbound_call_is_routed_recorded_and_connected_to_the_media_stream(
    twilio, agent, alpha, make_number, org_a
):
    with alpha():
        make_number(agent=agent)

    response = signed_post(VOICE, inbound_params())
    repeated = signed_post(VOICE, inbound_params())  # the carrier retries the same call

    assert response.status_code == 200
    stream_url, parameters = stream_of(response.content.decode())
    with alpha():
        call = Call.objects.get()
        assert (call.direction, call.status, call.agent, call.from_number) == (
            "inbound",
            "in_progress",
            agent,
            CALLER,
        )
        assert call.agent_version.number == agent.version
        names = list(CallEvent.objects.filter(call=call).values_list("name", flat=True))
    assert names[:3] == ["twilio.answer", "routed", "ringing → in_progress"]
    assert parameters == {"callId": str(call.pk)}
    grant = stream_token_consume(stream_url.rsplit("/", 1)[1])
    assert (grant.schema_name, grant.call_id) == (org_a.schema_name, call.pk)
    recording = ET.fromstring(response.content).find("./Start/Recording")
    assert recording.get("recordingStatusCallback").startswith(
        f"{PUBLIC}/telephony/twilio/recording?c="
    )
    # The retry is answered again (a fresh token) without a second call.
    again_url, _ = stream_of(repeated.content.decode())
    assert again_url != stream_url
    with alpha():
        assert Call.objects.count() == 1


@pytest.mark.parametrize(
    "fallback, expect",
    [
        ({"fallback_message": "We are closed today."}, ("Say", "We are closed today.")),
        ({"fallback_action": "forward", "fallback_forward_number": HUMAN}, ("Dial", HUMAN)),
    ],
)
def test_an_inbound_call_for_a_paused_agent_gets_the_numbers_fallback(
    twilio, agent, alpha, make_number, fallback, expect
):
    with alpha():
        Agent.objects.filter(pk=agent.pk).update(status="paused")
        make_number(agent=agent, **fallback)

    response = signed_post(VOICE, inbound_params())

    element = ET.fromstring(response.content).find(expect[0])
    assert "".join(element.itertext()).strip() == expect[1]
    with alpha():
        call = Call.objects.get()
        assert call.agent is None and call.status == "completed"
        assert call.end_reason == ("transferred" if expect[0] == "Dial" else "completed")
        routed = CallEvent.objects.get(call=call, name="routed")
        assert routed.payload["rule"] == "fallback" and "paused" in routed.payload["reason"]


def test_a_plivo_inbound_call_is_answered_with_a_bidirectional_stream(
    plivo, agent, alpha, make_number
):
    with alpha():
        make_number(agent=agent, provider="plivo")
    url = f"{PUBLIC}/telephony/plivo/answer"
    params = {
        "CallUUID": "11111111-2222-3333-4444-555555555555",
        "From": CALLER[1:],
        "To": OUR_NUMBER[1:],
        "Direction": "inbound",
        "CallStatus": "ringing",
    }

    response = signed_post(url, params)

    root = ET.fromstring(response.content)
    record, stream = root.find("Record"), root.find("Stream")
    assert record.get("callbackUrl").startswith(f"{PUBLIC}/telephony/plivo/recording?c=")
    assert stream.text.startswith("wss://voice.example.com/ws/plivo/media/")
    with alpha():
        call = Call.objects.get()
        assert (call.provider, call.provider_call_id, call.from_number) == (
            "plivo",
            params["CallUUID"],
            CALLER,
        )
        assert stream.get("extraHeaders") == f"callId={call.pk}"


def test_status_callbacks_of_an_inbound_call_find_the_organization_by_number(
    twilio, agent, alpha, make_number
):
    with alpha():
        make_number(agent=agent)
    signed_post(VOICE, inbound_params())
    completed = {
        **inbound_params(),
        "CallStatus": "completed",
        "CallDuration": "33",
        "SequenceNumber": "3",
    }

    assert signed_post(f"{PUBLIC}/telephony/twilio/status", completed).status_code == 204

    with alpha():
        call = Call.objects.get()
        assert (call.status, call.end_reason, call.duration_seconds) == (
            "completed",
            "completed",
            33,
        )


# --- status callbacks ----------------------------------------------------------------------------


def test_out_of_order_and_repeated_callbacks_still_end_in_the_right_final_state(placed, alpha):
    call, twilio = placed
    initiated, ringing = twilio.status("initiated"), twilio.status("ringing")
    answered = twilio.status("in-progress")
    completed = twilio.status("completed", duration=61)

    for callback in (completed, ringing, completed, answered, initiated):
        assert send(callback).status_code == 204

    with alpha():
        call.refresh_from_db()
        assert (call.status, call.end_reason, call.duration_seconds) == (
            "completed",
            "completed",
            61,
        )
        # Late callbacks still tell when it rang and was answered (they carry a timestamp).
        assert call.ringing_at is not None and call.answered_at is not None
        events = list(CallEvent.objects.filter(call=call).values_list("kind", "name"))
    assert events.count(("webhook", "twilio.status")) == 5
    assert [name for kind, name in events if kind == "status"] == ["queued → completed"]


def test_a_final_status_never_changes_again(placed, alpha):
    call, twilio = placed
    send(twilio.status("ringing"))
    send(twilio.status("no-answer"))
    send(twilio.status("in-progress"))
    send(twilio.status("completed", duration=5))

    with alpha():
        call.refresh_from_db()
        assert (call.status, call.end_reason) == ("no_answer", "no_answer")
        assert call.answered_at is not None  # a fact we learned, not a state change


def test_a_machine_answer_ends_the_call_as_voicemail(placed, alpha):
    call, twilio = placed
    send(twilio.status("in-progress"))
    assert send(twilio.machine_detection("machine_end_beep")).status_code == 204
    send(twilio.status("completed", duration=20))

    with alpha():
        call.refresh_from_db()
        assert (call.answered_by, call.status, call.end_reason) == (
            "machine",
            "completed",
            "voicemail",
        )


def test_the_recording_callback_keeps_the_recording_on_the_call(placed, alpha):
    call, twilio = placed
    answer = send(twilio.answer())
    callback = (
        ET.fromstring(answer.content).find("./Start/Recording").get("recordingStatusCallback")
    )
    params = {
        "AccountSid": twilio.account_sid,
        "CallSid": call.provider_call_id,
        "RecordingSid": "RE" + "2" * 32,
        "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE2",
        "RecordingDuration": "47",
    }

    assert signed_post(callback, params).status_code == 204
    assert signed_post(callback, params).status_code == 204  # repeated: same result

    with alpha():
        call.refresh_from_db()
        assert (call.recording_url, call.recording_duration_seconds) == (params["RecordingUrl"], 47)
        assert CallEvent.objects.filter(call=call, name="twilio.recording").count() == 2
