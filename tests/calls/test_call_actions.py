"""Ending and transferring calls through the carrier, finalizing exactly once, the call API's
roles, filters and timeline."""

import datetime as dt
from xml.etree import ElementTree as ET

import pytest
from django.utils import timezone

from calls import services
from calls.models import Call, CallEvent
from calls.selectors import call_status_get
from tests.calls.telephony_support import CALLER, HUMAN, OUR_NUMBER, send, signed_post
from tests.fakes.plivo_rest import PlivoCallbackDriver
from tests.fakes.twilio_rest import TwilioCallbackDriver

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(alpha, make_agent):
    with alpha():
        return make_agent(name="Closer")


@pytest.fixture
def live(twilio, agent, alpha, make_number, dial):
    """A Twilio call that has been answered and is in progress."""
    with alpha():
        make_number(agent=agent)
        call = dial(agent_id=agent.pk)
    driver = TwilioCallbackDriver.for_call(twilio, call.provider_call_id)
    send(driver.answer())
    return call, driver


@pytest.fixture
def live_plivo(plivo, agent, alpha, make_number, dial):
    """A Plivo call that has been answered and is in progress, with its RequestUUID."""
    with alpha():
        make_number(agent=agent, provider="plivo")
        call = dial(agent_id=agent.pk)
    (request_uuid,) = plivo.calls
    plivo.answer(request_uuid)
    send(PlivoCallbackDriver.for_call(plivo, request_uuid).answer())
    return call, request_uuid


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


def test_ending_a_call_hangs_up_at_twilio_and_a_late_callback_only_adds_the_duration(
    live, twilio, member, alpha
):
    call, driver = live

    response = member.post(f"/api/v1/calls/{call.pk}/end/")
    send(driver.status("completed", duration=37))
    again = member.post(f"/api/v1/calls/{call.pk}/end/")

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["end_reason"]) == (
        "completed",
        "agent_hangup",
    )
    assert twilio.calls[call.provider_call_id].updates[-1]["Status"] == ["completed"]
    with alpha():
        call.refresh_from_db()
        assert (call.status, call.end_reason, call.duration_seconds) == (
            "completed",
            "agent_hangup",
            37,
        )
    assert again.status_code == 409 and again.json()["error"]["code"] == "call_already_ended"


def test_ending_a_call_before_it_is_dialed_cancels_it_and_it_never_rings(
    twilio, agent, alpha, make_number, django_capture_on_commit_callbacks
):
    with alpha():
        make_number(agent=agent)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            call = services.call_initiate(agent_id=agent.pk, to_phone=CALLER)
        ended = services.call_end(call_id=call.pk)
        for callback in callbacks:  # the dialing task comes too late
            callback()

        assert (ended.status, ended.end_reason) == ("canceled", "canceled")
    assert not twilio.requests_to("Calls")


def test_a_twilio_transfer_redirects_the_call_to_the_human_and_ends_as_transferred(
    live, twilio, member, alpha
):
    call, driver = live

    response = member.post(
        f"/api/v1/calls/{call.pk}/transfer/", {"to_number": HUMAN}, format="json"
    )
    send(driver.status("completed", duration=300))

    assert response.status_code == 200, response.content
    twiml = ET.fromstring(twilio.calls[call.provider_call_id].updates[-1]["Twiml"][0])
    assert twiml.find("./Dial/Number").text == HUMAN
    with alpha():
        call.refresh_from_db()
        assert (call.status, call.end_reason) == ("completed", "transferred")
        assert CallEvent.objects.get(call=call, name="transferred").payload == {"to": HUMAN}


def test_a_plivo_transfer_points_the_call_at_a_signed_document_that_dials_the_human(
    live_plivo, plivo, alpha
):
    call, request_uuid = live_plivo

    with alpha():
        services.call_transfer(call_id=call.pk, to_number=HUMAN)
    (transfer,) = plivo.call_by_uuid(plivo.calls[request_uuid].call_uuid).transfers
    document = signed_post(transfer["aleg_url"], {"CallUUID": "x"})

    assert transfer["legs"] == "aleg"
    dial_element = ET.fromstring(document.content).find("Dial")
    assert dial_element.find("Number").text == HUMAN[1:]
    assert dial_element.get("callerId") == OUR_NUMBER[1:]


def test_only_a_call_in_progress_can_be_transferred(
    twilio, agent, alpha, make_number, dial, member
):
    with alpha():
        make_number(agent=agent)
        call = dial(agent_id=agent.pk)  # dialed, not answered yet

    response = member.post(
        f"/api/v1/calls/{call.pk}/transfer/", {"to_number": HUMAN}, format="json"
    )
    bad_number = member.post(
        f"/api/v1/calls/{call.pk}/transfer/", {"to_number": "0800"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "call_not_in_progress"
    assert bad_number.status_code == 400


def test_a_hangup_the_carrier_refuses_is_a_502_and_the_call_stays_up(live, twilio, member, alpha):
    call, _ = live
    twilio.fail_next("Calls", status=429, code=20429, message="Too many requests")

    response = member.post(f"/api/v1/calls/{call.pk}/end/")

    assert response.status_code == 502
    assert response.json()["error"]["details"]["carrier_code"] == "20429"
    with alpha():
        call.refresh_from_db()
        assert call.status == "in_progress"
        assert CallEvent.objects.filter(call=call, name="hangup_failed").exists()


def test_the_bridge_finalizes_a_call_exactly_once_and_may_report_usage_late(live, alpha):
    call, driver = live
    with alpha():
        services.call_mark_in_progress(call_id=call.pk)  # the stream started: no change
        first = services.call_finalize(call_id=call.pk, end_reason="max_duration")
        second = services.call_finalize(
            call_id=call.pk, end_reason="caller_hangup", usage={"input_tokens": 1200}
        )

        assert (first.status, first.end_reason) == ("completed", "max_duration")
        assert (second.end_reason, second.usage) == ("max_duration", {"input_tokens": 1200})
        assert second.ended_at == first.ended_at
        assert (
            CallEvent.objects.filter(call=call, kind="status", name__endswith="→ completed").count()
            == 1
        )


def test_the_bridge_refines_a_generic_completion_the_carrier_reported_first(live, alpha):
    call, driver = live
    send(driver.status("completed", duration=12))
    with alpha():
        refined = services.call_finalize(call_id=call.pk, end_reason="caller_hangup")
        failed_later = services.call_finalize(call_id=call.pk, end_reason="failed")

        assert (refined.status, refined.end_reason) == ("completed", "caller_hangup")
        assert (failed_later.status, failed_later.end_reason) == ("completed", "caller_hangup")
        assert call_status_get(call_id=call.pk)["duration_seconds"] == 12


@pytest.mark.parametrize("role, status", [("viewer", 403), ("member", 201)])
def test_viewers_read_calls_and_members_start_them(
    twilio, agent, alpha, make_number, org_a, make_api_key, bearer, role, status
):
    with alpha():
        make_number(agent=agent)
    client = bearer(make_api_key(org_a, role))

    started = client.post(
        "/api/v1/calls/", {"agent_id": agent.pk, "to_phone": CALLER}, format="json"
    )

    assert started.status_code == status
    assert client.get("/api/v1/calls/").status_code == 200


def test_calls_are_listed_with_filters_and_shown_with_their_timeline(
    live, twilio, member, alpha, agent
):
    call, driver = live
    with alpha():
        other = Call.objects.create(
            direction="inbound",
            from_number="+12125550123",
            to_number=OUR_NUMBER,
            provider="twilio",
            status="completed",
            end_reason="completed",
        )
        Call.objects.filter(pk=other.pk).update(created_at=timezone.now() - dt.timedelta(days=3))

    def ids(query):
        response = member.get(f"/api/v1/calls/?{query}")
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    since = (timezone.now() - dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids("") == [call.pk, other.pk]
    assert ids("status=in_progress") == [call.pk]
    assert ids("direction=inbound") == [other.pk]
    assert ids(f"agent={agent.pk}") == [call.pk]
    assert ids(f"created_after={since}") == [call.pk]
    assert ids("number=%2B12125550123") == [other.pk]
    assert member.get("/api/v1/calls/?status=nonsense").status_code == 400

    detail = member.get(f"/api/v1/calls/{call.pk}/").json()
    names = [event["name"] for event in detail["timeline"]]
    assert names[:3] == ["created", "placed", "twilio.answer"]
    assert detail["timeline"][2]["payload"]["CallSid"] == call.provider_call_id
    assert detail["transcript"] == [] and detail["tool_invocations"] == []


def test_a_live_twilio_call_can_be_made_to_say_something_and_hang_up(live, twilio, alpha):
    call, _ = live

    with alpha():
        services.call_say_and_hangup(call_id=call.pk, message="Sorry, we have a problem.")

    twiml = ET.fromstring(twilio.calls[call.provider_call_id].updates[-1]["Twiml"][0])
    assert twiml.find("Say").text == "Sorry, we have a problem."
    assert twiml.find("Hangup") is not None


def test_a_live_plivo_call_is_redirected_to_a_signed_message_document(live_plivo, plivo, alpha):
    call, request_uuid = live_plivo

    with alpha():
        services.call_say_and_hangup(call_id=call.pk, message="Goodbye for now.")
    (redirect,) = plivo.call_by_uuid(plivo.calls[request_uuid].call_uuid).transfers
    document = ET.fromstring(signed_post(redirect["aleg_url"], {"CallUUID": "x"}).content)

    assert document.find("Speak").text == "Goodbye for now."
    assert document.find("Hangup") is not None
