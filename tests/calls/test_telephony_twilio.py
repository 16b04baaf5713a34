"""TwilioClient against the loopback Twilio REST fake, through the real ``twilio`` SDK."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest

from calls.telephony.base import CallStatus, CarrierError, CarrierErrorKind, public_url
from calls.telephony.registry import carrier_class, carrier_for
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


def test_place_call_without_options_sends_no_optional_fields(fake, client):
    _place(client)

    (request,) = fake.requests_to("Calls", "POST")
    assert set(request.form) == {
        "To",
        "From",
        "Url",
        "Method",
        "StatusCallback",
        "StatusCallbackMethod",
        "StatusCallbackEvent",
    }


def test_hangup_sets_the_call_completed(fake, client):
    call_sid = _place(client)

    client.hangup(call_sid)

    assert fake.calls[call_sid].status == "completed"
    assert fake.calls[call_sid].updates == [{"Status": ["completed"]}]


def test_transfer_replaces_the_calls_twiml_with_a_dial_to_the_human(fake, client):
    call_sid = _place(client)

    client.transfer(call_sid, to_number="+14155550123")

    (update,) = fake.calls[call_sid].updates
    assert set(update) == {"Twiml"}
    root = ET.fromstring(update["Twiml"][0])
    assert root.tag == "Response"
    assert root.find("./Dial/Number").text == "+14155550123"


def test_send_sms_returns_the_message_sid_and_status(fake, client):
    sent = client.send_sms(
        to=CALLEE,
        from_=AGENT_NUMBER,
        body="Your appointment is at 3pm.",
        status_callback_url=f"{PUBLIC}/calls/twilio/sms-status",
    )

    assert sent.provider_message_id.startswith("SM")
    assert sent.status == "queued"
    (request,) = fake.requests_to("Messages", "POST")
    assert request.form == {
        "To": [CALLEE],
        "From": [AGENT_NUMBER],
        "Body": ["Your appointment is at 3pm."],
        "StatusCallback": [f"{PUBLIC}/calls/twilio/sms-status"],
    }


def test_list_numbers_follows_every_page(fake, client):
    sids = [
        fake.add_number(f"+1415555010{i}", friendly_name=f"Line {i}", sms=i % 2 == 0)
        for i in range(5)
    ]
    client.numbers_page_size = 2  # 5 numbers span 3 pages: paging is what is under test

    numbers = client.list_numbers()

    assert [n.provider_id for n in numbers] == sids
    assert [n.number for n in numbers] == [f"+1415555010{i}" for i in range(5)]
    assert numbers[0].friendly_name == "Line 0"
    assert [n.sms for n in numbers] == [True, False, True, False, True]
    assert all(n.voice for n in numbers)
    pages = fake.requests_to("IncomingPhoneNumbers", "GET")
    assert [r.query.get("Page", ["0"])[0] for r in pages] == ["0", "1", "2"]


def test_list_numbers_uses_one_request_for_a_small_account(fake, client):
    fake.add_number(AGENT_NUMBER)

    assert [n.number for n in client.list_numbers()] == [AGENT_NUMBER]
    (request,) = fake.requests_to("IncomingPhoneNumbers", "GET")
    assert request.query["PageSize"] == ["100"]


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


def test_wrong_credentials_are_auth_failed(fake):
    client = TwilioClient(account_sid=ACCOUNT_SID, auth_token="wrong", api_base_url=fake.base_url)

    with pytest.raises(CarrierError) as caught:
        client.send_sms(to=CALLEE, from_=AGENT_NUMBER, body="hi")

    assert caught.value.kind == CarrierErrorKind.AUTH_FAILED
    assert caught.value.code == "20003"


def test_list_numbers_failure_is_a_carrier_error(fake, client):
    fake.fail_next("IncomingPhoneNumbers", status=429, code=20429, message="Too Many Requests")

    with pytest.raises(CarrierError) as caught:
        client.list_numbers()

    assert caught.value.kind == CarrierErrorKind.RATE_LIMITED
    assert caught.value.code == "20429"


def test_hangup_of_an_unknown_call_is_a_carrier_error(client):
    with pytest.raises(CarrierError) as caught:
        client.hangup("CA" + "0" * 32)

    assert caught.value.http_status == 404
    assert caught.value.code == "20404"


def test_unreachable_api_is_a_carrier_error_without_http_status():
    server = FakeTwilioRest()
    base_url = server.base_url
    server.stop()  # the port is closed: connection refused
    client = TwilioClient(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=base_url)

    with pytest.raises(CarrierError) as caught:
        _place(client)

    assert caught.value.kind == CarrierErrorKind.OTHER
    assert caught.value.http_status is None


# --- webhook signatures -----------------------------------------------------------------------


def test_a_callback_signed_by_twilio_validates(fake, client):
    driver = TwilioCallbackDriver.for_call(fake, _place(client))
    url, params, headers = driver.status("ringing")

    assert client.validate_signature(url=url, params=params, headers=headers)


def test_signature_header_lookup_ignores_case(fake, client):
    driver = TwilioCallbackDriver.for_call(fake, _place(client))
    url, params, headers = driver.status("ringing")
    lowered = {name.lower(): value for name, value in headers.items()}

    assert client.validate_signature(url=url, params=params, headers=lowered)


def test_a_tampered_param_is_rejected(fake, client):
    driver = TwilioCallbackDriver.for_call(fake, _place(client))
    url, params, headers = driver.status("completed", duration=30)

    assert not client.validate_signature(
        url=url, params={**params, "CallDuration": "3000"}, headers=headers
    )


def test_an_unsigned_request_is_rejected(fake, client):
    driver = TwilioCallbackDriver.for_call(fake, _place(client))
    url, params, _ = driver.status("ringing")

    assert not client.validate_signature(url=url, params=params, headers={})


def test_a_request_signed_with_another_token_is_rejected(client):
    url = f"{PUBLIC}/calls/twilio/status/42"
    params = {"CallSid": "CA1", "CallStatus": "ringing"}
    headers = {"X-Twilio-Signature": twilio_signature("someone-else", url, params)}

    assert not client.validate_signature(url=url, params=params, headers=headers)


def test_the_query_string_is_part_of_the_signed_url(client):
    url = f"{PUBLIC}/calls/twilio/status/42?tenant=acme&attempt=2"
    params = {"CallSid": "CA1", "CallStatus": "ringing"}
    headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params)}

    assert client.validate_signature(url=url, params=params, headers=headers)
    assert not client.validate_signature(
        url=url.replace("attempt=2", "attempt=3"), params=params, headers=headers
    )


def test_behind_a_proxy_validate_against_the_public_url_not_the_request_host(client):
    # Twilio signed the public URL; the app sees the proxy's upstream request.
    signed_url = f"{PUBLIC}/calls/twilio/status/42?tenant=acme"
    params = {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "12"}
    headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, signed_url, params)}
    internal_url = "http://10.0.3.7:8000/calls/twilio/status/42?tenant=acme"
    full_path = "/calls/twilio/status/42?tenant=acme"  # request.get_full_path()

    assert not client.validate_signature(url=internal_url, params=params, headers=headers)
    assert client.validate_signature(
        url=public_url("https://voice.example.com/", full_path), params=params, headers=headers
    )


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


def test_public_url_keeps_only_scheme_and_host_of_the_base():
    assert (
        public_url("https://voice.example.com/ignored/", "/calls/x?a=1")
        == "https://voice.example.com/calls/x?a=1"
    )
    with pytest.raises(ValueError):
        public_url("voice.example.com", "/calls/x")


# --- TwiML ------------------------------------------------------------------------------------


def test_stream_answer_connects_a_bidirectional_stream_with_parameters(client):
    xml = client.stream_answer(
        stream_url="wss://voice.example.com/media/twilio",
        parameters={"call_id": "0b6c8f0e-1d2a", "tenant": "a&b <c>"},
        status_callback_url=f"{PUBLIC}/calls/twilio/stream-status",
    )

    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert [child.tag for child in root] == ["Connect"]
    stream = root.find("./Connect/Stream")
    assert stream.get("url") == "wss://voice.example.com/media/twilio"
    assert stream.get("statusCallback") == f"{PUBLIC}/calls/twilio/stream-status"
    assert stream.get("statusCallbackMethod") == "POST"
    assert {p.get("name"): p.get("value") for p in stream.findall("Parameter")} == {
        "call_id": "0b6c8f0e-1d2a",
        "tenant": "a&b <c>",
    }
    assert client.content_type.startswith("text/xml")


def test_stream_answer_can_record_the_whole_call(client):
    xml = client.stream_answer(
        stream_url="wss://voice.example.com/media/twilio",
        parameters={},
        record_callback_url=f"{PUBLIC}/calls/twilio/recording/42",
    )

    root = ET.fromstring(xml)
    assert [child.tag for child in root] == ["Start", "Connect"]
    recording = root.find("./Start/Recording")
    assert recording.get("recordingStatusCallback") == f"{PUBLIC}/calls/twilio/recording/42"


def test_stream_answer_refuses_a_query_string_in_the_stream_url(client):
    with pytest.raises(ValueError):
        client.stream_answer(stream_url="wss://h/media/twilio?call=1", parameters={})


def test_say_and_hangup(client):
    root = ET.fromstring(client.say_and_hangup("Sorry, we are closed.", language="es-MX"))

    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root.find("Say").text == "Sorry, we are closed."
    assert root.find("Say").get("language") == "es-MX"


def test_forward_answer_dials_the_number(client):
    root = ET.fromstring(client.forward_answer("+14155550123", caller_id=AGENT_NUMBER))

    assert root.find("Dial").get("callerId") == AGENT_NUMBER
    assert root.find("./Dial/Number").text == "+14155550123"


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


def test_status_callbacks_parse_into_status_updates(fake, client):
    call_sid = _place(client, machine_detection=True)
    driver = TwilioCallbackDriver.for_call(fake, call_sid)

    _, ringing, _ = driver.status("ringing")
    _, done, _ = driver.status(
        "completed", duration=42, recording_url="https://api.twilio.com/rec/RE1"
    )
    _, amd, _ = driver.machine_detection("machine_end_beep")

    first = TwilioClient.parse_status_callback(ringing)
    assert (first.provider_call_id, first.placed_call_id) == (call_sid, call_sid)
    assert (first.status, first.sequence) == (CallStatus.RINGING, 0)
    last = TwilioClient.parse_status_callback(done)
    assert (last.status, last.sequence, last.duration_seconds) == (CallStatus.COMPLETED, 1, 42)
    assert last.recording_url == "https://api.twilio.com/rec/RE1"
    verdict = TwilioClient.parse_status_callback(amd)
    assert (verdict.status, verdict.is_machine) == (None, True)


def test_the_callback_driver_posts_amd_to_the_status_url_given_at_dial_time(fake, client):
    driver = TwilioCallbackDriver.for_call(fake, _place(client, machine_detection=True))

    url, params, headers = driver.machine_detection("human")

    assert url == f"{PUBLIC}/calls/twilio/status/42"
    assert client.validate_signature(url=url, params=params, headers=headers)


def test_callback_payloads_survive_form_encoding(fake, client):
    # What a test will do with them: urlencode and POST; the signature must still hold.
    driver = TwilioCallbackDriver.for_call(fake, _place(client))
    url, params, headers = driver.answer()
    decoded = dict(pair.split("=", 1) for pair in urlencode(params).split("&"))

    assert set(decoded) == set(params)
    assert client.validate_signature(url=url, params=params, headers=headers)


# --- registry ---------------------------------------------------------------------------------


def test_registry_builds_a_twilio_client(fake):
    carrier = carrier_for(
        "twilio", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=fake.base_url
    )

    assert isinstance(carrier, TwilioClient)
    assert carrier_class("twilio") is TwilioClient
    with pytest.raises(ValueError, match="unknown telephony provider"):
        carrier_for("vonage")


def test_basic_auth_header_is_what_twilio_expects(fake, client):
    _place(client)

    (request,) = fake.requests_to("Calls")
    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
