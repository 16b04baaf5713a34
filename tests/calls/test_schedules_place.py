"""How the schedules' dispatcher dials: a claim's calls of an organization are dialed by a
task for every few of them after the claim commits (not one task per call), each through the
single call's
``call_place`` (at most once: the task run again dials nobody twice), while run-now dials its
call as any single call. Real commits, eager Celery, the Twilio fake at the network edge."""

import datetime as dt

import pytest
from celery.signals import task_prerun
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls import services
from calls.models import Call
from calls.services.schedule_dispatch import PLACE_TASK_CALLS
from tests.calls.schedule_support import after, once_data, runs, tick
from tests.calls.telephony_support import CALLER


@pytest.fixture
def tasks_run():
    """The names of the Celery tasks run (eagerly) during the test, in order."""
    names: list[str] = []

    def record(sender=None, **kwargs):
        names.append(sender.name)

    task_prerun.connect(record, weak=False)
    yield names
    task_prerun.disconnect(record)


def test_a_claims_calls_are_dialed_by_one_task_for_several_each_once(dialer, twilio, tasks_run):
    agent, number = dialer
    at = timezone.now() + dt.timedelta(minutes=10)
    count = PLACE_TASK_CALLS + 2
    schedules = [
        services.schedule_call(data=once_data(agent, at=at, phone_number=f"+1415555{i:04d}"))
        for i in range(count)
    ]

    assert tick(after(at)) == count

    call_ids = [runs(schedule)[0].call_id for schedule in schedules]
    assert tasks_run.count("calls.scheduled_calls_place") == 2  # ten, then two
    assert "calls.call_place" not in tasks_run
    assert sorted(twilio.dialed_numbers()) == [f"+1415555{i:04d}" for i in range(count)]
    calls = Call.objects.filter(pk__in=call_ids)
    assert all(call.provider_call_id and call.placed_at for call in calls)
    # The task delivered again (a worker that died after dialing): nobody is dialed twice.
    assert services.scheduled_calls_place(call_ids=call_ids) == 0
    assert len(twilio.calls) == count


def test_a_call_not_dialed_yet_is_dialed_by_the_task_run_again(dialer, twilio):
    agent, number = dialer
    at = timezone.now() + dt.timedelta(minutes=10)
    schedule = services.schedule_call(data=once_data(agent, at=at))
    tick(after(at))
    placed = Call.objects.get(pk=runs(schedule)[0].call_id)
    # A second call of the claim, as a crash before its dial leaves it: queued, never placed.
    waiting = services.call_initiate(agent_id=agent.pk, to_phone="+14155550999", place=False)

    assert services.scheduled_calls_place(call_ids=[placed.pk, waiting.pk]) == 1

    assert sorted(twilio.dialed_numbers()) == sorted([CALLER, "+14155550999"])


def test_run_now_dials_as_a_single_call(dialer, twilio, tasks_run):
    agent, number = dialer
    at = timezone.now() + dt.timedelta(minutes=10)
    schedule = services.schedule_call(data=once_data(agent, at=at))

    services.schedule_run_now(schedule=schedule)

    assert tasks_run.count("calls.call_place") == 1
    assert "calls.scheduled_calls_place" not in tasks_run
    assert twilio.dialed_numbers() == [CALLER]


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does, for the module's committed_db tests.
@pytest.mark.django_db
def test_an_empty_claim_dials_nothing():
    assert services.scheduled_calls_place(call_ids=[]) == 0


def test_a_schedule_in_a_claim_costs_a_bounded_number_of_statements(dialer, twilio):
    """Firing and dialing one more schedule of a claim adds its own statements only: nothing
    read per schedule that the claim reads once (the figure is in docs/benchmarks.md)."""
    agent, number = dialer
    at = timezone.now() + dt.timedelta(minutes=10)

    def statements(count: int, first: int) -> int:
        for i in range(count):
            phone = f"+1415556{first + i:04d}"
            services.schedule_call(data=once_data(agent, at=at, phone_number=phone))
        with CaptureQueriesContext(connection) as queries:
            assert tick(after(at)) == count
        return len(queries)

    per_schedule = (statements(8, 0) - statements(4, 100)) / 4
    # 6 now, its savepoint included: its call and the call's first event, its run, the
    # schedule. The limit's count, the index entries, the dial's claim and record are one
    # statement per claim or per task (a little room: a credential's use is noted once a
    # minute).
    assert per_schedule <= 7
