"""What every carrier client promises, whatever the carrier: one contract, run against Twilio
(through the real ``twilio`` SDK) and Plivo (over plain HTTP), each against its loopback REST
fake.

The ``carrier`` fixture yields a :class:`CarrierUnderTest`: the client, its fake, and what
differs between carriers only in form (field names, id shapes, XML element names). Behaviour
only one carrier has (Twilio's signature quirks, Plivo's V3 vectors and hangup causes, each
one's wire format and status vocabulary) is tested in ``test_telephony_twilio.py`` and
``test_telephony_plivo.py``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest

from calls.telephony.base import (
    CallStatus,
    CarrierClient,
    CarrierError,
    CarrierErrorKind,
    public_url,
)
from calls.telephony.plivo import PlivoClient
from calls.telephony.registry import carrier_class, carrier_for
from calls.telephony.twilio import TwilioClient
from tests.fakes import plivo_rest, twilio_rest
from tests.fakes.carrier_rest import FakeCarrierRest, RecordedRequest

AGENT_NUMBER = "+14155550100"
CALLEE = "+14155550199"
HUMAN = "+14155550123"
PUBLIC = "https://voice.example.com"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class CarrierUnderTest:
    """One carrier's client and fake, and how this carrier spells what the contract checks.

    Besides the class attributes below, each carrier defines: ``user`` and ``credentials(token)``
    (its account id and client keyword arguments); ``state(placed)`` (the fake's state of a
    call); ``call_fields``, ``sms_request`` and ``page_of`` (what a recorded request sent);
    ``expected_sms_request``, ``message_ids``, ``add_number``, ``fail_next``; for webhooks
    ``sign(token, url, params)``, ``driver(placed)`` and the ``ringing``, ``completed``,
    ``machine`` callbacks it builds, ``expected_ids``; and ``stream_of`` /
    ``recording_callback_of``, which read an answer document.
    """

    name: ClassVar[str]
    client_class: ClassVar[type[CarrierClient]]
    fake_class: ClassVar[type[FakeCarrierRest]]
    resources: ClassVar[dict[str, str]]  # "call", "message", "numbers" -> the fake's resource
    base_call_fields: ClassVar[set[str]]  # what place_call sends without options
    message_id_re: ClassVar[str]
    not_found_code: ClassVar[str]
    auth_failed_code: ClassVar[str]
    rate_limited_code: ClassVar[str]
    unknown_call_id: ClassVar[str]
    early_hangup_state: ClassVar[str]  # the fake's state of a call hung up before answer
    duration_field: ClassVar[str]  # the callback field with the call's duration in seconds
    numbers_for_three_pages: ClassVar[int]
    expected_pages: ClassVar[list[Any]]
    first_page_query: ClassVar[tuple[str, list[str]]]
    stream_tags: ClassVar[list[str]]  # the answer document's top-level elements
    recorded_stream_tags: ClassVar[list[str]]
    say_tag: ClassVar[str]

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.client = self.client_with(self.token, fake.base_url)

    # --- credentials and clients ----------------------------------------------------------

    @property
    def token(self) -> str:
        return self.fake.auth_token

    def client_with(self, token: str, base_url: str) -> CarrierClient:
        return self.client_class(**self.credentials(token), api_base_url=base_url)

    # --- REST -----------------------------------------------------------------------------

    def place(self, client: CarrierClient | None = None, **options: Any) -> str:
        placed = (client or self.client).place_call(
            to=CALLEE,
            from_=AGENT_NUMBER,
            answer_url=self.answer_url,
            status_callback_url=self.status_url,
            **options,
        )
        return placed.provider_call_id

    @property
    def answer_url(self) -> str:
        return f"{PUBLIC}/calls/{self.name}/answer/42"

    @property
    def status_url(self) -> str:
        return f"{PUBLIC}/calls/{self.name}/status/42"

    def answer(self, placed: str) -> str:
        """The callee picks up; returns the id of the live call."""
        return placed

    def use_small_pages(self, client: CarrierClient) -> None:
        """Make ``numbers_for_three_pages`` numbers span three pages."""

    def wire_number(self, e164: str) -> str:
        """How the carrier writes a number in its documents."""
        return e164

    # --- webhooks -------------------------------------------------------------------------

    def answered(self, driver: Any) -> tuple[str, dict[str, str], dict[str, str]]:
        return driver.answer()


class TwilioUnderTest(CarrierUnderTest):
    name = "twilio"
    client_class = TwilioClient
    fake_class = twilio_rest.FakeTwilioRest
    resources = {"call": "Calls", "message": "Messages", "numbers": "IncomingPhoneNumbers"}
    base_call_fields = {
        "To",
        "From",
        "Url",
        "Method",
        "StatusCallback",
        "StatusCallbackMethod",
        "StatusCallbackEvent",
    }
    message_id_re = r"SM[0-9a-f]{32}"
    not_found_code = "20404"
    auth_failed_code = "20003"
    rate_limited_code = "20429"
    unknown_call_id = "CA" + "0" * 32
    early_hangup_state = "completed"  # Status=completed ends a call in any state
    duration_field = "CallDuration"
    numbers_for_three_pages = 5
    expected_pages = ["0", "1", "2"]
    first_page_query = ("PageSize", ["100"])
    stream_tags = ["Connect"]
    recorded_stream_tags = ["Start", "Connect"]
    say_tag = "Say"

    @property
    def user(self) -> str:
        return self.fake.account_sid

    def credentials(self, token: str) -> dict[str, str]:
        return {"account_sid": twilio_rest.ACCOUNT_SID, "auth_token": token}

    def state(self, placed: str) -> str:
        return self.fake.calls[placed].status

    def call_fields(self, request: RecordedRequest) -> set[str]:
        return set(request.form)

    def sms_request(self, request: RecordedRequest) -> Any:
        return request.form

    def expected_sms_request(self, *, to: str, from_: str, body: str, callback: str) -> Any:
        return {"To": [to], "From": [from_], "Body": [body], "StatusCallback": [callback]}

    def message_ids(self) -> list[str]:
        return [message["sid"] for message in self.fake.messages]

    def add_number(self, number: str, *, name: str, sms: bool) -> str:
        return self.fake.add_number(number, friendly_name=name, sms=sms)

    def use_small_pages(self, client: CarrierClient) -> None:
        client.numbers_page_size = 2  # type: ignore[attr-defined]

    def page_of(self, request: RecordedRequest) -> Any:
        return request.query.get("Page", ["0"])[0]

    def fail_next(self, resource: str, *, status: int, code: int, message: str) -> None:
        self.fake.fail_next(self.resources[resource], status=status, code=code, message=message)

    def sign(self, token: str, url: str, params: dict[str, str]) -> dict[str, str]:
        return {"X-Twilio-Signature": twilio_rest.twilio_signature(token, url, params)}

    def driver(self, placed: str) -> twilio_rest.TwilioCallbackDriver:
        return twilio_rest.TwilioCallbackDriver.for_call(self.fake, placed)

    def ringing(self, driver):
        return driver.status("ringing")

    def completed(self, driver, *, duration):
        return driver.status("completed", duration=duration)

    def machine(self, driver, *, machine):
        return driver.machine_detection("machine_end_beep" if machine else "human")

    def expected_ids(self, *, placed: str, live: str) -> tuple[str, str]:
        return placed, placed

    def stream_of(self, root):
        stream = root.find("./Connect/Stream")
        parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
        return (
            stream.get("url"),
            parameters,
            stream.get("statusCallback"),
            stream.get("statusCallbackMethod"),
        )

    def recording_callback_of(self, root):
        return root.find("./Start/Recording").get("recordingStatusCallback")


class PlivoUnderTest(CarrierUnderTest):
    name = "plivo"
    client_class = PlivoClient
    fake_class = plivo_rest.FakePlivoRest
    resources = {"call": "Call", "message": "Message", "numbers": "Number"}
    base_call_fields = {
        "from",
        "to",
        "answer_url",
        "answer_method",
        "ring_url",
        "ring_method",
        "hangup_url",
        "hangup_method",
    }
    message_id_re = UUID_RE
    # Plivo sends no error codes of its own: the code is the HTTP status.
    not_found_code = "404"
    auth_failed_code = "401"
    rate_limited_code = "429"
    unknown_call_id = "00000000-0000-0000-0000-000000000000"
    early_hangup_state = "canceled"  # the RequestUUID of a queued call is canceled
    duration_field = "Duration"
    numbers_for_three_pages = 45  # Plivo's page size is fixed at its maximum, 20
    expected_pages = [(["20"], ["0"]), (["20"], ["20"]), (["20"], ["40"])]
    first_page_query = ("limit", ["20"])
    stream_tags = ["Stream"]
    recorded_stream_tags = ["Record", "Stream"]
    say_tag = "Speak"

    @property
    def user(self) -> str:
        return self.fake.auth_id

    def credentials(self, token: str) -> dict[str, str]:
        return {"auth_id": plivo_rest.AUTH_ID, "auth_token": token}

    def answer(self, placed: str) -> str:
        return self.fake.answer(placed)

    def state(self, placed: str) -> str:
        return self.fake.calls[placed].state

    def call_fields(self, request: RecordedRequest) -> set[str]:
        return set(request.json)

    def sms_request(self, request: RecordedRequest) -> Any:
        return request.json

    def expected_sms_request(self, *, to: str, from_: str, body: str, callback: str) -> Any:
        return {
            "src": self.wire_number(from_),
            "dst": self.wire_number(to),
            "text": body,
            "url": callback,
            "method": "POST",
        }

    def message_ids(self) -> list[str]:
        return [message["message_uuid"] for message in self.fake.messages]

    def add_number(self, number: str, *, name: str, sms: bool) -> str:
        self.fake.add_number(number, alias=name, sms=sms)
        return self.wire_number(number)

    def page_of(self, request: RecordedRequest) -> Any:
        return request.query["limit"], request.query["offset"]

    def fail_next(self, resource: str, *, status: int, code: int, message: str) -> None:
        self.fake.fail_next(self.resources[resource], status=status, message=message)

    def wire_number(self, e164: str) -> str:
        return e164.removeprefix("+")

    def sign(self, token: str, url: str, params: dict[str, str]) -> dict[str, str]:
        nonce = "31415926535897932384"
        return {
            "X-Plivo-Signature-V3": plivo_rest.plivo_signature_v3(token, url, params, nonce),
            "X-Plivo-Signature-V3-Nonce": nonce,
        }

    def driver(self, placed: str) -> plivo_rest.PlivoCallbackDriver:
        return plivo_rest.PlivoCallbackDriver.for_call(self.fake, placed)

    def ringing(self, driver):
        return driver.ring()

    def completed(self, driver, *, duration):
        return driver.hangup(duration=duration)

    def machine(self, driver, *, machine):
        return driver.machine_detection(machine)

    def expected_ids(self, *, placed: str, live: str) -> tuple[str, str]:
        return live, placed  # callbacks name the live CallUUID and the RequestUUID

    def stream_of(self, root):
        stream = root.find("Stream")
        extra = stream.get("extraHeaders") or ""
        parameters = dict(pair.split("=", 1) for pair in extra.split(",") if pair)
        return (
            stream.text,
            parameters,
            stream.get("statusCallbackUrl"),
            stream.get("statusCallbackMethod"),
        )

    def recording_callback_of(self, root):
        return root.find("Record").get("callbackUrl")


CARRIERS = {carrier.name: carrier for carrier in (TwilioUnderTest, PlivoUnderTest)}


@pytest.fixture(params=sorted(CARRIERS))
def carrier(request) -> Iterator[CarrierUnderTest]:
    under_test = CARRIERS[request.param]
    with under_test.fake_class() as fake:
        yield under_test(fake)


# --- REST: calls ------------------------------------------------------------------------------


def test_place_call_returns_the_queued_call_and_authenticates(carrier):
    placed = carrier.client.place_call(
        to=CALLEE,
        from_=AGENT_NUMBER,
        answer_url=carrier.answer_url,
        status_callback_url=carrier.status_url,
    )

    assert placed.provider_call_id in carrier.fake.calls
    assert placed.status == "queued"
    (request,) = carrier.fake.requests_to(carrier.resources["call"], "POST")
    assert request.auth == (carrier.user, carrier.token)


def test_basic_auth_header_is_what_the_carrier_expects(carrier):
    carrier.place()

    (request,) = carrier.fake.requests_to(carrier.resources["call"])
    expected = base64.b64encode(f"{carrier.user}:{carrier.token}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


def test_place_call_without_options_sends_no_optional_fields(carrier):
    carrier.place()

    (request,) = carrier.fake.requests_to(carrier.resources["call"], "POST")
    assert carrier.call_fields(request) == carrier.base_call_fields


def test_hangup_before_answer_ends_the_call(carrier):
    placed = carrier.place()

    carrier.client.hangup(placed)

    assert carrier.state(placed) == carrier.early_hangup_state


def test_hangup_of_a_live_call_completes_it(carrier):
    placed = carrier.place()
    live = carrier.answer(placed)

    carrier.client.hangup(live)

    assert carrier.state(placed) == "completed"


def test_hangup_of_an_unknown_call_is_a_carrier_error(carrier):
    with pytest.raises(CarrierError) as caught:
        carrier.client.hangup(carrier.unknown_call_id)

    assert caught.value.http_status == 404
    assert caught.value.code == carrier.not_found_code


# --- REST: messages and numbers ---------------------------------------------------------------


def test_send_sms_returns_the_message_id_and_status(carrier):
    callback = f"{PUBLIC}/calls/{carrier.name}/sms-status"

    sent = carrier.client.send_sms(
        to=CALLEE,
        from_=AGENT_NUMBER,
        body="Your appointment is at 3pm.",
        status_callback_url=callback,
    )

    assert sent.status == "queued"
    assert re.fullmatch(carrier.message_id_re, sent.provider_message_id)
    assert carrier.message_ids() == [sent.provider_message_id]
    (request,) = carrier.fake.requests_to(carrier.resources["message"], "POST")
    assert carrier.sms_request(request) == carrier.expected_sms_request(
        to=CALLEE, from_=AGENT_NUMBER, body="Your appointment is at 3pm.", callback=callback
    )


def test_list_numbers_follows_every_page(carrier):
    count = carrier.numbers_for_three_pages
    ids = [
        carrier.add_number(f"+1415555{i:04d}", name=f"Line {i}", sms=i % 2 == 0)
        for i in range(count)
    ]
    carrier.use_small_pages(carrier.client)  # several pages: paging is what is under test

    numbers = carrier.client.list_numbers()

    assert [n.provider_id for n in numbers] == ids
    assert [n.number for n in numbers] == [f"+1415555{i:04d}" for i in range(count)]
    assert numbers[0].friendly_name == "Line 0"
    assert [n.sms for n in numbers] == [i % 2 == 0 for i in range(count)]
    assert all(n.voice for n in numbers)
    pages = carrier.fake.requests_to(carrier.resources["numbers"], "GET")
    assert [carrier.page_of(r) for r in pages] == carrier.expected_pages


def test_list_numbers_uses_one_request_for_a_small_account(carrier):
    carrier.add_number(AGENT_NUMBER, name="Main", sms=True)

    assert [n.number for n in carrier.client.list_numbers()] == [AGENT_NUMBER]
    (request,) = carrier.fake.requests_to(carrier.resources["numbers"], "GET")
    name, value = carrier.first_page_query
    assert request.query[name] == value


# --- REST: errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["send_sms", "list_numbers"])
def test_wrong_credentials_are_auth_failed(carrier, operation):
    client = carrier.client_with("wrong", carrier.fake.base_url)

    with pytest.raises(CarrierError) as caught:
        if operation == "send_sms":
            client.send_sms(to=CALLEE, from_=AGENT_NUMBER, body="hi")
        else:
            client.list_numbers()

    assert caught.value.kind == CarrierErrorKind.AUTH_FAILED
    assert caught.value.http_status == 401
    assert caught.value.code == carrier.auth_failed_code


def test_list_numbers_failure_is_a_carrier_error(carrier):
    carrier.fail_next("numbers", status=429, code=20429, message="Too Many Requests")

    with pytest.raises(CarrierError) as caught:
        carrier.client.list_numbers()

    assert caught.value.kind == CarrierErrorKind.RATE_LIMITED
    assert caught.value.code == carrier.rate_limited_code


def test_unreachable_api_is_a_carrier_error_without_http_status(carrier):
    server = carrier.fake_class()
    base_url = server.base_url
    server.stop()  # the port is closed: connection refused
    client = carrier.client_with(carrier.token, base_url)

    with pytest.raises(CarrierError) as caught:
        carrier.place(client)

    assert caught.value.kind == CarrierErrorKind.OTHER
    assert caught.value.http_status is None


# --- webhook signatures -----------------------------------------------------------------------


def test_callbacks_signed_by_the_carrier_validate(carrier):
    driver = carrier.driver(carrier.place())

    for url, params, headers in (carrier.ringing(driver), carrier.completed(driver, duration=31)):
        assert carrier.client.validate_signature(url=url, params=params, headers=headers)


def test_signature_header_lookup_ignores_case(carrier):
    url, params, headers = carrier.ringing(carrier.driver(carrier.place()))
    lowered = {name.lower(): value for name, value in headers.items()}

    assert carrier.client.validate_signature(url=url, params=params, headers=lowered)


def test_a_tampered_param_is_rejected(carrier):
    url, params, headers = carrier.completed(carrier.driver(carrier.place()), duration=30)

    assert not carrier.client.validate_signature(
        url=url, params={**params, carrier.duration_field: "3000"}, headers=headers
    )


def test_an_unsigned_request_is_rejected(carrier):
    url, params, _ = carrier.ringing(carrier.driver(carrier.place()))

    assert not carrier.client.validate_signature(url=url, params=params, headers={})


def test_a_request_signed_with_another_token_is_rejected(carrier):
    url = f"{PUBLIC}/calls/{carrier.name}/status/42"
    params = {"CallSid": "CA1", "CallStatus": "ringing"}
    headers = carrier.sign("someone-else", url, params)

    assert not carrier.client.validate_signature(url=url, params=params, headers=headers)


def test_the_query_string_is_part_of_the_signed_url(carrier):
    url = f"{PUBLIC}/calls/{carrier.name}/status/42?tenant=acme&attempt=2"
    params = {"CallSid": "CA1", "CallStatus": "ringing"}
    headers = carrier.sign(carrier.token, url, params)

    assert carrier.client.validate_signature(url=url, params=params, headers=headers)
    assert not carrier.client.validate_signature(
        url=url.replace("attempt=2", "attempt=3"), params=params, headers=headers
    )


def test_behind_a_proxy_validate_against_the_public_url_not_the_request_host(carrier):
    # The carrier signed the public URL; the app sees the proxy's upstream request.
    full_path = f"/calls/{carrier.name}/status/42?tenant=acme"  # request.get_full_path()
    params = {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "12"}
    headers = carrier.sign(carrier.token, f"{PUBLIC}{full_path}", params)

    assert not carrier.client.validate_signature(
        url=f"http://10.0.3.7:8000{full_path}", params=params, headers=headers
    )
    assert carrier.client.validate_signature(
        url=public_url(f"{PUBLIC}/", full_path), params=params, headers=headers
    )


def test_public_url_keeps_only_scheme_and_host_of_the_base():
    assert (
        public_url("https://voice.example.com/ignored/", "/calls/x?a=1")
        == "https://voice.example.com/calls/x?a=1"
    )
    with pytest.raises(ValueError):
        public_url("voice.example.com", "/calls/x")


# --- callbacks --------------------------------------------------------------------------------


def test_status_callbacks_parse_into_status_updates(carrier):
    placed = carrier.place(machine_detection=True)
    live = carrier.answer(placed)
    driver = carrier.driver(placed)

    ringing = carrier.client_class.parse_status_callback(carrier.ringing(driver)[1])
    verdict = carrier.client_class.parse_status_callback(carrier.machine(driver, machine=True)[1])
    done = carrier.client_class.parse_status_callback(carrier.completed(driver, duration=95)[1])

    expected_ids = carrier.expected_ids(placed=placed, live=live)
    assert (ringing.provider_call_id, ringing.placed_call_id) == expected_ids
    assert ringing.status == CallStatus.RINGING
    assert (verdict.status, verdict.is_machine) == (None, True)
    assert (done.status, done.duration_seconds) == (CallStatus.COMPLETED, 95)
    assert (done.provider_call_id, done.placed_call_id) == expected_ids


def test_the_callback_driver_uses_the_urls_given_at_dial_time(carrier):
    driver = carrier.driver(carrier.place(machine_detection=True))

    url, params, headers = carrier.answered(driver)
    assert url == carrier.answer_url
    assert carrier.client.validate_signature(url=url, params=params, headers=headers)
    for url, params, headers in (
        carrier.ringing(driver),
        carrier.machine(driver, machine=False),
        carrier.machine(driver, machine=True),
        carrier.completed(driver, duration=5),
    ):
        assert url == carrier.status_url
        assert carrier.client.validate_signature(url=url, params=params, headers=headers)


def test_callback_payloads_survive_form_encoding(carrier):
    # What a test will do with them: urlencode and POST; the signature must still hold.
    url, params, headers = carrier.answered(carrier.driver(carrier.place()))
    decoded = dict(pair.split("=", 1) for pair in urlencode(params).split("&"))

    assert set(decoded) == set(params)
    assert carrier.client.validate_signature(url=url, params=params, headers=headers)


# --- answer documents -------------------------------------------------------------------------


def test_stream_answer_connects_a_bidirectional_stream_with_parameters(carrier):
    stream_url = f"wss://voice.example.com/media/{carrier.name}"
    status_url = f"{PUBLIC}/calls/{carrier.name}/stream-status"

    xml = carrier.client.stream_answer(
        stream_url=stream_url,
        parameters={"callId": "0b6c8f0e1d2a", "tenant": "acme"},
        status_callback_url=status_url,
    )

    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    assert [child.tag for child in root] == carrier.stream_tags
    assert carrier.stream_of(root) == (
        stream_url,
        {"callId": "0b6c8f0e1d2a", "tenant": "acme"},
        status_url,
        "POST",
    )
    assert carrier.client.content_type.startswith("text/xml")


def test_stream_answer_without_a_status_callback_or_parameters(carrier):
    root = ET.fromstring(carrier.client.stream_answer(stream_url="wss://h/m", parameters={}))

    assert carrier.stream_of(root) == ("wss://h/m", {}, None, None)


def test_stream_answer_can_record_the_whole_call(carrier):
    recording_url = f"{PUBLIC}/calls/{carrier.name}/recording/42"

    root = ET.fromstring(
        carrier.client.stream_answer(
            stream_url=f"wss://voice.example.com/media/{carrier.name}",
            parameters={},
            record_callback_url=recording_url,
        )
    )

    # Recording starts before the stream: nothing after the stream runs until it ends.
    assert [child.tag for child in root] == carrier.recorded_stream_tags
    assert carrier.recording_callback_of(root) == recording_url


def test_say_and_hangup(carrier):
    root = ET.fromstring(carrier.client.say_and_hangup("Sorry & goodbye", language="fr-FR"))

    assert root.tag == "Response"
    assert [child.tag for child in root] == [carrier.say_tag, "Hangup"]
    assert root.find(carrier.say_tag).text == "Sorry & goodbye"
    assert root.find(carrier.say_tag).get("language") == "fr-FR"


def test_say_and_hangup_speaks_american_english_by_default(carrier):
    root = ET.fromstring(carrier.client.say_and_hangup("We are closed."))

    assert root.find(carrier.say_tag).get("language") == "en-US"


def test_forward_answer_dials_the_number(carrier):
    root = ET.fromstring(carrier.client.forward_answer(HUMAN, caller_id=AGENT_NUMBER))

    assert root.find("Dial").get("callerId") == carrier.wire_number(AGENT_NUMBER)
    assert root.find("./Dial/Number").text == carrier.wire_number(HUMAN)


def test_forward_answer_without_caller_id_keeps_the_callers(carrier):
    root = ET.fromstring(carrier.client.forward_answer(HUMAN))

    assert root.find("Dial").get("callerId") is None
    assert root.find("./Dial/Number").text == carrier.wire_number(HUMAN)


# --- registry ---------------------------------------------------------------------------------


def test_registry_builds_the_carriers_client(carrier):
    client = carrier_for(
        carrier.name, **carrier.credentials(carrier.token), api_base_url=carrier.fake.base_url
    )

    assert isinstance(client, carrier.client_class)
    assert carrier_class(carrier.name) is carrier.client_class
    assert carrier.client_class.provider == carrier.name


def test_registry_refuses_an_unknown_carrier():
    with pytest.raises(ValueError, match="unknown telephony provider"):
        carrier_for("vonage")
    with pytest.raises(ValueError, match="known: plivo, twilio"):
        carrier_class("vonage")
