"""The batch report's analysis columns: each line carries its row's last call's post-call
analysis (summary, sentiment, goal reached, then one column per field of the agent's analysis
schema), the calls analysed by the real service through the OpenAI SDK against the loopback
chat-completions fake; a line without an analysed call leaves them empty."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import AnalysisStatus, BatchRow, Call, CallStatus, TranscriptTurn
from calls.services import call_analyze

pytestmark = pytest.mark.django_db

ADA, BOB, CY = "+14155550101", "+14155550102", "+14155550103"
# ``outcome`` is also a report column: the analysis's comes prefixed, so both are kept.
SCHEMA = {"appointment_booked": "boolean", "callback_time": "string", "outcome": "string"}
FIRST = {
    "summary": "Nobody could talk; call back later.",
    "sentiment": "neutral",
    "goal_reached": False,
    "fields": {"appointment_booked": False, "callback_time": "", "outcome": "callback"},
}
LAST = {
    "summary": "Ada booked a visit for Tuesday, at ten.",
    "sentiment": "positive",
    "goal_reached": True,
    "fields": {
        "appointment_booked": True,
        "callback_time": "2026-03-03T10:00:00Z",
        "outcome": "booked",
    },
}


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


@pytest.fixture
def agent(alpha, make_agent, make_number):
    with alpha():
        agent = make_agent(name="Booker", system_prompt="Book a visit.", analysis_schema=SCHEMA)
        make_number(agent=agent)
    return agent


def _analysed_call(row: BatchRow, text_model, answer, *, transcript: bool = True) -> Call:
    """A completed call of ``row``, analysed by the service with the fake's ``answer``."""
    call = Call.objects.create(
        direction="outbound",
        from_number="+14155550100",
        to_number=row.phone_number,
        provider="twilio",
        status=CallStatus.COMPLETED,
        end_reason="caller_hangup",
        duration_seconds=30,
        agent=row.batch.agent,
        batch_id=row.batch_id,
        batch_row=row,
    )
    if transcript:
        TranscriptTurn.objects.create(call=call, speaker="agent", text="Hello, Acme dental.")
        TranscriptTurn.objects.create(call=call, speaker="caller", text="Tuesday at ten?")
    text_model.answer = answer
    call_analyze(call_id=call.pk)
    call.refresh_from_db()
    BatchRow.objects.filter(pk=row.pk).update(
        status="completed", outcome="answered", attempts=row.attempts + 1, last_call=call
    )
    row.attempts += 1
    return call


def _report(member, batch_id: int) -> list[dict[str, str]]:
    response = member.get(f"/api/v1/batches/{batch_id}/report.csv")
    assert response.status_code == 200, response.content
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_each_line_carries_its_last_calls_analysis(member, agent, alpha, text_model):
    text = f"phone,name\n{ADA},Ada\n{BOB},Bob\n{CY},Cy\n"
    upload = SimpleUploadedFile("list.csv", text.encode())
    created = member.post(
        "/api/v1/batches/", {"agent_id": agent.pk, "file": upload}, format="multipart"
    )
    assert created.status_code == 201, created.content
    batch_id = created.json()["id"]
    with alpha():
        ada, bob, _cy = BatchRow.objects.filter(batch_id=batch_id).order_by("line_number")
        _analysed_call(ada, text_model, FIRST)
        last = _analysed_call(ada, text_model, LAST)
        unanalysed = _analysed_call(bob, text_model, LAST, transcript=False)
    assert last.analysis_status == AnalysisStatus.COMPLETED
    assert unanalysed.analysis_status == AnalysisStatus.SKIPPED

    lines = _report(member, batch_id)

    assert list(lines[0])[-8:] == [
        "phone_number",
        "error",
        "analysis_summary",
        "analysis_sentiment",
        "analysis_goal_reached",
        "analysis_appointment_booked",
        "analysis_callback_time",
        "analysis_outcome",
    ]
    ada_line, bob_line, cy_line = lines
    assert ada_line["outcome"] == "answered"
    assert {k: v for k, v in ada_line.items() if k.startswith("analysis_")} == {
        "analysis_summary": "Ada booked a visit for Tuesday, at ten.",
        "analysis_sentiment": "positive",
        "analysis_goal_reached": "true",
        "analysis_appointment_booked": "true",
        "analysis_callback_time": "2026-03-03T10:00:00Z",
        "analysis_outcome": "booked",
    }
    for line in (bob_line, cy_line):  # no transcript: skipped; never called: nothing
        assert all(v == "" for k, v in line.items() if k.startswith("analysis_"))


def test_a_field_added_to_the_schema_later_is_an_empty_column_for_older_calls(
    member, agent, alpha, text_model
):
    upload = SimpleUploadedFile("one.csv", f"phone\n{ADA}\n".encode())
    batch_id = member.post(
        "/api/v1/batches/", {"agent_id": agent.pk, "file": upload}, format="multipart"
    ).json()["id"]
    with alpha():
        [row] = BatchRow.objects.filter(batch_id=batch_id)
        _analysed_call(row, text_model, LAST)
        agent.analysis_schema = {
            "type": "object",
            "properties": {
                **{name: {"type": kind} for name, kind in SCHEMA.items()},
                "insurance": {"type": "string"},
            },
        }
        agent.save(update_fields=["analysis_schema"])

    [line] = _report(member, batch_id)

    assert line["analysis_appointment_booked"] == "true"
    assert line["analysis_insurance"] == ""


def test_an_input_column_named_like_an_analysis_column_keeps_its_name(
    member, agent, alpha, text_model
):
    text = f"phone,analysis_summary\n{ADA},from the list\n"
    upload = SimpleUploadedFile("clash.csv", text.encode())
    batch_id = member.post(
        "/api/v1/batches/", {"agent_id": agent.pk, "file": upload}, format="multipart"
    ).json()["id"]
    with alpha():
        [row] = BatchRow.objects.filter(batch_id=batch_id)
        _analysed_call(row, text_model, LAST)

    [line] = _report(member, batch_id)

    assert line["analysis_summary"] == "from the list"
    assert line["batch_analysis_summary"] == LAST["summary"]
