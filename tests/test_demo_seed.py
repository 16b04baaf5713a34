"""The demo's sample data (calls.demo through ``seed_demo``, run by ``bootstrap_demo``): one of
each thing an operator works with, labelled as demo, in the demo organization only; exact batch
counters; nothing added twice; a flag to skip it; every admin list shows it.

The session's ``alpha`` organization stands in for the demo organization (``--slug alpha``), so
no schema is created per test; BASE_DIR points at a temporary directory so the command's saved
login (var/demo-credentials.json) never touches a developer's."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django_tenants.utils import tenant_context

from agents.models import Agent
from calls.demo import (
    AGENT_NAME,
    BATCH_NAME,
    DEMO_MARKER,
    DEMO_NUMBER,
    DNC_NUMBER,
    KNOWLEDGE_BASE_NAME,
    ONE_TIME_SCHEDULE_NAME,
    RECURRING_SCHEDULE_NAME,
)
from calls.models import (
    AnalysisStatus,
    Batch,
    BatchRow,
    BatchStatus,
    Call,
    CallEvent,
    DoNotCallEntry,
    PhoneNumber,
    ScheduledCall,
    ScheduleStatus,
    TranscriptTurn,
)
from knowledge.models import Document, KnowledgeBase
from organizations.models import User

pytestmark = pytest.mark.django_db

EMAIL = "admin@demo.localhost"
SEEDED_MODELS = (
    Agent,
    KnowledgeBase,
    Document,
    PhoneNumber,
    DoNotCallEntry,
    Batch,
    BatchRow,
    Call,
    CallEvent,
    TranscriptTurn,
    ScheduledCall,
)


@pytest.fixture
def bootstrap(tmp_path):
    def run(*flags: str) -> str:
        out = StringIO()
        with override_settings(BASE_DIR=tmp_path):
            call_command("bootstrap_demo", "--slug", "alpha", "--email", EMAIL, *flags, stdout=out)
        return out.getvalue()

    return run


def _counts(org) -> dict[str, int]:
    with tenant_context(org):
        return {model.__name__: model.objects.count() for model in SEEDED_MODELS}


def test_seeding_creates_each_kind_of_object_in_the_demo_tenant(bootstrap, org_a, org_b):
    output = bootstrap()

    with tenant_context(org_a):
        agent = Agent.objects.get(name=AGENT_NAME)
        assert agent.analysis_schema["properties"]["appointment_confirmed"]["type"] == "boolean"
        assert agent.versions.get().note == "Demo sample data"
        knowledge_base = KnowledgeBase.objects.get(name=KNOWLEDGE_BASE_NAME)
        assert list(agent.knowledge_bases.all()) == [knowledge_base]
        document = Document.objects.get(knowledge_base=knowledge_base)
        assert document.metadata == {DEMO_MARKER: True}
        assert document.latest_version is not None  # embedded by the worker after commit
        assert PhoneNumber.objects.get(number=DEMO_NUMBER).agent == agent
        assert DoNotCallEntry.objects.get(number=DNC_NUMBER).reason.startswith("Demo")

        batch = Batch.objects.get(name=BATCH_NAME)
        assert batch.status == BatchStatus.COMPLETED and batch.finished_at is not None
        calls = list(Call.objects.filter(batch=batch).order_by("to_number"))
        assert len(calls) == 4
        assert all(call.is_final and call.provider_call_id.startswith("DEMO-") for call in calls)
        analysed = [call for call in calls if call.analysis_status == AnalysisStatus.COMPLETED]
        assert len(analysed) == 3
        for call in analysed:
            assert call.transcript.count() >= 4
            assert {"summary", "sentiment", "goal_reached", "fields"} <= set(call.analysis)
            assert "appointment_confirmed" in call.analysis["fields"]
        for call in calls:
            names = list(call.events.values_list("name", flat=True))
            assert names[0] == "created" and names[-1] == call.status
            assert call.batch_row.last_call_id == call.pk

        schedules = {schedule.name: schedule for schedule in ScheduledCall.objects.all()}
        assert set(schedules) == {ONE_TIME_SCHEDULE_NAME, RECURRING_SCHEDULE_NAME}
        assert schedules[RECURRING_SCHEDULE_NAME].cron_expression == "0 10 * * 1"
        assert schedules[ONE_TIME_SCHEDULE_NAME].scheduled_time is not None
        # Paused: a demo has no carrier credentials, a run could only fail.
        assert {schedule.status for schedule in schedules.values()} == {ScheduleStatus.PAUSED}
        assert {schedule.created_by.email for schedule in schedules.values()} == {EMAIL}

    # Nothing in another organization.
    assert all(count == 0 for count in _counts(org_b).values())
    # The login is still the last thing printed, after the seeding's line.
    assert output.index("[demo] sample data added") < output.index("Password:")
    assert output.rstrip().splitlines()[-1] == "=" * 64


def test_the_demo_batchs_counters_are_exact(bootstrap, org_a):
    bootstrap()

    with tenant_context(org_a):
        batch = Batch.objects.get(name=BATCH_NAME)
        rows = {row.line_number: row for row in BatchRow.objects.filter(batch=batch)}
        by_status: dict[str, int] = {}
        for row in rows.values():
            by_status[row.status] = by_status.get(row.status, 0) + 1
    assert batch.total_count == len(rows) == 6
    assert batch.total_count == (
        batch.queued_count
        + batch.in_progress_count
        + batch.completed_count
        + batch.failed_count
        + batch.invalid_count
        + batch.skipped_count
        + batch.canceled_count
    )
    assert by_status == {"completed": 3, "failed": 1, "invalid": 1, "skipped": 1}
    assert (batch.completed_count, batch.failed_count) == (3, 1)
    assert (batch.invalid_count, batch.skipped_count) == (1, 1)
    assert batch.queued_count == batch.in_progress_count == batch.canceled_count == 0
    invalid = next(row for row in rows.values() if row.status == "invalid")
    skipped = next(row for row in rows.values() if row.status == "skipped")
    failed = next(row for row in rows.values() if row.status == "failed")
    assert invalid.error  # the reason the number was refused
    assert skipped.error == "On the do-not-call list."
    assert failed.outcome == "no_answer" and failed.attempts == 1


def test_running_it_twice_adds_nothing(bootstrap, org_a):
    bootstrap()
    first = _counts(org_a)

    output = bootstrap()

    assert _counts(org_a) == first
    assert "[demo] sample data already in" in output
    assert User.objects.filter(email=EMAIL).count() == 1


def test_the_flag_skips_the_sample_data(bootstrap, org_a):
    output = bootstrap("--no-sample-data")

    assert all(count == 0 for count in _counts(org_a).values())
    assert "[demo]" not in output
    assert "Password:" in output  # the organization and its login are still made


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/admin/agents/agent/", AGENT_NAME),
        ("/admin/calls/call/", "+14155550101"),
        ("/admin/calls/batch/", BATCH_NAME),
        ("/admin/calls/batchrow/", "On the do-not-call list."),
        ("/admin/calls/scheduledcall/", RECURRING_SCHEDULE_NAME),
        ("/admin/knowledge/knowledgebase/", KNOWLEDGE_BASE_NAME),
        ("/admin/knowledge/document/", "Demo — Opening hours and services"),
        ("/admin/calls/phonenumber/", DEMO_NUMBER),
        ("/admin/calls/donotcallentry/", DNC_NUMBER),
    ],
)
def test_the_admin_lists_show_the_seeded_rows(bootstrap, org_a, url, shown):
    bootstrap()
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(User.objects.get(email=EMAIL))

    response = client.get(url)

    assert response.status_code == 200
    assert shown in response.content.decode()


def test_the_demo_document_is_embedded_by_the_offline_embedder(
    bootstrap, org_a, settings, django_capture_on_commit_callbacks
):
    # The worker's job, run in-process: the ingestion task queued on commit.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        bootstrap()

    with tenant_context(org_a):
        knowledge_base = KnowledgeBase.objects.get(name=KNOWLEDGE_BASE_NAME)
        document = Document.objects.get(knowledge_base=knowledge_base)
        version = document.current_version
        assert knowledge_base.embedding_model == "local/all-MiniLM-L6-v2"
        assert version is not None
        assert version.status == "ready", version.error_message
        assert version.chunks_total >= 1 and version.chunks_done == version.chunks_total
        assert document.chunks.filter(version=version).count() == version.chunks_total


def test_the_seeded_objects_pages_open(bootstrap, org_a):
    bootstrap()
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(User.objects.get(email=EMAIL))
    with tenant_context(org_a):
        call = Call.objects.filter(analysis__isnull=False).order_by("to_number").first()
        pages = {
            f"/admin/calls/call/{call.pk}/change/": call.transcript.first().text,
            f"/admin/calls/batch/{Batch.objects.get().pk}/change/": BATCH_NAME,
            f"/admin/calls/scheduledcall/{ScheduledCall.objects.first().pk}/change/": "Demo",
            f"/admin/agents/agent/{Agent.objects.get().pk}/change/": AGENT_NAME,
            f"/admin/knowledge/knowledgebase/{KnowledgeBase.objects.get().pk}/change/": "Demo",
            f"/admin/calls/phonenumber/{PhoneNumber.objects.get().pk}/change/": DEMO_NUMBER,
        }

    for url, shown in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert shown in response.content.decode(), url
