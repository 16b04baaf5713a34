"""What only PlivoClient does, against the loopback Plivo REST fake over real HTTP: its JSON
bodies, two call ids (RequestUUID, CallUUID), fetched transfer documents, V3 signatures,
extraHeaders and hangup causes. What every carrier does is in ``test_carrier_contract.py``."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest

from calls.telephony.base import CallStatus, CarrierError, CarrierErrorKind
from calls.telephony.plivo import PlivoClient, hangup_cause_status, signature_v3
from tests.fakes.plivo_rest import (
    AUTH_ID,
    AUTH_TOKEN,
    FakePlivoRest,
    PlivoCallbackDriver,
    plivo_signature_v3,
)

AGENT_NUMBER = "+14155550100"
CALLEE = "+14155550199"
PUBLIC = "https://voice.example.com"


@pytest.fixture
def fake() -> Iterator[FakePlivoRest]:
    with FakePlivoRest() as server:
        yield server


@pytest.fixture
def client(fake: FakePlivoRest) -> PlivoClient:
    return PlivoClient(auth_id=AUTH_ID, auth_token=AUTH_TOKEN, api_base_url=fake.base_url)


def _place(client: PlivoClient, **options) -> str:
    placed = client.place_call(
        to=CALLEE,
        from_=AGENT_NUMBER,
        answer_url=f"{PUBLIC}/calls/plivo/answer/42",
        status_callback_url=f"{PUBLIC}/calls/plivo/status/42",
        **options,
    )
    return placed.provider_call_id


# --- REST -------------------------------------------------------------------------------------


def test_place_call_sends_plivo_the_exact_json(fake, client):
    placed = client.place_call(
        to=CALLEE,
        from_=AGENT_NUMBER,
        answer_url=f"{PUBLIC}/calls/plivo/answer/42",
        status_callback_url=f"{PUBLIC}/calls/plivo/status/42",
        machine_detection=True,
        time_limit_seconds=600,
    )

    assert placed.provider_call_id in fake.calls
    assert placed.status == "queued"
    (request,) = fake.requests_to("Call", "POST")
    assert request.path == f"/v1/Account/{AUTH_ID}/Call/"
    assert request.auth == (AUTH_ID, AUTH_TOKEN)
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "from": "14155550100",
        "to": "14155550199",
        "answer_url": f"{PUBLIC}/calls/plivo/answer/42",
        "answer_method": "POST",
        "ring_url": f"{PUBLIC}/calls/plivo/status/42",
        "ring_method": "POST",
        "hangup_url": f"{PUBLIC}/calls/plivo/status/42",
        "hangup_method": "POST",
        "machine_detection": "true",
        "machine_detection_url": f"{PUBLIC}/calls/plivo/status/42",
        "machine_detection_method": "POST",
        "time_limit": 600,
    }


def test_plivo_cannot_record_from_the_call_request(client):
    with pytest.raises(ValueError, match="record_callback_url"):
        _place(client, record=True, recording_callback_url=f"{PUBLIC}/rec")


def test_hangup_before_answer_falls_back_to_canceling_the_request(fake, client):
    request_uuid = _place(client)

    client.hangup(request_uuid)

    paths = [(r.method, r.path) for r in fake.requests if r.method == "DELETE"]
    assert paths == [
        ("DELETE", f"/v1/Account/{AUTH_ID}/Call/{request_uuid}/"),
        ("DELETE", f"/v1/Account/{AUTH_ID}/Request/{request_uuid}/"),
    ]


def test_hangup_of_a_live_call_deletes_it_by_call_uuid(fake, client):
    call_uuid = fake.answer(_place(client))

    client.hangup(call_uuid)

    assert [r.path for r in fake.requests if r.method == "DELETE"] == [
        f"/v1/Account/{AUTH_ID}/Call/{call_uuid}/"
    ]


def test_transfer_points_the_a_leg_at_the_forward_url(fake, client):
    request_uuid = _place(client)
    call_uuid = fake.answer(request_uuid)

    client.transfer(
        call_uuid, to_number="+14155550123", forward_url=f"{PUBLIC}/calls/plivo/forward/42"
    )

    assert fake.calls[request_uuid].transfers == [
        {"legs": "aleg", "aleg_url": f"{PUBLIC}/calls/plivo/forward/42", "aleg_method": "POST"}
    ]


def test_transfer_needs_a_forward_url(client):
    with pytest.raises(ValueError, match="forward_url"):
        client.transfer("some-call", to_number="+14155550123")


def test_say_and_hangup_live_points_the_a_leg_at_the_document(fake, client):
    request_uuid = _place(client)
    call_uuid = fake.answer(request_uuid)

    client.say_and_hangup_live(
        call_uuid, message="Sorry.", document_url=f"{PUBLIC}/telephony/plivo/say?c=x"
    )

    assert fake.calls[request_uuid].transfers == [
        {"legs": "aleg", "aleg_url": f"{PUBLIC}/telephony/plivo/say?c=x", "aleg_method": "POST"}
    ]


def test_say_and_hangup_live_needs_a_document_url(client):
    with pytest.raises(ValueError, match="document_url"):
        client.say_and_hangup_live("some-call", message="Sorry.")


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (400, "invalid 'to' number", CarrierErrorKind.INVALID_NUMBER),
        (400, "destination number is not valid", CarrierErrorKind.INVALID_NUMBER),
        (400, "answer_url parameter is required", CarrierErrorKind.OTHER),
        (401, "Authentication failed", CarrierErrorKind.AUTH_FAILED),
        (429, "Too many requests", CarrierErrorKind.RATE_LIMITED),
        (500, "Internal server error", CarrierErrorKind.OTHER),
    ],
)
def test_place_call_failure_becomes_a_carrier_error_of_the_right_kind(
    fake, client, status, message, kind
):
    fake.fail_next("Call", status=status, message=message)

    with pytest.raises(CarrierError) as caught:
        _place(client)

    assert caught.value.kind == kind
    assert caught.value.http_status == status
    assert caught.value.code == str(status)  # Plivo sends no error codes of its own
    assert caught.value.message == message


# --- V3 signatures ----------------------------------------------------------------------------

# Computed with plivo==4.63.0: plivo.utils.signature_v3.get_signature_v3(token,
# construct_post_url(url, params), nonce), each also accepted by validate_v3_signature.
KNOWN_TOKEN = "MTk4ZGExYjQ3ZjRhYTFkYmZkZmEwMDA3YjRlNWQ5"
KNOWN_VECTORS = [
    (
        "https://voice.example.com/plivo/status/",
        {"CallUUID": "abc-123", "CallStatus": "completed", "Duration": "12"},
        "12345678901234567890",
        "SGb78I2PPipw0/FEfJf74YR58zrAY/21xGm1cp1/tG8=",
    ),
    (
        "https://voice.example.com/plivo/status/?tenant=acme&call=42",
        {"CallUUID": "abc-123", "CallStatus": "ringing"},
        "98765",
        "Z+av+y1uHFcasJY9a+vncfMVOEvske7p4Ult70BUb3A=",
    ),
    (
        "https://voice.example.com/plivo/answer/?tenant=acme",
        {},
        "n0nce",
        "iTcvOD2E5WEwvPERunvwVc8dkd6hekxsB8+8MZ2Ymt4=",
    ),
    (  # a GET: the SDK sorts the query; no form params
        "https://voice.example.com/plivo/answer/?b=2&a=1",
        {},
        "n0nce",
        "K2DsDw/oqR0EaINXE6qnm2pgSuP6u2vElVBDHQ8bT3s=",
    ),
]


@pytest.mark.parametrize(("url", "params", "nonce", "signature"), KNOWN_VECTORS)
def test_signature_matches_the_plivo_sdk(url, params, nonce, signature):
    assert signature_v3(KNOWN_TOKEN, url, params, nonce) == signature
    assert plivo_signature_v3(KNOWN_TOKEN, url, params, nonce) == signature
    client = PlivoClient(auth_id=AUTH_ID, auth_token=KNOWN_TOKEN)
    headers = {"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce}
    assert client.validate_signature(url=url, params=params, headers=headers)


def test_repeated_form_values_are_signed_sorted_like_the_sdk():
    params = {"Multi": ["b", "a"], "X": "y z"}

    assert (
        signature_v3(KNOWN_TOKEN, "https://voice.example.com/plivo/status/", params, "nn")
        == "ScwTdkScE9hgz2BxtgHhqBOfnjR8Ga7QzwAshuVL9x4="
    )


def test_a_replayed_signature_with_another_nonce_is_rejected(fake, client):
    driver = PlivoCallbackDriver.for_call(fake, _place(client))
    url, params, headers = driver.ring()

    assert not client.validate_signature(
        url=url, params=params, headers={**headers, "X-Plivo-Signature-V3-Nonce": "1"}
    )


def test_a_signature_without_its_nonce_is_rejected(client):
    url = f"{PUBLIC}/calls/plivo/status/42"
    params = {"CallUUID": "x", "CallStatus": "ringing"}

    assert not client.validate_signature(
        url=url, params=params, headers={"X-Plivo-Signature-V3": "abc"}
    )


def test_one_of_several_listed_signatures_is_enough(client):
    url = f"{PUBLIC}/calls/plivo/status/42"
    params = {"CallUUID": "x"}
    good = plivo_signature_v3(AUTH_TOKEN, url, params, "77")
    headers = {"x-plivo-signature-v3": f"bogus=,{good}", "x-plivo-signature-v3-nonce": "77"}

    assert client.validate_signature(url=url, params=params, headers=headers)


# --- Plivo XML --------------------------------------------------------------------------------


def test_stream_answer_is_a_bidirectional_mulaw_stream_that_keeps_the_call(client):
    xml = client.stream_answer(
        stream_url="wss://voice.example.com/media/plivo",
        parameters={"callId": "0b6c8f0e1d2a", "tenant": "acme"},
        status_callback_url=f"{PUBLIC}/calls/plivo/stream-status",
    )

    stream = ET.fromstring(xml).find("Stream")
    assert stream.attrib == {
        "bidirectional": "true",
        "keepCallAlive": "true",
        "contentType": "audio/x-mulaw;rate=8000",
        "statusCallbackUrl": f"{PUBLIC}/calls/plivo/stream-status",
        "statusCallbackMethod": "POST",
        "extraHeaders": "callId=0b6c8f0e1d2a,tenant=acme",
    }


def test_stream_answer_escapes_the_url(client):
    xml = client.stream_answer(stream_url="wss://h/media/plivo?a=1&b=2", parameters={})

    assert ET.fromstring(xml).find("Stream").text == "wss://h/media/plivo?a=1&b=2"


def test_stream_answer_refuses_parameters_plivo_would_reject(client):
    with pytest.raises(ValueError, match="alphanumeric"):
        client.stream_answer(stream_url="wss://h/m", parameters={"call_id": "0b6c-8f0e"})
    with pytest.raises(ValueError, match="512"):
        client.stream_answer(stream_url="wss://h/m", parameters={"k": "v" * 600})


def test_stream_answer_records_the_whole_session_for_hours(client):
    root = ET.fromstring(
        client.stream_answer(
            stream_url="wss://h/media/plivo",
            parameters={},
            record_callback_url=f"{PUBLIC}/calls/plivo/recording/42",
        )
    )

    record = root.find("Record")
    assert record.get("recordSession") == "true"
    assert record.get("redirect") == "false"
    assert int(record.get("maxLength")) >= 4 * 3600


# --- status mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cause", "expected"),
    [
        ("ringing", None, CallStatus.RINGING),
        ("in-progress", None, CallStatus.IN_PROGRESS),
        ("completed", None, CallStatus.COMPLETED),
        ("completed", "4000", CallStatus.COMPLETED),
        ("completed", "4010", CallStatus.COMPLETED),
        ("completed", "1000", CallStatus.CANCELED),
        ("completed", "1010", CallStatus.FAILED),
        ("completed", "2000", CallStatus.FAILED),
        ("completed", "Busy Line", CallStatus.BUSY),
        ("completed", "Rejected", CallStatus.BUSY),
        ("completed", "No Answer", CallStatus.NO_ANSWER),
        ("completed", "NORMAL_CLEARING", CallStatus.COMPLETED),
        ("completed", "ORIGINATOR_CANCEL", CallStatus.CANCELED),
        ("busy", None, CallStatus.BUSY),
        ("no-answer", None, CallStatus.NO_ANSWER),
        ("cancel", None, CallStatus.CANCELED),
        ("timeout", None, CallStatus.FAILED),
        ("failed", None, CallStatus.FAILED),
        ("no-answer", "4000", CallStatus.NO_ANSWER),  # a cause only refines "completed"
        ("mystery", None, None),
    ],
)
def test_plivo_call_status_mapping(raw, cause, expected):
    assert PlivoClient.normalize_status(raw, hangup_cause=cause) == expected


def test_unknown_hangup_cause_codes_say_nothing():
    assert hangup_cause_status("0") is None
    assert hangup_cause_status("3000") is None  # its name ("Busy Line") decides


@pytest.mark.parametrize(
    ("machine", "expected"), [("true", True), ("false", False), ("", None), (None, None)]
)
def test_plivo_machine_mapping(machine, expected):
    assert PlivoClient.is_machine(machine) is expected


def test_a_hangup_callback_takes_its_outcome_from_the_hangup_cause(fake, client):
    request_uuid = _place(client)
    fake.answer(request_uuid)
    driver = PlivoCallbackDriver.for_call(fake, request_uuid)

    ring = PlivoClient.parse_status_callback(driver.ring()[1])
    busy = PlivoClient.parse_status_callback(
        driver.hangup(hangup_cause_code=3000, hangup_cause_name="Busy Line")[1]
    )

    assert ring.sequence is None  # Plivo does not number its callbacks
    assert busy.status == CallStatus.BUSY
