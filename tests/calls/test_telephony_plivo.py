"""PlivoClient against the loopback Plivo REST fake, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest

from calls.telephony.base import CallStatus, CarrierError, CarrierErrorKind, public_url
from calls.telephony.plivo import PlivoClient, hangup_cause_status, signature_v3
from calls.telephony.registry import carrier_class, carrier_for
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


def test_place_call_without_options_sends_no_optional_fields(fake, client):
    _place(client)

    (request,) = fake.requests_to("Call", "POST")
    assert "machine_detection" not in request.json
    assert "time_limit" not in request.json


def test_plivo_cannot_record_from_the_call_request(client):
    with pytest.raises(ValueError, match="record_callback_url"):
        _place(client, record=True, recording_callback_url=f"{PUBLIC}/rec")


def test_hangup_before_answer_cancels_the_request(fake, client):
    request_uuid = _place(client)

    client.hangup(request_uuid)

    assert fake.calls[request_uuid].state == "canceled"
    paths = [(r.method, r.path) for r in fake.requests if r.method == "DELETE"]
    assert paths == [
        ("DELETE", f"/v1/Account/{AUTH_ID}/Call/{request_uuid}/"),
        ("DELETE", f"/v1/Account/{AUTH_ID}/Request/{request_uuid}/"),
    ]


def test_hangup_of_a_live_call_deletes_it_by_call_uuid(fake, client):
    request_uuid = _place(client)
    call_uuid = fake.answer(request_uuid)

    client.hangup(call_uuid)

    assert fake.calls[request_uuid].state == "completed"
    assert [r.path for r in fake.requests if r.method == "DELETE"] == [
        f"/v1/Account/{AUTH_ID}/Call/{call_uuid}/"
    ]


def test_hangup_of_an_unknown_call_is_a_carrier_error(client):
    with pytest.raises(CarrierError) as caught:
        client.hangup("00000000-0000-0000-0000-000000000000")

    assert caught.value.http_status == 404


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


def test_send_sms(fake, client):
    sent = client.send_sms(
        to=CALLEE,
        from_=AGENT_NUMBER,
        body="Your appointment is at 3pm.",
        status_callback_url=f"{PUBLIC}/calls/plivo/sms-status",
    )

    assert sent.status == "queued"
    (message,) = fake.messages
    assert sent.provider_message_id == message["message_uuid"]
    (request,) = fake.requests_to("Message", "POST")
    assert request.json == {
        "src": "14155550100",
        "dst": "14155550199",
        "text": "Your appointment is at 3pm.",
        "url": f"{PUBLIC}/calls/plivo/sms-status",
        "method": "POST",
    }


def test_list_numbers_follows_meta_next_across_pages(fake, client):
    for i in range(45):
        fake.add_number(f"+1415555{i:04d}", alias=f"Line {i}", sms=i % 2 == 0)

    numbers = client.list_numbers()

    assert len(numbers) == 45
    assert numbers[0].number == "+14155550000"
    assert numbers[0].provider_id == "14155550000"
    assert numbers[0].friendly_name == "Line 0"
    assert [n.sms for n in numbers[:3]] == [True, False, True]
    pages = fake.requests_to("Number", "GET")
    assert [(r.query["limit"], r.query["offset"]) for r in pages] == [
        (["20"], ["0"]),
        (["20"], ["20"]),
        (["20"], ["40"]),
    ]


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


def test_wrong_credentials_are_auth_failed(fake):
    client = PlivoClient(auth_id=AUTH_ID, auth_token="wrong", api_base_url=fake.base_url)

    with pytest.raises(CarrierError) as caught:
        client.list_numbers()

    assert caught.value.kind == CarrierErrorKind.AUTH_FAILED


def test_unreachable_api_is_a_carrier_error_without_http_status():
    server = FakePlivoRest()
    base_url = server.base_url
    server.stop()
    client = PlivoClient(auth_id=AUTH_ID, auth_token=AUTH_TOKEN, api_base_url=base_url)

    with pytest.raises(CarrierError) as caught:
        _place(client)

    assert caught.value.kind == CarrierErrorKind.OTHER
    assert caught.value.http_status is None


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


def test_a_callback_signed_by_plivo_validates(fake, client):
    driver = PlivoCallbackDriver.for_call(fake, _place(client))
    url, params, headers = driver.hangup(duration=31)

    assert client.validate_signature(url=url, params=params, headers=headers)


def test_a_tampered_param_is_rejected(fake, client):
    driver = PlivoCallbackDriver.for_call(fake, _place(client))
    url, params, headers = driver.hangup(duration=31)

    assert not client.validate_signature(
        url=url, params={**params, "Duration": "3100"}, headers=headers
    )


def test_a_replayed_signature_with_another_nonce_is_rejected(fake, client):
    driver = PlivoCallbackDriver.for_call(fake, _place(client))
    url, params, headers = driver.ring()

    assert not client.validate_signature(
        url=url, params=params, headers={**headers, "X-Plivo-Signature-V3-Nonce": "1"}
    )


def test_an_unsigned_request_is_rejected(client):
    url = f"{PUBLIC}/calls/plivo/status/42"
    params = {"CallUUID": "x", "CallStatus": "ringing"}

    assert not client.validate_signature(url=url, params=params, headers={})
    assert not client.validate_signature(
        url=url, params=params, headers={"X-Plivo-Signature-V3": "abc"}
    )


def test_one_of_several_listed_signatures_is_enough(client):
    url = f"{PUBLIC}/calls/plivo/status/42"
    params = {"CallUUID": "x"}
    good = plivo_signature_v3(AUTH_TOKEN, url, params, "77")
    headers = {"x-plivo-signature-v3": f"bogus=,{good}", "x-plivo-signature-v3-nonce": "77"}

    assert client.validate_signature(url=url, params=params, headers=headers)


def test_the_query_string_is_part_of_the_signed_url(client):
    url = f"{PUBLIC}/calls/plivo/forward/42?to=14155550123"
    params = {"CallUUID": "x", "CallStatus": "in-progress"}
    headers = {
        "X-Plivo-Signature-V3": plivo_signature_v3(AUTH_TOKEN, url, params, "5"),
        "X-Plivo-Signature-V3-Nonce": "5",
    }

    assert client.validate_signature(url=url, params=params, headers=headers)
    assert not client.validate_signature(
        url=url.replace("0123", "9999"), params=params, headers=headers
    )


def test_behind_a_proxy_validate_against_the_public_url_not_the_request_host(client):
    signed_url = f"{PUBLIC}/calls/plivo/status/42?tenant=acme"
    params = {"CallUUID": "x", "CallStatus": "completed"}
    headers = {
        "X-Plivo-Signature-V3": plivo_signature_v3(AUTH_TOKEN, signed_url, params, "9"),
        "X-Plivo-Signature-V3-Nonce": "9",
    }
    full_path = "/calls/plivo/status/42?tenant=acme"

    assert not client.validate_signature(
        url=f"http://10.0.3.7:8000{full_path}", params=params, headers=headers
    )
    assert client.validate_signature(
        url=public_url(PUBLIC, full_path), params=params, headers=headers
    )


# --- Plivo XML --------------------------------------------------------------------------------


def test_stream_answer_is_a_bidirectional_mulaw_stream_with_parameters(client):
    xml = client.stream_answer(
        stream_url="wss://voice.example.com/media/plivo",
        parameters={"callId": "0b6c8f0e1d2a", "tenant": "acme"},
        status_callback_url=f"{PUBLIC}/calls/plivo/stream-status",
    )

    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert [child.tag for child in root] == ["Stream"]
    stream = root.find("Stream")
    assert stream.text == "wss://voice.example.com/media/plivo"
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


def test_stream_answer_can_record_the_whole_session(client):
    root = ET.fromstring(
        client.stream_answer(
            stream_url="wss://h/media/plivo",
            parameters={},
            record_callback_url=f"{PUBLIC}/calls/plivo/recording/42",
        )
    )

    assert [child.tag for child in root] == ["Record", "Stream"]
    record = root.find("Record")
    assert record.get("recordSession") == "true"
    assert record.get("redirect") == "false"
    assert record.get("callbackUrl") == f"{PUBLIC}/calls/plivo/recording/42"
    assert int(record.get("maxLength")) >= 4 * 3600


def test_say_and_hangup(client):
    root = ET.fromstring(client.say_and_hangup("Sorry & goodbye", language="fr-FR"))

    assert [child.tag for child in root] == ["Speak", "Hangup"]
    assert root.find("Speak").text == "Sorry & goodbye"
    assert root.find("Speak").get("language") == "fr-FR"


def test_forward_answer_dials_the_number_without_plus(client):
    root = ET.fromstring(client.forward_answer("+14155550123", caller_id=AGENT_NUMBER))

    assert root.find("Dial").get("callerId") == "14155550100"
    assert root.find("./Dial/Number").text == "14155550123"


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


def test_status_callbacks_parse_into_status_updates(fake, client):
    request_uuid = _place(client, machine_detection=True)
    call_uuid = fake.answer(request_uuid)
    driver = PlivoCallbackDriver.for_call(fake, request_uuid)

    ring = PlivoClient.parse_status_callback(driver.ring()[1])
    amd = PlivoClient.parse_status_callback(driver.machine_detection(True)[1])
    busy = PlivoClient.parse_status_callback(
        driver.hangup(hangup_cause_code=3000, hangup_cause_name="Busy Line")[1]
    )
    done = PlivoClient.parse_status_callback(driver.hangup(duration=95)[1])

    assert (ring.provider_call_id, ring.placed_call_id) == (call_uuid, request_uuid)
    assert ring.status == CallStatus.RINGING and ring.sequence is None
    assert (amd.status, amd.is_machine) == (None, True)
    assert busy.status == CallStatus.BUSY
    assert (done.status, done.duration_seconds) == (CallStatus.COMPLETED, 95)


def test_the_callback_driver_uses_the_urls_given_at_dial_time(fake, client):
    driver = PlivoCallbackDriver.for_call(fake, _place(client, machine_detection=True))

    assert driver.answer()[0] == f"{PUBLIC}/calls/plivo/answer/42"
    for url, params, headers in (driver.ring(), driver.machine_detection(False), driver.hangup()):
        assert url == f"{PUBLIC}/calls/plivo/status/42"
        assert client.validate_signature(url=url, params=params, headers=headers)


# --- registry ---------------------------------------------------------------------------------


def test_registry_builds_a_plivo_client(fake):
    carrier = carrier_for(
        "plivo", auth_id=AUTH_ID, auth_token=AUTH_TOKEN, api_base_url=fake.base_url
    )

    assert isinstance(carrier, PlivoClient)
    assert carrier_class("plivo") is PlivoClient
