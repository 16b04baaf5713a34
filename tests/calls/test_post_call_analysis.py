"""Post-call analysis through the real flow: a call dialed through the Twilio fake, answered
and ended by the services, analysed by the OpenAI SDK against a loopback chat-completions
fake, the answer checked against the agent's analysis schema and stored, and call.started /
call.ended / call.failed delivered to the organization's webhook receiver."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from calls import services
from calls.models import AnalysisStatus, Call, TranscriptTurn
from integrations.webhook_services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

SCHEMA = {"appointment_booked": "boolean", "callback_time": "string"}
GOOD = {
    "summary": "The caller booked a visit for Tuesday.",
    "sentiment": "positive",
    "goal_reached": True,
    "fields": {"appointment_booked": True, "callback_time": "2026-03-03T10:00:00Z"},
}


@pytest.fixture
def endpoint(org_a, hooks):
    with tenant_context(org_a):
        endpoint, secret = webhook_endpoint_create(
            data={
                "url": hooks.url(),
                "event_types": ["call.started", "call.ended", "call.failed"],
            }
        )
    hooks.secret = secret
    return endpoint


def _answered_call(org_a, make_agent, make_number, dial, capture, **agent_fields):
    with tenant_context(org_a):
        agent = make_agent(analysis_schema=SCHEMA, **agent_fields)
        make_number(agent=agent)
        call = dial(agent_id=agent.pk)
        with capture(execute=True):
            services.call_mark_in_progress(call_id=call.pk)
        TranscriptTurn.objects.create(call=call, speaker="agent", text="Hello, Acme dental.")
        TranscriptTurn.objects.create(
            call=call, speaker="caller", text="I'd like Tuesday at ten.", start_ms=1500
        )
    return call


def _end(org_a, call, capture):
    with tenant_context(org_a), capture(execute=True):
        services.call_finalize(call_id=call.pk, end_reason="caller_hangup")
    with tenant_context(org_a):
        return Call.objects.get(pk=call.pk)


def test_a_completed_call_is_analysed_stored_and_sent_with_call_ended(
    org_a,
    twilio,
    text_model,
    endpoint,
    hooks,
    make_agent,
    make_number,
    dial,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    text_model.answer = GOOD
    call = _answered_call(org_a, make_agent, make_number, dial, capture)
    assert [d.body["type"] for d in hooks.received] == ["call.started"]

    call = _end(org_a, call, capture)

    assert call.analysis_status == AnalysisStatus.COMPLETED
    assert call.analysis == GOOD and call.analysis_error == ""
    [request] = text_model.requests
    assert request.headers["authorization"] == "Bearer sk-fake-openai"
    schema = request.body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["fields"]["properties"] == {
        "appointment_booked": {"type": "boolean"},
        "callback_time": {"type": "string"},
    }
    assert "caller: I'd like Tuesday at ten." in request.body["messages"][1]["content"]
    started, ended = hooks.received
    assert all(d.verified for d in hooks.received)
    assert started.body["data"]["call"]["id"] == call.pk
    assert started.body["data"]["call"]["status"] == "in_progress"
    assert ended.body["type"] == "call.ended"
    data = ended.body["data"]
    assert data["analysis"] == GOOD and data["analysis_status"] == "completed"
    assert data["call"]["status"] == "completed" and data["call"]["end_reason"] == "caller_hangup"
    assert [t["text"] for t in data["transcript"]] == [
        "Hello, Acme dental.",
        "I'd like Tuesday at ten.",
    ]


def test_an_answer_that_violates_the_schema_is_an_analysis_error_not_an_analysis(
    org_a,
    twilio,
    text_model,
    endpoint,
    hooks,
    make_agent,
    make_number,
    dial,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    text_model.answer = {**GOOD, "fields": {"appointment_booked": "yes"}}
    call = _end(org_a, _answered_call(org_a, make_agent, make_number, dial, capture), capture)

    assert call.analysis_status == AnalysisStatus.FAILED and call.analysis is None
    assert "fields.appointment_booked" in call.analysis_error
    ended = hooks.received[-1].body
    assert ended["type"] == "call.ended" and ended["data"]["analysis"] is None
    assert ended["data"]["analysis_status"] == "failed"


@pytest.mark.parametrize("failure", ["status", "not_json"])
def test_a_model_that_fails_leaves_no_analysis_and_call_ended_still_goes(
    org_a,
    twilio,
    text_model,
    endpoint,
    hooks,
    make_agent,
    make_number,
    dial,
    django_capture_on_commit_callbacks,
    failure,
):
    capture = django_capture_on_commit_callbacks
    if failure == "status":
        text_model.status = 500
    else:
        text_model.raw_answer = "Sure! Here is the analysis you asked for."
    call = _end(org_a, _answered_call(org_a, make_agent, make_number, dial, capture), capture)

    assert call.analysis_status == AnalysisStatus.FAILED and call.analysis is None
    assert (
        ("OpenAI" in call.analysis_error)
        if failure == "status"
        else ("not JSON" in call.analysis_error)
    )
    assert hooks.received[-1].body["type"] == "call.ended"


def test_a_call_without_a_transcript_is_not_analysed(
    org_a,
    twilio,
    text_model,
    endpoint,
    hooks,
    make_agent,
    make_number,
    dial,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    with tenant_context(org_a):
        agent = make_agent()
        make_number(agent=agent)
        call = dial(agent_id=agent.pk)
        with capture(execute=True):
            services.call_mark_in_progress(call_id=call.pk)
    call = _end(org_a, call, capture)

    assert call.analysis_status == AnalysisStatus.SKIPPED
    assert text_model.requests == []
    assert hooks.received[-1].body["data"]["analysis_status"] == "skipped"


def test_a_call_that_could_not_be_placed_sends_call_failed(
    org_a, twilio, endpoint, hooks, make_agent, make_number, dial
):
    twilio.fail_next("Calls", status=400, code=21211, message="Invalid 'To' number")
    with tenant_context(org_a):
        agent = make_agent()
        make_number(agent=agent)
        call = dial(agent_id=agent.pk)

    [failed] = hooks.received
    assert failed.body["type"] == "call.failed" and failed.verified
    assert failed.body["data"]["call"]["id"] == call.pk
    assert failed.body["data"]["call"]["error_code"] == "21211"


def test_the_call_detail_shows_the_analysis(
    org_a,
    twilio,
    text_model,
    make_agent,
    make_number,
    dial,
    make_api_key,
    bearer,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    text_model.answer = GOOD
    call = _end(org_a, _answered_call(org_a, make_agent, make_number, dial, capture), capture)

    body = bearer(make_api_key(org_a, "viewer")).get(f"/api/v1/calls/{call.pk}/").json()

    assert body["analysis"] == GOOD and body["analysis_status"] == "completed"
    assert body["analysis_error"] == ""


def test_an_agents_analysis_schema_is_checked_at_save_and_versioned(org_a, make_api_key, bearer):
    admin = bearer(make_api_key(org_a, "admin"))
    agent = admin.post("/api/v1/agents/", {"name": "Dental"}, format="json").json()

    bad = admin.patch(
        f"/api/v1/agents/{agent['id']}/",
        {"analysis_schema": {"appointment_booked": "yes-or-no", "summary": "string"}},
        format="json",
    )
    good = admin.patch(f"/api/v1/agents/{agent['id']}/", {"analysis_schema": SCHEMA}, format="json")

    assert bad.status_code == 400, bad.content
    problems = bad.json()["error"]["details"]["fields"]["analysis_schema"]
    assert any("appointment_booked: type must be one of" in p for p in problems)
    assert any("summary: the analysis always has this field" in p for p in problems)
    assert good.status_code == 200, good.content
    assert good.json()["analysis_schema"] == {
        "type": "object",
        "properties": {
            "appointment_booked": {"type": "boolean"},
            "callback_time": {"type": "string"},
        },
    }
    assert good.json()["version"] == agent["version"] + 1
    versions = admin.get(f"/api/v1/agents/{agent['id']}/versions/").json()
    assert "analysis_schema" in json.dumps(versions)
