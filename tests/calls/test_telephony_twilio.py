"""What only TwilioClient does, against the loopback Twilio REST fake through the real
``twilio`` SDK: its form fields, inline TwiML, error codes, status vocabulary and the SDK's
signature quirks. What every carrier does is in ``test_carrier_contract.py``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest

from calls.telephony.base import CallStatus, CarrierError, CarrierErrorKind
from calls.telephony.twilio import TwilioClient
from tests.fakes.twilio_rest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilioRest,
    TwilioCallbackDriver,
    twilio_signature,
)

AGENT_NUMBER = "+14155550100"
CALLEE = "+14155550199"
PUBLIC = "https://voice.example.com"


@pytest.fixture
def fake() -> Iterator[FakeTwilioRest]:
    with FakeTwilioRest() as server:
        yield server


@pytest.fixture
def client(fake: FakeTwilioRest) -> TwilioClient:
    return TwilioClient(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=fake.base_url)


def _place(client: TwilioClient, **options) -> str:
    placed = client.place_call(
        to=CALLEE,
        from_=AGENT_NUMBER,
        answer_url=f"{PUBLIC}/calls/twilio/answer/42",
        status_callback_url=f"{PUBLIC}/calls/twilio/status/42",
        **options,
    )
    return placed.provider_call_id


# --- REST -------------------------------------------------------------------------------------


def test_place_call_sends_every_option_as_twilio_form_fields(fake, client):
    placed = client.place_call(
        to=CALLEE,
        from_=AGENT_NUMBER,
        answer_url=f"{PUBLIC}/calls/twilio/answer/42",
        status_callback_url=f"{PUBLIC}/calls/twilio/status/42",
        machine_detection=True,
        time_limit_seconds=600,
        record=True,
        recording_callback_url=f"{PUBLIC}/calls/twilio/recording/42",
    )

    assert placed.provider_call_id.startswith("CA") and len(placed.provider_call_id) == 34
    assert placed.status == "queued"
    (request,) = fake.requests_to("Calls", "POST")
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form == {
        "To": [CALLEE],
        "From": [AGENT_NUMBER],
        "Url": [f"{PUBLIC}/calls/twilio/answer/42"],
        "Method": ["POST"],
        "StatusCallback": [f"{PUBLIC}/calls/twilio/status/42"],
        "StatusCallbackMethod": ["POST"],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "MachineDetection": ["DetectMessageEnd"],
        "AsyncAmd": ["true"],
        "AsyncAmdStatusCallback": [f"{PUBLIC}/calls/twilio/status/42"],
        "AsyncAmdStatusCallbackMethod": ["POST"],
        "TimeLimit": ["600"],
        "Record": ["true"],
        "RecordingStatusCallback": [f"{PUBLIC}/calls/twilio/recording/42"],
        "RecordingStatusCallbackMethod": ["POST"],
    }


def test_hangup_updates_the_call_to_completed_in_any_state(fake, client):
    call_sid = _place(client)

    client.hangup(call_sid)

    # "canceled" would leave an answered call up; "completed" ends it whatever its state.
    assert fake.calls[call_sid].updates == [{"Status": ["completed"]}]


def test_transfer_replaces_the_calls_twiml_with_a_dial_to_the_human(fake, client):
    call_sid = _place(client)

    client.transfer(call_sid, to_number="+14155550123")

    (update,) = fake.calls[call_sid].updates
    assert set(update) == {"Twiml"}
    root = ET.fromstring(update["Twiml"][0])
    assert root.tag == "Response"
    assert root.find("./Dial/Number").text == "+14155550123"


def test_say_and_hangup_live_replaces_the_calls_twiml_inline(fake, client):
    call_sid = _place(client)

    client.say_and_hangup_live(call_sid, message="Sorry, we lost the line.")

    (update,) = fake.calls[call_sid].updates
    assert set(update) == {"Twiml"}
    root = ET.fromstring(update["Twiml"][0])
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root.find("Say").text == "Sorry, we lost the line."


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 21211, CarrierErrorKind.INVALID_NUMBER),
        (400, 21214, CarrierErrorKind.INVALID_NUMBER),
        (400, 21217, CarrierErrorKind.INVALID_NUMBER),
        (400, 13224, CarrierErrorKind.INVALID_NUMBER),
        (429, 20429, CarrierErrorKind.RATE_LIMITED),
        (429, 99999, CarrierErrorKind.RATE_LIMITED),
        (401, 20003, CarrierErrorKind.AUTH_FAILED),
        (400, 21210, CarrierErrorKind.OTHER),
        (500, 20500, CarrierErrorKind.OTHER),
    ],
)
def test_place_call_failure_becomes_a_carrier_error_of_the_right_kind(
    fake, client, status, code, kind
):
    fake.fail_next("Calls", status=status, code=code, message="Twilio says no")

    with pytest.raises(CarrierError) as caught:
        _place(client)

    assert caught.value.kind == kind
    assert caught.value.code == str(code)
    assert caught.value.http_status == status
    assert "Twilio says no" in caught.value.message


# --- webhook signatures: the SDK's quirks -----------------------------------------------------


def test_a_url_with_an_explicit_default_port_still_validates(client):
    url = f"{PUBLIC}/calls/twilio/status/42"
    params = {"CallSid": "CA1"}
    headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params)}

    assert client.validate_signature(
        url="https://voice.example.com:443/calls/twilio/status/42", params=params, headers=headers
    )


def test_a_json_webhook_is_checked_through_its_body_hash(client):
    body = b'{"CallSid":"CA1","CallStatus":"completed"}'
    url = f"{PUBLIC}/calls/twilio/events?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, {})}

    assert client.validate_signature(url=url, params={}, headers=headers, body=body)
    assert not client.validate_signature(
        url=url, params={}, headers=headers, body=body.replace(b"completed", b"failed")
    )


def test_the_media_stream_upgrade_validates_in_either_url_form(client):
    wss_url = "wss://voice.example.com/media/twilio"
    for signed in (wss_url, wss_url.replace("wss://", "https://")):
        headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, signed, {})}
        assert client.validate_signature(url=wss_url, params={}, headers=headers)


# --- TwiML ------------------------------------------------------------------------------------


def test_stream_parameters_may_hold_any_text(client):
    xml = client.stream_answer(
        stream_url="wss://voice.example.com/media/twilio",
        parameters={"call_id": "0b6c8f0e-1d2a", "tenant": "a&b <c>"},
    )

    stream = ET.fromstring(xml).find("./Connect/Stream")
    assert {p.get("name"): p.get("value") for p in stream.findall("Parameter")} == {
        "call_id": "0b6c8f0e-1d2a",
        "tenant": "a&b <c>",
    }


def test_stream_answer_refuses_a_query_string_in_the_stream_url(client):
    with pytest.raises(ValueError):
        client.stream_answer(stream_url="wss://h/media/twilio?call=1", parameters={})


# --- status mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", CallStatus.QUEUED),
        ("initiated", CallStatus.QUEUED),
        ("ringing", CallStatus.RINGING),
        ("in-progress", CallStatus.IN_PROGRESS),
        ("completed", CallStatus.COMPLETED),
        ("busy", CallStatus.BUSY),
        ("no-answer", CallStatus.NO_ANSWER),
        ("canceled", CallStatus.CANCELED),
        ("failed", CallStatus.FAILED),
        ("something-new", None),
    ],
)
def test_twilio_call_status_mapping(raw, expected):
    assert TwilioClient.normalize_status(raw) == expected


@pytest.mark.parametrize(
    ("answered_by", "expected"),
    [
        ("human", False),
        ("machine_start", True),
        ("machine_end_beep", True),
        ("machine_end_silence", True),
        ("machine_end_other", True),
        ("fax", True),
        ("unknown", None),
        (None, None),
    ],
)
def test_twilio_answered_by_mapping(answered_by, expected):
    assert TwilioClient.is_machine(answered_by) is expected


def test_status_callbacks_carry_the_sequence_number_and_recording(fake, client):
    # Twilio numbers its callbacks (they may arrive out of order); Plivo does not.
    driver = TwilioCallbackDriver.for_call(fake, _place(client))

    _, ringing, _ = driver.status("ringing")
    _, done, _ = driver.status(
        "completed", duration=42, recording_url="https://api.twilio.com/rec/RE1"
    )

    first = TwilioClient.parse_status_callback(ringing)
    assert (first.status, first.sequence) == (CallStatus.RINGING, 0)
    last = TwilioClient.parse_status_callback(done)
    assert (last.status, last.sequence, last.duration_seconds) == (CallStatus.COMPLETED, 1, 42)
    assert last.recording_url == "https://api.twilio.com/rec/RE1"
