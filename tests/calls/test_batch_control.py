"""Controlling a batch: start, pause, resume, cancel and retry-failed, each audited on the
batch's timeline; calls in flight always finish, nothing new starts when it should not, and
the counters stay exact after every step."""

import pytest
from django_tenants.utils import tenant_context

from agents.models import AgentStatus
from calls import services
from calls.exceptions import AgentUnavailable, BatchStatusConflict
from calls.models import Batch, BatchEvent, BatchRow, BatchRowStatus, BatchStatus
from organizations.models import Organization
from tests.calls.batch_support import (
    assert_counters,
    end_call,
    end_live_calls,
    make_batch,
    phone,
    sid_of,
    statuses,
)
from tests.organizations.factories import UserFactory


def timeline(batch):
    return list(BatchEvent.objects.filter(batch=batch).values_list("name", flat=True))


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does, for the module's committed_db tests.
@pytest.mark.django_db
def test_every_control_action_has_a_past_participle_for_its_refusal():
    from calls.services.batch_control import _PAST

    assert set(_PAST) == {"start", "pause", "resume", "cancel", "retry_failed"}


def test_start_runs_a_draft_batch_and_records_who_started_it(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=3)
    user = UserFactory()

    batch = services.batch_start(batch=batch, actor=user)

    assert batch.status == BatchStatus.RUNNING and batch.started_at is not None
    (event,) = BatchEvent.objects.filter(batch=batch)
    assert (event.kind, event.name, event.actor_id) == ("action", "started", user.pk)
    assert event.payload == {"queued": 3, "total": 3}
    assert len(twilio.calls) == 3
    with pytest.raises(BatchStatusConflict) as refused:
        services.batch_start(batch=batch)
    assert refused.value.details["status"] == "running"
    assert_counters(batch)


def test_a_batch_whose_agent_is_paused_does_not_start(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=2)
    type(agent).objects.filter(pk=agent.pk).update(status=AgentStatus.PAUSED)

    with pytest.raises(AgentUnavailable):
        services.batch_start(batch=batch)

    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.DRAFT
    assert twilio.calls == {} and timeline(batch) == []


def test_a_batch_with_nothing_to_dial_completes_when_started(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=2)
    services.batch_rows_transition(
        batch_id=batch.pk,
        rows=BatchRow.objects.all(),
        from_status=BatchRowStatus.QUEUED,
        to_status=BatchRowStatus.INVALID,
    )

    batch = services.batch_start(batch=batch)

    assert batch.status == BatchStatus.COMPLETED and batch.finished_at is not None
    assert timeline(batch) == ["started", "completed"]
    assert twilio.calls == {}
    assert_counters(batch)


def test_pause_lets_calls_in_flight_finish_and_starts_nothing_new(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=5, max_concurrency=2)
    services.batch_start(batch=batch)
    assert len(twilio.calls) == 2

    batch = services.batch_pause(batch=batch, reason="Lunch break")
    assert (batch.status, batch.status_reason) == ("paused", "Lunch break")
    end_live_calls(twilio, "completed")

    assert len(twilio.calls) == 2  # the freed slots stay empty
    batch = assert_counters(batch)
    assert (batch.completed_count, batch.in_progress_count, batch.queued_count) == (2, 0, 3)
    assert batch.status == BatchStatus.PAUSED
    assert services.batch_dispatch(batch_id=batch.pk).stopped == "not_running"
    with pytest.raises(BatchStatusConflict):
        services.batch_pause(batch=batch)

    batch = services.batch_resume(batch=batch)

    assert batch.status == BatchStatus.RUNNING and batch.status_reason == ""
    assert len(twilio.calls) == 4
    assert timeline(batch) == ["started", "paused", "resumed"]
    resumed = BatchEvent.objects.get(batch=batch, name="resumed")
    assert resumed.payload == {"paused_because": "Lunch break"}
    assert_counters(batch)


def test_cancel_marks_queued_rows_canceled_and_lets_calls_in_flight_finish(dialer, twilio):
    agent, number = dialer
    batch = make_batch(
        agent=agent,
        number=number,
        phones=6,
        max_concurrency=2,
        max_attempts=3,
        retry_outcomes=["busy"],
        retry_delay_seconds=0,
    )
    services.batch_start(batch=batch)

    batch = services.batch_cancel(batch=batch, reason="Wrong list")

    assert batch.status == BatchStatus.CANCELED and batch.finished_at is not None
    batch = assert_counters(batch)
    assert (batch.canceled_count, batch.in_progress_count, batch.queued_count) == (4, 2, 0)
    assert BatchEvent.objects.get(batch=batch, name="canceled").payload == {
        "reason": "Wrong list",
        "rows_canceled": 4,
    }
    # The two calls in flight finish; a busy one would be retried, but not in a canceled batch.
    end_call(twilio, sid_of(twilio, phone(0)), "completed", duration=20)
    end_call(twilio, sid_of(twilio, phone(1)), "busy")

    assert len(twilio.calls) == 2
    assert statuses(batch)[phone(0)] == "completed"
    assert statuses(batch)[phone(1)] == "canceled"
    batch = assert_counters(batch)
    assert batch.status == BatchStatus.CANCELED and batch.in_progress_count == 0
    for refused in (services.batch_resume, services.batch_start, services.batch_cancel):
        with pytest.raises(BatchStatusConflict):
            refused(batch=batch)


def test_cancel_of_a_draft_cancels_every_row(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=4)

    services.batch_cancel(batch=batch)

    batch = assert_counters(batch)
    assert batch.canceled_count == 4 and batch.status == BatchStatus.CANCELED
    assert twilio.calls == {}


def test_retry_failed_gives_failed_rows_another_round_and_reopens_a_completed_batch(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=3, retry_outcomes=[])
    services.batch_start(batch=batch)
    end_call(twilio, sid_of(twilio, phone(0)), "completed", duration=10)
    end_call(twilio, sid_of(twilio, phone(1)), "no-answer")
    end_call(twilio, sid_of(twilio, phone(2)), "busy")
    batch = assert_counters(batch)
    assert (batch.status, batch.failed_count, batch.completed_count) == ("completed", 2, 1)

    batch = services.batch_retry_failed(batch=batch)

    assert batch.status == BatchStatus.RUNNING and batch.finished_at is None
    assert sorted(twilio.dialed_numbers()) == sorted(
        [phone(0), phone(1), phone(1), phone(2), phone(2)]
    )
    retried = BatchRow.objects.get(batch=batch, phone_number=phone(1))
    assert retried.attempts == 1 and retried.status == BatchRowStatus.IN_PROGRESS
    assert BatchEvent.objects.get(batch=batch, name="failed_rows_retried").payload == {"rows": 2}
    end_live_calls(twilio, "completed")
    batch = assert_counters(batch)
    assert (batch.status, batch.completed_count) == ("completed", 3)
    assert timeline(batch) == ["started", "completed", "failed_rows_retried", "completed"]


def test_a_batch_whose_agent_is_paused_mid_batch_pauses_itself_with_the_reason(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=4, max_concurrency=1)
    services.batch_start(batch=batch)
    type(agent).objects.filter(pk=agent.pk).update(status=AgentStatus.PAUSED)

    end_live_calls(twilio, "completed")  # the freed slot cannot be used

    batch = assert_counters(batch)
    assert batch.status == BatchStatus.PAUSED and "paused" in batch.status_reason.lower()
    assert (batch.queued_count, batch.failed_count) == (3, 0)  # rows wait, none failed
    assert BatchEvent.objects.get(batch=batch, name="paused_on_error").payload["code"] == (
        "agent_unavailable"
    )
    assert len(twilio.calls) == 1


# --- the API -------------------------------------------------------------------------------------


def api_key(org, role):
    """A committed API key (the ``make_api_key`` fixture would open the test transaction)."""
    from organizations.services import api_key_create

    _key, raw = api_key_create(organization=org, name=f"{role} key", role=role)
    return raw


def test_members_control_a_batch_through_the_api(batch_org, dialer, twilio, bearer):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=4, max_concurrency=1)
    member = bearer(api_key(batch_org, "member"))
    base = f"/api/v1/batches/{batch.pk}"

    started = member.post(f"{base}/start/")
    assert started.status_code == 200, started.content
    assert len(twilio.calls) == 1, started.json()
    assert started.json()["status"] == "running"
    paused = member.post(f"{base}/pause/", {"reason": "Checking the script"}, format="json")
    assert paused.status_code == 200, paused.content
    assert (paused.json()["status"], paused.json()["status_reason"]) == (
        "paused",
        "Checking the script",
    )
    again = member.post(f"{base}/pause/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "batch_status_conflict"
    assert again.json()["error"]["details"]["status"] == "paused"
    assert member.post(f"{base}/resume/").json()["status"] == "running"
    canceled = member.post(f"{base}/cancel/", {"reason": "Done for today"}, format="json")
    assert canceled.json()["status"] == "canceled"
    assert member.post(f"{base}/retry-failed/").status_code == 409

    with tenant_context(batch_org):
        batch = assert_counters(batch)
        assert batch.canceled_count == 3 and batch.in_progress_count == 1
        events = BatchEvent.objects.filter(batch=batch).order_by("created_at", "id")
        assert [e.name for e in events] == ["started", "paused", "resumed", "canceled"]
        assert BatchEvent.objects.get(batch=batch, name="paused").payload == {
            "reason": "Checking the script"
        }


def test_retry_failed_through_the_api(batch_org, dialer, twilio, bearer):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=1, retry_outcomes=[])
    services.batch_start(batch=batch)
    end_live_calls(twilio, "busy")
    member = bearer(api_key(batch_org, "member"))

    response = member.post(f"/api/v1/batches/{batch.pk}/retry-failed/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "running"
    assert twilio.dialed_numbers() == [phone(0), phone(0)]


def test_viewers_cannot_control_batches_and_other_organizations_batches_are_not_found(
    batch_org, dialer, twilio, bearer
):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=1)
    viewer = bearer(api_key(batch_org, "viewer"))
    stranger = bearer(api_key(Organization.objects.get(slug="beta"), "owner"))

    for action in ("start", "pause", "resume", "cancel", "retry-failed"):
        response = viewer.post(f"/api/v1/batches/{batch.pk}/{action}/")
        assert response.status_code == 403, (action, response.content)
        response = stranger.post(f"/api/v1/batches/{batch.pk}/{action}/")
        assert response.status_code == 404, (action, response.content)

    with tenant_context(batch_org):
        assert Batch.objects.get(pk=batch.pk).status == BatchStatus.DRAFT
    assert twilio.calls == {}
