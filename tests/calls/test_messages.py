"""SMS both ways: sent through the carrier and kept, received through a signed webhook and
kept once, linked to the number and to the call it belongs to."""

import pytest

from calls.models import Message
from tests.calls.telephony_support import CALLER, OUR_NUMBER, PUBLIC, send, signed_post
from tests.fakes.twilio_rest import TwilioCallbackDriver

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages/"


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


@pytest.fixture
def number(twilio, alpha, make_number, make_agent):
    with alpha():
        return make_number(agent=make_agent())


def test_an_sms_is_sent_through_twilio_and_kept(
    number, twilio, member, org_a, make_api_key, bearer
):
    response = member.post(
        URL, {"to_number": CALLER, "body": "Your table is booked."}, format="json"
    )
    viewer = bearer(make_api_key(org_a, "viewer"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["direction"], body["status"], body["from_number"], body["to_number"]) == (
        "outbound",
        "sent",
        OUR_NUMBER,
        CALLER,
    )
    assert body["provider_message_id"].startswith("SM")
    (sent,) = twilio.messages
    assert (sent["to"], sent["from"], sent["body"]) == (CALLER, OUR_NUMBER, "Your table is booked.")
    assert viewer.get(URL).json()["results"][0]["id"] == body["id"]
    assert viewer.post(URL, {"to_number": CALLER, "body": "x"}, format="json").status_code == 403


def test_an_sms_sent_during_a_call_goes_to_the_other_party_and_is_linked_to_the_call(
    number, twilio, member, alpha, dial
):
    with alpha():
        call = dial(agent_id=number.agent_id)

    response = member.post(URL, {"call_id": call.pk, "body": "Here is the link."}, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["call_id"], response.json()["to_number"]) == (call.pk, CALLER)
    detail = member.get(f"/api/v1/calls/{call.pk}/").json()
    assert "sms_sent" in [event["name"] for event in detail["timeline"]]


def test_an_sms_the_carrier_refuses_is_kept_as_failed_with_its_code(number, twilio, member, alpha):
    twilio.fail_next("Messages", status=400, code=21614, message="'To' is not a mobile number")

    response = member.post(URL, {"to_number": CALLER, "body": "Hello"}, format="json")

    assert response.status_code == 502
    assert response.json()["error"]["details"]["carrier_code"] == "21614"
    with alpha():
        message = Message.objects.get()
        assert (message.status, message.error_code) == ("failed", "21614")


def test_an_inbound_sms_is_kept_once_and_linked_to_the_live_call_with_that_person(
    number, twilio, alpha, dial
):
    with alpha():
        call = dial(agent_id=number.agent_id)
    send(TwilioCallbackDriver.for_call(twilio, call.provider_call_id).answer())
    params = {
        "AccountSid": twilio.account_sid,
        "MessageSid": "SM" + "3" * 32,
        "From": CALLER,
        "To": OUR_NUMBER,
        "Body": "Running late",
        "NumMedia": "0",
    }
    url = f"{PUBLIC}/telephony/twilio/sms"

    first = signed_post(url, params)
    repeated = signed_post(url, params)

    assert first.status_code == repeated.status_code == 200
    assert first.content.endswith(b"<Response/>")
    with alpha():
        message = Message.objects.get()
        assert (message.direction, message.status, message.body) == (
            "inbound",
            "received",
            "Running late",
        )
        assert (message.phone_number_id, message.call_id) == (number.pk, call.pk)


def test_plivo_sms_is_sent_and_received(plivo, alpha, make_number, member):
    with alpha():
        make_number(provider="plivo")

    sent = member.post(URL, {"to_number": CALLER, "body": "Hi from Plivo"}, format="json")
    received = signed_post(
        f"{PUBLIC}/telephony/plivo/sms",
        {
            "MessageUUID": "8c1b9a2e-0000-4000-8000-000000000001",
            "From": CALLER[1:],
            "To": OUR_NUMBER[1:],
            "Text": "Thanks!",
            "Type": "sms",
        },
    )

    assert sent.status_code == 201, sent.content
    assert (plivo.messages[0]["src"], plivo.messages[0]["dst"]) == (OUR_NUMBER[1:], CALLER[1:])
    assert received.status_code == 200
    with alpha():
        inbound = Message.objects.get(direction="inbound")
        assert (inbound.from_number, inbound.to_number, inbound.body) == (
            CALLER,
            OUR_NUMBER,
            "Thanks!",
        )


def test_an_sms_to_a_number_nobody_owns_is_acknowledged_and_dropped(twilio, alpha):
    response = signed_post(
        f"{PUBLIC}/telephony/twilio/sms",
        {"MessageSid": "SM" + "4" * 32, "From": CALLER, "To": "+14155550999", "Body": "?"},
    )

    assert response.status_code == 200
    with alpha():
        assert not Message.objects.exists()
