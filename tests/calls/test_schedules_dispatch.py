"""The schedules' dispatcher against the Twilio fake, with real commits: a one-time run fires
once and the schedule completes; a cron schedule fires and advances; the public index is kept
in step with the tenant row in the same transaction; two dispatchers racing fire each run
once; the missed-run policy (never a burst); retries per the schedule's policy; pause and
resume; the end date and max_runs; the do-not-call list and the organization's limit."""

import datetime as dt
import io
import threading
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_context

from calls import services
from calls.models import (
    Batch,
    BatchRow,
    Call,
    DoNotCallEntry,
    MissedRunPolicy,
    ScheduledCall,
    ScheduledRun,
)
from calls.services.schedule_dispatch import schedules_due_query
from organizations.models import ScheduleIndexEntry
from tests.calls.batch_support import (
    assert_counters,
    end_call,
    end_live_calls,
    make_batch,
    phone,
    set_org,
)
from tests.calls.schedule_support import (
    after,
    cron_data,
    fresh,
    index_entry,
    once_data,
    runs,
    tick,
)
from tests.calls.telephony_support import CALLER
from voiceagents.queue import task_by_name

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def soon(minutes=10):
    return (timezone.now() + dt.timedelta(minutes=minutes)).isoformat()


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does, for the module's committed_db tests.
@pytest.mark.django_db
def test_a_new_schedule_misses_runs_by_the_grace_policy_by_default():
    schedule = ScheduledCall()
    assert (schedule.missed_policy, schedule.missed_grace_seconds) == ("run_within_grace", 3600)
    assert schedule.retry_outcomes == ["no_answer", "busy", "failed"]


# --- one-time and cron ----------------------------------------------------------------------------


def test_a_one_time_schedule_fires_once_at_its_time_and_completes(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_call(data=once_data(agent, at=soon(10), variables={"x": "1"}))
    assert index_entry(schedule).next_run_at == schedule.next_run_at == schedule.scheduled_time

    assert tick() == 0  # not due yet
    assert twilio.calls == {}

    assert tick(after(schedule.scheduled_time)) == 1

    (run,) = runs(schedule)
    assert (run.status, run.trigger, run.attempts) == ("in_progress", "schedule", 1)
    assert run.due_at == schedule.scheduled_time
    call = Call.objects.get(pk=run.call_id)
    assert (call.schedule_id, call.to_number, call.variables) == (schedule.pk, CALLER, {"x": "1"})
    assert run.call_ids == [call.pk]
    assert twilio.dialed_numbers() == [CALLER]
    schedule = fresh(schedule)
    assert (schedule.status, schedule.next_run_at, schedule.run_count) == ("completed", None, 1)
    assert schedule.last_run_id == run.pk
    entry = index_entry(schedule)
    assert (entry.active, entry.next_run_at) == (False, None)

    assert tick(after(schedule.scheduled_time, 3600)) == 0  # nothing fires again
    end_call(twilio, call.provider_call_id, "completed", duration=30)
    (run,) = runs(schedule)
    assert (run.status, run.outcome) == ("completed", "answered")
    assert len(twilio.calls) == 1


def test_a_cron_schedule_fires_and_advances_to_its_next_time(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_recurring(
        data=cron_data(agent, "0 9 * * *", timezone="America/New_York")
    )
    first = schedule.next_run_at
    assert first.astimezone(dt.UTC).hour in (13, 14)  # 09:00 New York, EDT or EST

    assert tick(after(first)) == 1

    schedule = fresh(schedule)
    assert schedule.status == "active" and schedule.run_count == 1
    assert schedule.next_run_at - first == DAY  # 09:00 New York the next day (no DST change today)
    assert schedule.next_run_at.astimezone(dt.UTC).hour in (13, 14)
    assert index_entry(schedule).next_run_at == schedule.next_run_at
    (run,) = runs(schedule)
    assert run.trigger == "schedule" and run.reason == "" and run.due_at == first
    assert len(twilio.calls) == 1
    assert services.schedule_next_runs(schedule=schedule, count=3)[0] == schedule.next_run_at


def test_the_index_is_written_in_the_same_transaction_as_the_schedule(dialer, twilio):
    agent, number = dialer
    with pytest.raises(RuntimeError), transaction.atomic():
        schedule = services.schedule_call(data=once_data(agent, at=soon()))
        # The public table is reached through the tenant's search path, on this connection.
        assert index_entry(schedule) is not None
        raise RuntimeError("roll back")
    assert not ScheduledCall.objects.exists()
    with schema_context("public"):
        assert not ScheduleIndexEntry.objects.exists()


# --- two dispatchers ------------------------------------------------------------------------------


def test_two_dispatchers_racing_fire_each_run_once(batch_org, dialer, twilio):
    agent, number = dialer
    set_org(batch_org, max_concurrent_calls=100)
    schedules = [
        services.schedule_call(
            data={**once_data(agent, at=soon()), "phone_number": f"+1415555{2000 + i:04d}"}
        )
        for i in range(30)
    ]
    moment = after(max(schedule.next_run_at for schedule in schedules))
    barrier = threading.Barrier(2)
    processed = []

    def dispatcher():
        try:
            with schema_context("public"):
                barrier.wait()
                processed.append(services.schedules_dispatch_due(now=moment, limit=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(processed) == 30
    assert ScheduledRun.objects.count() == 30
    assert sorted(twilio.dialed_numbers()) == sorted(f"+1415555{2000 + i:04d}" for i in range(30))
    assert Call.objects.count() == 30


def test_a_claimed_entry_is_skipped_by_another_dispatcher(batch_org, dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_call(data=once_data(agent, at=soon()))
    moment = after(schedule.next_run_at)
    holding, release = threading.Event(), threading.Event()

    def claiming_elsewhere():
        try:
            with schema_context("public"), transaction.atomic():
                assert len(list(schedules_due_query(now=moment))) == 1
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=claiming_elsewhere)
    other.start()
    assert holding.wait(10)
    try:
        assert tick(moment) == 0  # SKIP LOCKED: the entry held elsewhere is not waited for
    finally:
        release.set()
        other.join(10)
    assert tick(moment) == 1 and len(twilio.calls) == 1


# --- missed runs ----------------------------------------------------------------------------------


def test_a_run_missed_by_less_than_the_grace_period_runs_once_now(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_recurring(
        data=cron_data(agent, "*/5 * * * *", missed_grace_seconds=3600)
    )
    # Beat was down for 40 minutes: nine runs are due.
    moment = after(schedule.next_run_at, 40 * 60)
    tick(moment)

    (run,) = runs(schedule)  # never a burst
    assert run.trigger == "missed" and run.status == "in_progress"
    assert run.details["missed_occurrences"] == 9
    assert run.due_at == schedule.next_run_at + dt.timedelta(minutes=40)  # the newest one
    assert run.reason.startswith("Missed: 9 runs due since") and "run once now" in run.reason
    assert len(twilio.calls) == 1
    schedule = fresh(schedule)
    assert schedule.next_run_at == run.due_at + dt.timedelta(minutes=5)
    assert schedule.run_count == 1


def test_a_run_missed_by_more_than_the_grace_period_is_skipped_with_its_reason(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_recurring(
        data=cron_data(agent, "0 9 * * *", missed_grace_seconds=600)
    )
    moment = after(schedule.next_run_at, 3 * 3600)
    tick(moment)

    (run,) = runs(schedule)
    assert (run.trigger, run.status) == ("missed", "skipped")
    assert "skipped to the next run" in run.reason and "3 h" in run.reason
    assert twilio.calls == {}
    schedule = fresh(schedule)
    assert schedule.status == "active" and schedule.run_count == 0
    assert schedule.next_run_at > moment


@pytest.mark.parametrize(("policy", "fires"), [("run_always", True), ("skip", False)])
def test_the_other_missed_policies(dialer, twilio, policy, fires):
    agent, number = dialer
    schedule = services.schedule_call(data=once_data(agent, at=soon(), missed_policy=policy))
    tick(after(schedule.next_run_at, 2 * 86400))
    (run,) = runs(schedule)
    assert run.trigger == ScheduledRun.Trigger.MISSED
    assert (run.status == "in_progress") is fires
    assert len(twilio.calls) == (1 if fires else 0)
    assert fresh(schedule).status == "completed"
    assert MissedRunPolicy(policy)


# --- retries --------------------------------------------------------------------------------------


def test_a_no_answer_is_retried_per_the_policy_then_fails(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_call(
        data=once_data(agent, at=soon(), max_attempts=3, retry_delay_seconds=300)
    )
    tick(after(schedule.next_run_at))
    for attempt, status in enumerate(["no-answer", "busy"], start=1):
        (run,) = runs(schedule)
        end_call(twilio, Call.objects.get(pk=run.call_id).provider_call_id, status)
        (run,) = runs(schedule)
        assert (run.status, run.attempts) == ("waiting", attempt)
        assert run.next_attempt_at > timezone.now() + dt.timedelta(minutes=4)
        assert index_entry(schedule).next_run_at == run.next_attempt_at  # the index wakes for it
        assert tick(after(run.next_attempt_at, -1)) == 0  # not before its delay
        assert tick(after(run.next_attempt_at)) == 1
    (run,) = runs(schedule)
    assert (run.status, run.attempts, len(run.call_ids)) == ("in_progress", 3, 3)
    end_call(twilio, Call.objects.get(pk=run.call_id).provider_call_id, "failed")
    (run,) = runs(schedule)
    assert (run.status, run.outcome) == ("failed", "failed")
    assert len(twilio.calls) == 3 and set(twilio.dialed_numbers()) == {CALLER}
    assert not index_entry(schedule).active


def test_an_outcome_not_in_the_policy_is_not_retried(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_call(
        data=once_data(agent, at=soon(), max_attempts=3, retry_outcomes=["busy"])
    )
    tick(after(schedule.next_run_at))
    (run,) = runs(schedule)
    end_call(twilio, Call.objects.get(pk=run.call_id).provider_call_id, "no-answer")
    (run,) = runs(schedule)
    assert (run.status, run.outcome, run.attempts) == ("failed", "no_answer", 1)


# --- pause and resume, cancel ---------------------------------------------------------------------


def test_a_paused_schedule_fires_nothing_and_resumes_from_its_next_time(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_recurring(data=cron_data(agent, "*/10 * * * *"))
    services.schedule_pause(schedule=schedule)
    assert not index_entry(schedule).active
    assert tick(after(schedule.next_run_at, 86400)) == 0 and twilio.calls == {}
    assert services.schedule_next_runs(schedule=fresh(schedule)) == []

    schedule = services.schedule_resume(schedule=schedule)
    assert schedule.status == "active" and schedule.next_run_at > timezone.now()
    assert index_entry(schedule).active
    assert index_entry(schedule).next_run_at == schedule.next_run_at
    assert tick() == 0 and runs(schedule) == []  # the paused-through times do not run


def test_a_canceled_schedule_never_runs_again_and_leaves_the_index(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_recurring(data=cron_data(agent, "*/10 * * * *"))
    services.schedule_cancel(schedule=schedule)
    assert fresh(schedule).status == "canceled" and index_entry(schedule) is None
    assert tick(after(schedule.next_run_at, 86400)) == 0 and twilio.calls == {}


def test_run_now_fires_at_once_without_moving_the_next_run(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_recurring(data=cron_data(agent, "0 9 * * *", max_runs=1))
    run = services.schedule_run_now(schedule=schedule)
    assert (run.trigger, run.status) == ("manual", "in_progress") and len(twilio.calls) == 1
    after = fresh(schedule)
    assert (after.next_run_at, after.run_count, after.status) == (schedule.next_run_at, 0, "active")


# --- end date and max runs ------------------------------------------------------------------------


def test_max_runs_completes_the_schedule(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_recurring(data=cron_data(agent, "*/5 * * * *", max_runs=2))
    for _ in range(2):
        tick(after(fresh(schedule).next_run_at))
        for call in twilio.live_calls():
            end_call(twilio, call.sid, "completed")
    schedule = fresh(schedule)
    assert (schedule.status, schedule.run_count, schedule.next_run_at) == ("completed", 2, None)
    assert "max_runs (2) reached" in schedule.status_reason
    assert [run.status for run in runs(schedule)] == ["completed", "completed"]
    assert not index_entry(schedule).active


def test_the_end_date_completes_the_schedule(dialer, twilio):
    agent, number = dialer
    today = timezone.now().astimezone(dt.UTC).date()
    schedule = services.schedule_recurring(
        data=cron_data(agent, "0 12 * * *", timezone="UTC", end_date=(today + DAY).isoformat())
    )
    times = services.schedule_next_runs(schedule=schedule, count=5)
    assert all(t.date() <= today + DAY for t in times) and 1 <= len(times) <= 2
    for moment in times:
        assert fresh(schedule).next_run_at == moment
        tick(after(moment))
    schedule = fresh(schedule)
    assert schedule.status == "completed" and "end date" in schedule.status_reason
    assert schedule.run_count == len(times)


# --- what a run's call meets ----------------------------------------------------------------------


def test_a_number_on_the_do_not_call_list_is_skipped_at_the_run(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_call(data=once_data(agent, at=soon()))
    DoNotCallEntry.objects.create(number=CALLER)  # added after the schedule was made
    tick(after(schedule.next_run_at))
    (run,) = runs(schedule)
    assert (run.status, run.reason) == ("skipped", "On the do-not-call list.")
    assert twilio.calls == {}


def test_a_run_at_the_organizations_limit_waits_for_a_slot(batch_org, dialer, twilio):
    agent, number = dialer
    set_org(batch_org, max_concurrent_calls=1)
    busy = services.call_initiate(agent_id=agent.pk, to_phone="+14155550111")
    schedule = services.schedule_call(data=once_data(agent, at=soon()))
    tick(after(schedule.next_run_at))
    (run,) = runs(schedule)
    assert (run.status, run.attempts) == ("waiting", 0)  # not an attempt, never failed for it
    assert "concurrency limit" in run.reason
    end_call(twilio, Call.objects.get(pk=busy.pk).provider_call_id, "completed")
    tick(after(run.next_attempt_at))
    (run,) = runs(schedule)
    assert (run.status, run.attempts) == ("in_progress", 1)
    assert sorted(twilio.dialed_numbers()) == sorted(["+14155550111", CALLER])


def test_the_unique_run_per_occurrence_is_the_safety_net(dialer, twilio):
    agent, number = dialer
    schedule = services.schedule_call(data=once_data(agent, at=soon()))
    ScheduledRun.objects.create(
        schedule=schedule, due_at=schedule.next_run_at, trigger="schedule", status="completed"
    )
    tick(after(schedule.next_run_at))
    # The second run of the same occurrence is refused by the database: nothing dials, and the
    # schedule is looked at again after a back-off, not on every tick.
    assert twilio.calls == {}
    assert index_entry(schedule).next_run_at > timezone.now()


# --- DST at the dispatcher ------------------------------------------------------------------------


def test_across_the_spring_forward_night_a_0230_run_fires_once_at_0300(dialer, twilio):
    agent, number = dialer
    tz = ZoneInfo("America/New_York")
    schedule = services.schedule_recurring(
        data=cron_data(agent, "30 2 * * *", timezone="America/New_York", start_date="2027-03-14")
    )
    assert schedule.next_run_at.astimezone(tz).isoformat() == "2027-03-14T03:00:00-04:00"
    tick(after(schedule.next_run_at))
    schedule = fresh(schedule)
    assert schedule.next_run_at.astimezone(tz).isoformat() == "2027-03-15T02:30:00-04:00"
    assert len(runs(schedule)) == 1 and len(twilio.calls) == 1


def test_across_the_fall_back_night_a_0130_run_fires_once_not_twice(dialer, twilio):
    agent, number = dialer
    tz = ZoneInfo("America/New_York")
    schedule = services.schedule_recurring(
        data=cron_data(agent, "30 1 * * *", timezone="America/New_York", start_date="2027-11-07")
    )
    first = schedule.next_run_at
    assert first.astimezone(tz).isoformat() == "2027-11-07T01:30:00-04:00"
    tick(after(first))
    # An hour later the wall clock reads 01:30 again (EST): nothing is due.
    assert tick(after(first, 3600)) == 0
    schedule = fresh(schedule)
    assert schedule.next_run_at.astimezone(tz).isoformat() == "2027-11-08T01:30:00-05:00"
    assert len(runs(schedule)) == 1 and len(twilio.calls) == 1


# --- batches --------------------------------------------------------------------------------------


def test_a_scheduled_batch_starts_at_its_time(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=3)
    schedule = services.schedule_call(data={"batch_id": batch.pk, "scheduled_time": soon()})
    assert Batch.objects.get(pk=batch.pk).status == "draft"

    tick(after(schedule.next_run_at))

    (run,) = runs(schedule)
    assert (run.status, run.batch_id) == ("started", batch.pk)
    assert Batch.objects.get(pk=batch.pk).status == "running"
    assert sorted(twilio.dialed_numbers()) == sorted(phone(i) for i in range(3))
    assert fresh(schedule).status == "completed"


def test_a_recurring_batch_calls_everyone_on_its_list_each_time(dialer, twilio):
    agent, number = dialer
    template = make_batch(agent=agent, number=number, phones=3, name="Monday list")
    BatchRow.objects.filter(batch=template, line_number=4).update(
        status="invalid", phone_number="", error="Not a number."
    )
    Batch.objects.filter(pk=template.pk).update(queued_count=2, invalid_count=1)
    schedule = services.schedule_recurring(
        data={"batch_id": template.pk, "cron_expression": "0 9 * * MON", "timezone": "UTC"}
    )
    copies = []
    for _week in range(2):
        moment = after(fresh(schedule).next_run_at)
        tick(moment)
        run = runs(schedule)[-1]
        assert run.status == "started" and run.batch_id not in (None, template.pk)
        copy = assert_counters(Batch.objects.get(pk=run.batch_id))
        assert copy.name.startswith("Monday list · ") and copy.source == "schedule"
        assert (copy.total_count, copy.invalid_count) == (3, 1)
        assert (copy.status, copy.in_progress_count + copy.queued_count) == ("running", 2)
        copies.append(copy.pk)
        assert end_live_calls(twilio, "completed") == 2
        assert assert_counters(Batch.objects.get(pk=copy.pk)).status == "completed"
    assert Batch.objects.get(pk=template.pk).status == "draft"  # the list itself is untouched
    assert twilio.dialed_numbers().count(phone(0)) == 2  # called once a week
    assert len(set(copies)) == 2
    assert fresh(schedule).run_count == 2


# --- the clock ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_beat_entry_drives_every_schedule_and_the_task_is_registered():
    with schema_context("public"):
        PeriodicTask.objects.filter(task="calls.schedules_dispatch_due").delete()
        call_command("install_periodic_tasks", stdout=io.StringIO())
        (task,) = PeriodicTask.objects.filter(task="calls.schedules_dispatch_due")
        assert task.enabled and (task.interval.every, task.interval.period) == (5, "seconds")
        assert task.name == "Schedules: fire due runs"
    assert task_by_name("calls.schedules_dispatch_due").name == "calls.schedules_dispatch_due"
