"""The batch and schedule events through the real flow, with real commits: a small batch
dialed through the Twilio fake to its end sends ``batch.progress`` at each tenth and
``batch.completed`` once, each with its own stable event id (a retried delivery carries the
same one, announcing again sends nothing); a due schedule fired by the dispatcher sends
``schedule.run`` with the run as it committed. The loopback receiver checks every signature
with the lines of docs/api.md."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from calls import services
from calls.models import Batch, Call
from integrations.webhook_models import WebhookDelivery, WebhookEvent
from tests.calls.batch_support import assert_counters, end_live_calls, is_done, make_batch
from tests.calls.schedule_support import after, once_data, runs, tick
from tests.calls.telephony_support import CALLER
from tests.integrations.webhook_support import make_endpoint

pytestmark = pytest.mark.usefixtures("loopback_allowed")


@pytest.fixture(autouse=True)
def _no_analysis(settings):
    # These tests are about batches and schedules; the calls' own analysis is not needed.
    settings.CALL_ANALYSIS_ENABLED = False


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does, for the module's committed_db tests.
@pytest.mark.django_db
def test_a_batch_event_no_endpoint_subscribes_to_records_nothing(
    org_a, receiver, twilio, make_agent, make_number
):
    make_endpoint(org_a, receiver, ["call.ended"])
    with tenant_context(org_a):
        agent = make_agent()
        batch = make_batch(agent=agent, number=make_number(agent=agent), phones=1)
        Batch.objects.filter(pk=batch.pk).update(status="completed", queued_count=0)
        services.batch_completed_announce(Batch.objects.get(pk=batch.pk))
        assert not WebhookEvent.objects.exists()
    assert receiver.received == []


def _of_type(receiver, event_type: str) -> list:
    return [d for d in receiver.received if d.body["type"] == event_type]


def test_a_batch_dialed_to_its_end_sends_its_progress_and_its_completion(
    batch_org, dialer, twilio, receiver
):
    agent, number = dialer
    make_endpoint(batch_org, receiver, ["batch.progress", "batch.completed"])
    receiver.fail_next = 1  # the first delivery is retried
    batch = make_batch(agent=agent, number=number, phones=10, max_concurrency=5)

    services.batch_start(batch=batch)
    for _ in range(20):
        if is_done(batch):
            break
        assert end_live_calls(twilio) > 0
    batch = assert_counters(Batch.objects.get(pk=batch.pk))

    assert batch.status == "completed" and batch.completed_count == 10
    assert all(d.verified for d in receiver.received)
    progress = [d for d in _of_type(receiver, "batch.progress") if d.status == 200]
    [completed] = _of_type(receiver, "batch.completed")
    # One event a tenth (never the tenth that completes it), in order, then the completion.
    assert [d.body["data"]["batch"]["percent_done"] for d in progress] == [
        10.0 * n for n in range(1, 10)
    ]
    assert all(d.body["data"]["batch"]["id"] == batch.pk for d in progress)
    assert receiver.received[-1] is completed and completed.status == 200
    assert completed.body["data"]["batch"] | {"started_at": None, "finished_at": None} == {
        "id": batch.pk,
        "name": batch.name,
        "status": "completed",
        "total_count": 10,
        "queued_count": 0,
        "in_progress_count": 0,
        "completed_count": 10,
        "failed_count": 0,
        "invalid_count": 0,
        "skipped_count": 0,
        "canceled_count": 0,
        "done_count": 10,
        "percent_done": 100.0,
        "started_at": None,
        "finished_at": None,
    }
    assert completed.body["data"]["batch"]["finished_at"]
    # Stable ids: ten events, ten ids; the failed first attempt and its retry share one.
    first, retry = receiver.received[:2]
    assert (first.status, retry.status) == (500, 200)
    assert first.body["id"] == retry.body["id"] == first.headers["x-voiceagents-event-id"]
    ids = [d.body["id"] for d in progress + [completed]]
    assert len(set(ids)) == 10
    assert set(WebhookEvent.objects.values_list("event_id", flat=True)) == set(ids)
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 10

    # Announcing the completion again (a task run twice) sends nothing more.
    services.batch_completed_announce(batch)
    assert len(receiver.received) == 11


def test_a_due_schedule_fired_by_the_dispatcher_sends_schedule_run(
    batch_org, dialer, twilio, receiver
):
    agent, _number = dialer
    make_endpoint(batch_org, receiver, ["schedule.run"])
    at = timezone.now() + dt.timedelta(minutes=10)
    schedule = services.schedule_call(data=once_data(agent, at=at.isoformat(), name="Follow-up"))

    assert tick() == 0  # not due yet: nothing fired, nothing sent
    assert receiver.received == []
    assert tick(after(schedule.scheduled_time)) == 1
    assert tick(after(schedule.scheduled_time, 60)) == 0

    [run] = runs(schedule)
    call = Call.objects.get(pk=run.call_id)
    [got] = receiver.received
    assert got.verified and got.status == 200
    assert got.body["type"] == "schedule.run"
    assert got.headers["x-voiceagents-event-id"] == got.body["id"]
    data = got.body["data"]
    assert data["schedule"] == {
        "id": schedule.pk,
        "name": "Follow-up",
        "agent_id": agent.pk,
        "phone_number": CALLER,
        "batch_id": None,
        "cron_expression": schedule.cron_expression,
        "timezone": schedule.timezone,
    }
    assert data["run"]["id"] == run.pk and data["run"]["trigger"] == "schedule"
    # Sent after the firing committed: the run as it committed, its call placed.
    assert data["run"]["status"] == "in_progress" and data["run"]["call_id"] == call.pk
    assert data["run"]["fired_at"]
    assert twilio.dialed_numbers() == [CALLER]


def test_a_schedule_run_that_cannot_call_is_announced_with_its_reason(
    batch_org, dialer, twilio, receiver
):
    agent, _number = dialer
    make_endpoint(batch_org, receiver, ["schedule.run"])
    schedule = services.schedule_call(
        data=once_data(agent, at=(timezone.now() + dt.timedelta(minutes=5)).isoformat())
    )
    services.dnc_entry_create(number=CALLER)  # added after the schedule was made

    assert tick(after(schedule.scheduled_time)) == 1

    [run] = runs(schedule)
    [got] = receiver.received
    assert got.verified and got.body["data"]["run"]["status"] == run.status
    assert got.body["data"]["run"]["reason"] == run.reason and run.reason
    assert got.body["data"]["run"]["call_id"] is None
    assert twilio.calls == {}
