"""Outbound calls: created, then dialed through the carrier's REST API (real SDK against the
loopback fake) with our callbacks, stream, machine detection and limits; carrier errors and
the concurrency limit."""

from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import pytest
from django_tenants.utils import schema_context

from agents.exceptions import AgentNotFound
from calls import services
from calls.exceptions import AgentUnavailable
from calls.models import Call, CallEvent
from calls.stream_tokens import StreamGrant, stream_token_consume
from organizations.models import Organization
from tests.calls.telephony_support import CALLER, OUR_NUMBER, PUBLIC, send, stream_of
from tests.fakes.plivo_rest import PlivoCallbackDriver
from tests.fakes.twilio_rest import TwilioCallbackDriver

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(alpha, make_agent, make_number):
    with alpha():
        agent = make_agent(
            voicemail_message="Please call us back.",
            max_call_duration_seconds=300,
            recording_enabled=True,
        )
        make_number(agent=agent)
    return agent


def test_a_started_call_is_dialed_through_twilio_with_our_callbacks_and_limits(
    twilio, agent, alpha, org_a, make_api_key, bearer, django_capture_on_commit_callbacks
):
    member = bearer(make_api_key(org_a, "member"))
    with django_capture_on_commit_callbacks(execute=True):
        response = member.post(
            "/api/v1/calls/",
            {
                "agent_id": agent.pk,
                "to_phone": "+1 415 555 0199",
                "variables": {"name": "Ada"},
            },
            format="json",
        )

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"
    (request,) = twilio.requests_to("Calls", "POST")
    form = request.form
    assert (form["To"], form["From"]) == ([CALLER], [OUR_NUMBER])
    assert form["Url"][0].startswith(f"{PUBLIC}/telephony/twilio/voice?c=")
    assert form["StatusCallback"][0].startswith(f"{PUBLIC}/telephony/twilio/status?c=")
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["MachineDetection"] == ["DetectMessageEnd"]  # the agent has a voicemail
    assert form["TimeLimit"] == ["300"]
    with alpha():
        call = Call.objects.get(pk=response.json()["id"])
        assert call.provider_call_id == next(iter(twilio.calls))
        assert (call.direction, call.status, call.variables) == (
            "outbound",
            "queued",
            {"name": "Ada"},
        )
        assert call.agent_version.number == agent.version and call.placed_at is not None

    # The callee answers: Twilio fetches our voice URL, we connect the audio to the bridge.
    answer = send(TwilioCallbackDriver.for_call(twilio, call.provider_call_id).answer())

    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/xml")
    stream_url, parameters = stream_of(answer.content.decode())
    prefix = "wss://voice.example.com/ws/twilio/media/"
    assert stream_url.startswith(prefix) and parameters == {"callId": str(call.pk)}
    assert stream_token_consume(stream_url[len(prefix) :]) == StreamGrant(
        org_a.schema_name, call.pk
    )
    recording = ET.fromstring(answer.content).find("./Start/Recording")
    assert recording.get("recordingStatusCallback").startswith(
        f"{PUBLIC}/telephony/twilio/recording?c="
    )
    with alpha():
        call.refresh_from_db()
        assert call.status == "in_progress" and call.answered_at is not None


@pytest.mark.parametrize(
    "status, code, kind",
    [
        (400, 21211, "invalid_number"),
        (429, 20429, "rate_limited"),
        (401, 20003, "auth_failed"),
    ],
)
def test_a_carrier_error_ends_the_call_as_failed_keeping_the_carriers_code(
    twilio, agent, alpha, dial, status, code, kind
):
    twilio.fail_next("Calls", status=status, code=code, message=f"Twilio says no ({code})")

    with alpha():
        call = dial(agent_id=agent.pk)

        assert (call.status, call.end_reason) == ("failed", "failed")
        assert call.error_code == str(code)
        assert call.error_message.endswith(f"Twilio says no ({code})")
        error = CallEvent.objects.get(call=call, name="carrier_error")
        assert (error.payload["kind"], error.payload["http_status"]) == (kind, status)
        assert call.ended_at is not None and not call.provider_call_id


def test_the_organizations_concurrency_limit_refuses_one_call_too_many(
    twilio, agent, org_a, make_api_key, bearer
):
    Organization.objects.filter(pk=org_a.pk).update(max_concurrent_calls=1)
    member = bearer(make_api_key(org_a, "member"))
    payload = {"agent_id": agent.pk, "to_phone": CALLER}

    first = member.post("/api/v1/calls/", payload, format="json")
    second = member.post("/api/v1/calls/", payload, format="json")

    assert first.status_code == 201
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "concurrency_limit_reached"
    assert second.json()["error"]["details"] == {"active_calls": 1, "max_concurrent_calls": 1}


def test_a_paused_or_unknown_agent_cannot_call(twilio, agent, alpha, dial):
    from agents.models import Agent

    with alpha():
        Agent.objects.filter(pk=agent.pk).update(status="paused")
        with pytest.raises(AgentUnavailable):
            dial(agent_id=agent.pk)
        with pytest.raises(AgentNotFound):
            dial(agent_id=987654)
    assert not twilio.requests_to("Calls")


def test_dialing_happens_at_most_once_however_often_the_task_runs(twilio, agent, alpha, dial):
    with alpha():
        call = dial(agent_id=agent.pk)
        assert services.call_place(call_id=call.pk) is None

    assert len(twilio.requests_to("Calls", "POST")) == 1


def test_the_dialing_task_runs_in_the_callers_tenant_even_when_sent_from_elsewhere(
    twilio, agent, alpha, django_capture_on_commit_callbacks
):
    with alpha(), django_capture_on_commit_callbacks(execute=False) as callbacks:
        call = services.call_initiate(agent_id=agent.pk, to_phone=CALLER)

    # The transaction commits after the tenant block was left (as an outer transaction or a
    # test's capture would): the task must still run in alpha's schema.
    with schema_context("public"):
        for callback in callbacks:
            callback()

    with alpha():
        call.refresh_from_db()
        assert call.provider_call_id and call.placed_at is not None
    assert len(twilio.requests_to("Calls", "POST")) == 1


def test_a_plivo_call_is_followed_by_its_call_uuid_from_dial_to_hangup(
    plivo, alpha, make_agent, make_number, dial, org_a
):
    with alpha():
        agent = make_agent(max_call_duration_seconds=120)
        make_number(agent=agent, provider="plivo")
        call = dial(agent_id=agent.pk)
    (request_uuid,) = plivo.calls
    body = plivo.calls[request_uuid].params
    assert (body["to"], body["from"], body["time_limit"]) == (CALLER[1:], OUR_NUMBER[1:], 120)
    assert body["answer_url"].startswith(f"{PUBLIC}/telephony/plivo/answer?c=")
    assert body["hangup_url"] == body["ring_url"]
    assert urlsplit(body["hangup_url"]).path == "/telephony/plivo/hangup"
    assert "machine_detection" not in body  # no voicemail message, no detection
    assert call.provider_call_id == request_uuid

    call_uuid = plivo.answer(request_uuid)
    driver = PlivoCallbackDriver.for_call(plivo, request_uuid)
    assert send(driver.ring()).status_code == 204
    answer = send(driver.answer())
    hangup = send(driver.hangup(duration=42, hangup_source="Callee"))

    stream = ET.fromstring(answer.content).find("./Stream")
    assert stream.get("bidirectional") == "true"
    assert stream.get("extraHeaders") == f"callId={call.pk}"
    token = stream.text.rsplit("/", 1)[1]
    assert stream.text.startswith("wss://voice.example.com/ws/plivo/media/")
    assert stream_token_consume(token).schema_name == org_a.schema_name
    assert hangup.status_code == 204
    with alpha():
        call.refresh_from_db()
        assert call.provider_call_id == call_uuid
        assert (call.status, call.end_reason, call.duration_seconds) == (
            "completed",
            "caller_hangup",
            42,
        )
        assert call.ringing_at and call.answered_at and call.ended_at
        assert parse_qs(urlsplit(body["answer_url"]).query)["c"]


def test_call_variables_over_the_limit_are_refused_before_anything_is_created(
    twilio, agent, alpha, org_a, make_api_key, bearer
):
    member = bearer(make_api_key(org_a, "member"))
    response = member.post(
        "/api/v1/calls/",
        {"agent_id": agent.pk, "to_phone": CALLER, "variables": {"notes": "x" * 20_000}},
        format="json",
    )
    assert response.status_code == 400
    assert "variables" in response.json()["error"]["details"]["fields"]
    with alpha():
        assert not Call.objects.exists()
