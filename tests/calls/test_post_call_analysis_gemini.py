"""Post-call analysis of a Gemini agent's call: the real ``google-genai`` SDK asks a loopback
``generateContent`` fake for JSON under the analysis schema, with the organization's own
Gemini key when it has one; the answer is checked against the schema and stored, and sent
with ``call.ended``; a model error leaves no analysis."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django_tenants.utils import tenant_context

from calls import services
from calls.models import AnalysisStatus, Call, TranscriptTurn
from integrations.services import credential_create
from integrations.webhook_services import webhook_endpoint_create
from tests.fakes import gemini_http
from tests.fakes.gemini_http import FakeGeminiText

pytestmark = pytest.mark.django_db

SCHEMA = {"appointment_booked": "boolean", "callback_time": "string"}
GOOD = {
    "summary": "The caller booked a visit for Tuesday.",
    "sentiment": "positive",
    "goal_reached": True,
    "fields": {"appointment_booked": True, "callback_time": "2026-03-03T10:00:00Z"},
}
ORG_KEY = "org-gemini-key-5d1e9a0c7b3f"


@pytest.fixture
def gemini_text(settings):
    with FakeGeminiText() as fake:
        settings.GEMINI_API_KEY = gemini_http.API_KEY
        settings.GEMINI_BASE_URL = fake.base_url
        settings.CELERY_TASK_ALWAYS_EAGER = True
        yield fake


@pytest.fixture
def endpoint(org_a, hooks):
    with tenant_context(org_a):
        endpoint, secret = webhook_endpoint_create(
            data={"url": hooks.url(), "event_types": ["call.ended"]}
        )
    hooks.secret = secret
    return endpoint


def _analysed(org_a, make_agent, make_number, dial, capture) -> Call:
    """A Gemini agent's call, answered, talked through and ended by the services."""
    with tenant_context(org_a):
        agent = make_agent(
            ai_provider="gemini", system_prompt="Book a dental visit.", analysis_schema=SCHEMA
        )
        make_number(agent=agent)
        call = dial(agent_id=agent.pk)
        with capture(execute=True):
            services.call_mark_in_progress(call_id=call.pk)
        TranscriptTurn.objects.create(call=call, speaker="agent", text="Hello, Acme dental.")
        TranscriptTurn.objects.create(
            call=call, speaker="caller", text="I'd like Tuesday at ten.", start_ms=1500
        )
    with tenant_context(org_a), capture(execute=True):
        services.call_finalize(call_id=call.pk, end_reason="caller_hangup")
    with tenant_context(org_a):
        return Call.objects.get(pk=call.pk)


def test_a_gemini_call_is_analysed_through_generate_content_and_sent_with_call_ended(
    org_a,
    twilio,
    gemini_text,
    endpoint,
    hooks,
    make_agent,
    make_number,
    dial,
    settings,
    django_capture_on_commit_callbacks,
):
    gemini_text.answer = GOOD

    call = _analysed(org_a, make_agent, make_number, dial, django_capture_on_commit_callbacks)

    assert call.analysis_status == AnalysisStatus.COMPLETED, call.analysis_error
    assert call.analysis == GOOD
    [request] = gemini_text.requests
    assert request.path.endswith(f"/models/{settings.CALL_ANALYSIS_GEMINI_MODEL}:generateContent")
    assert request.headers["x-goog-api-key"] == gemini_http.API_KEY
    config = request.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseJsonSchema"]
    assert schema["properties"]["fields"]["properties"] == {
        "appointment_booked": {"type": "boolean"},
        "callback_time": {"type": "string"},
    }
    assert "caller: I'd like Tuesday at ten." in str(request.body["contents"])
    assert request.body["systemInstruction"]["parts"][0]["text"]
    [ended] = hooks.received
    assert ended.verified and ended.body["type"] == "call.ended"
    assert ended.body["data"]["analysis"] == GOOD


def test_the_organizations_own_gemini_key_is_used(
    org_a,
    twilio,
    gemini_text,
    hooks,
    make_agent,
    make_number,
    dial,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.SECRETS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    gemini_text.api_keys.add(ORG_KEY)
    gemini_text.answer = GOOD
    with tenant_context(org_a):
        credential_create(kind="gemini", secret=ORG_KEY, identifiers={})

    call = _analysed(org_a, make_agent, make_number, dial, django_capture_on_commit_callbacks)

    assert call.analysis_status == AnalysisStatus.COMPLETED, call.analysis_error
    assert {r.headers["x-goog-api-key"] for r in gemini_text.requests} == {ORG_KEY}
    assert ORG_KEY not in call.analysis_error


@pytest.mark.parametrize("failure", ["status", "not_json", "off_schema"])
def test_a_gemini_answer_that_fails_leaves_no_analysis(
    org_a,
    twilio,
    gemini_text,
    endpoint,
    hooks,
    make_agent,
    make_number,
    dial,
    django_capture_on_commit_callbacks,
    failure,
):
    if failure == "status":
        gemini_text.status = 503
    elif failure == "not_json":
        gemini_text.raw_answer = "Sure! Here is the analysis."
    else:
        gemini_text.answer = {**GOOD, "sentiment": "ecstatic"}

    call = _analysed(org_a, make_agent, make_number, dial, django_capture_on_commit_callbacks)

    assert call.analysis_status == AnalysisStatus.FAILED and call.analysis is None
    expected = {"status": "Gemini: 503", "not_json": "not JSON", "off_schema": "sentiment"}
    assert expected[failure] in call.analysis_error
    [ended] = hooks.received
    assert ended.body["data"]["analysis"] is None
    assert ended.body["data"]["analysis_status"] == "failed"
