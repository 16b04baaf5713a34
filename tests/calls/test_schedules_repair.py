"""Runs left behind: a run whose call ended while its end-of-call hook was lost (the process
died between the call's commit and the hook) is finished by the stale-calls sweep, once, under
the hook's own locks; a schedule's batch run is finished with its batch (completed, canceled,
or with nothing to dial), its outcome read from the batch's counters. Real commits, the
Twilio fake at the network edge."""

import datetime as dt

import pytest
from django.utils import timezone

from calls import services
from calls.models import Batch, BatchRow, Call, ScheduledRun
from calls.services.schedule_batch_runs import scheduled_run_batch_ended
from calls.services.schedule_runs import REPAIR_AFTER
from tests.calls.batch_support import end_call, end_live_calls, make_batch
from tests.calls.schedule_support import after, fresh, index_entry, once_data, runs, tick


def soon(minutes=10):
    return (timezone.now() + dt.timedelta(minutes=minutes)).isoformat()


def crash_after_commit(run: ScheduledRun, status: str, *, ago: dt.timedelta) -> Call:
    """The run's call committed as final ``ago`` ago, and its hook never ran: the row as a
    process that died between the commit and the hook leaves it."""
    Call.objects.filter(pk=run.call_id).update(status=status, ended_at=timezone.now() - ago)
    return Call.objects.get(pk=run.call_id)


def sweep() -> None:
    services.call_stale_reconcile()


# --- lost end-of-call hooks -----------------------------------------------------------------------


def test_a_lost_hook_is_repaired_by_the_sweep_and_the_run_retried_once(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_call(
        data=once_data(agent, at=soon(), max_attempts=2, retry_delay_seconds=300)
    )
    tick(after(schedule.next_run_at))
    (run,) = runs(schedule)
    call = crash_after_commit(run, "no_answer", ago=2 * REPAIR_AFTER)
    assert runs(schedule)[0].status == "in_progress"  # stuck: nothing else would move it

    sweep()

    (run,) = runs(schedule)
    assert (run.status, run.attempts, run.outcome) == ("waiting", 1, "no_answer")
    assert index_entry(schedule).next_run_at == run.next_attempt_at  # the index wakes for it
    # Once: a second sweep, or the lost hook running late after all, changes nothing.
    sweep()
    assert services.scheduled_run_call_ended(call_id=call.pk) is None
    (again,) = runs(schedule)
    assert (again.status, again.next_attempt_at, again.updated_at) == (
        "waiting",
        run.next_attempt_at,
        run.updated_at,
    )

    assert tick(after(run.next_attempt_at)) == 1  # the retry fires as any retry does
    (run,) = runs(schedule)
    assert (run.status, run.attempts, len(twilio.calls)) == ("in_progress", 2, 2)
    end_call(twilio, Call.objects.get(pk=run.call_id).provider_call_id, "completed")
    (run,) = runs(schedule)
    assert (run.status, run.outcome) == ("completed", "answered")


def test_a_lost_hook_of_a_last_attempt_ends_the_run(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_call(data=once_data(agent, at=soon()))
    tick(after(schedule.next_run_at))
    (run,) = runs(schedule)
    crash_after_commit(run, "completed", ago=2 * REPAIR_AFTER)

    sweep()

    (run,) = runs(schedule)
    assert (run.status, run.outcome) == ("completed", "answered")
    assert not index_entry(schedule).active
    assert len(twilio.calls) == 1


def test_a_call_that_just_ended_is_left_to_its_own_hook(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_call(data=once_data(agent, at=soon(), max_attempts=2))
    tick(after(schedule.next_run_at))
    (run,) = runs(schedule)
    crash_after_commit(run, "busy", ago=dt.timedelta(seconds=1))

    sweep()

    assert runs(schedule)[0].status == "in_progress"
    assert services.scheduled_runs_repair(now=timezone.now() + REPAIR_AFTER) == 1
    assert runs(schedule)[0].status == "waiting"


# --- batch runs -----------------------------------------------------------------------------------


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does, for the module's committed_db tests.
@pytest.mark.django_db
def test_a_batch_still_running_finishes_no_run():
    assert scheduled_run_batch_ended(batch=Batch(pk=1, status="running")) == 0


def test_a_scheduled_batch_run_finishes_with_its_batch(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=3)
    schedule = services.schedule_call(data={"batch_id": batch.pk, "scheduled_time": soon()})
    tick(after(schedule.next_run_at))
    assert runs(schedule)[0].status == "started"

    live = twilio.live_calls()
    end_call(twilio, live[0].sid, "completed")
    end_call(twilio, live[1].sid, "completed")
    assert runs(schedule)[0].status == "started"  # one row still up
    end_call(twilio, live[2].sid, "failed")

    (run,) = runs(schedule)
    assert Batch.objects.get(pk=batch.pk).status == "completed"
    assert (run.status, run.outcome, run.batch_id) == ("completed", "answered", batch.pk)
    assert run.details["batch_counters"]["completed"] == 2
    assert run.details["batch_counters"]["failed"] == 1
    assert run.reason.startswith("Batch completed: ")
    sweep()
    assert runs(schedule)[0].updated_at == run.updated_at  # finished once


def test_a_recurring_batch_run_whose_calls_all_failed_is_failed(dialer, twilio):
    agent, number = dialer
    template = make_batch(agent=agent, number=number, phones=2)
    schedule = services.schedule_recurring(
        data={"batch_id": template.pk, "cron_expression": "0 9 * * *", "timezone": "UTC"}
    )
    tick(after(fresh(schedule).next_run_at))
    assert end_live_calls(twilio, "busy") == 2
    (run,) = runs(schedule)
    assert run.batch_id != template.pk
    assert (run.status, run.outcome) == ("failed", "failed")
    assert run.details["batch_counters"]["failed"] == 2


def test_a_canceled_batch_run_is_finished_with_the_cancel(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=2)
    schedule = services.schedule_call(data={"batch_id": batch.pk, "scheduled_time": soon()})
    tick(after(schedule.next_run_at))

    services.batch_cancel(batch=Batch.objects.get(pk=batch.pk), reason="Wrong list.")

    (run,) = runs(schedule)
    assert (run.status, run.outcome) == ("canceled", "canceled")
    assert run.reason.startswith("Batch canceled: ")
    assert sum(run.details["batch_counters"].values()) == 2


def test_a_canceled_batch_run_left_started_is_finished_by_the_sweep(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=2)
    schedule = services.schedule_call(data={"batch_id": batch.pk, "scheduled_time": soon()})
    tick(after(schedule.next_run_at))
    services.batch_cancel(batch=Batch.objects.get(pk=batch.pk), reason="Wrong list.")
    # As a crash between the cancel and the run's end would leave it (before the cancel
    # finished runs itself, every canceled batch's run was left so).
    ScheduledRun.objects.filter(batch_id=batch.pk).update(status="started", outcome="")

    sweep()

    (run,) = runs(schedule)
    assert (run.status, run.outcome) == ("canceled", "canceled")
    assert run.reason.startswith("Batch canceled: ")


def test_a_batch_with_nothing_to_dial_ends_its_run_at_once(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=2)
    BatchRow.objects.filter(batch=batch).update(status="invalid", phone_number="", error="No.")
    Batch.objects.filter(pk=batch.pk).update(queued_count=0, invalid_count=2)
    schedule = services.schedule_call(data={"batch_id": batch.pk, "scheduled_time": soon()})

    tick(after(schedule.next_run_at))

    (run,) = runs(schedule)
    assert Batch.objects.get(pk=batch.pk).status == "completed"
    assert (run.status, run.outcome) == ("skipped", "")
    assert twilio.calls == {}
