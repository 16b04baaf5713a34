"""A slot freed by any call of the organization reaches the batches waiting for one at once
(``batch_slot_freed_on_commit``, from the call's end), not on the periodic tick: a single
call, another batch's call. Against the Twilio fake with real commits; the calls end through
Twilio's signed status callback, and no test here runs the dispatcher or the tick itself."""

import datetime as dt

import pytest
from celery.signals import task_prerun
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls import services
from calls.models import Batch, BatchRow, BatchRowStatus, BatchStatus, Call
from tests.calls.batch_support import (
    assert_counters,
    end_call,
    make_batch,
    phone,
    set_org,
    sid_of,
)
from tests.calls.telephony_support import CALLER

DISPATCH = "calls.batch_dispatch"


@pytest.fixture
def tasks_run():
    """The names of the Celery tasks run (eagerly) during the test, in order."""
    names: list[str] = []

    def record(sender=None, **kwargs):
        names.append(sender.name)

    task_prerun.connect(record, weak=False)
    yield names
    task_prerun.disconnect(record)


def single_call(agent):
    call = services.call_initiate(agent_id=agent.pk, to_phone=CALLER)
    return Call.objects.get(pk=call.pk)  # dialed at commit: it has its carrier id


def test_a_single_calls_end_starts_the_waiting_batchs_next_row_at_once(
    batch_org, dialer, twilio, tasks_run
):
    agent, number = dialer
    set_org(batch_org, max_concurrent_calls=1)
    single = single_call(agent)  # holds the organization's only slot
    batch = make_batch(agent=agent, number=number, phones=3, max_concurrency=2)
    services.batch_start(batch=batch)
    batch = assert_counters(batch)
    assert (batch.status, batch.in_progress_count, batch.queued_count) == ("running", 0, 3)
    assert twilio.dialed_numbers() == [CALLER]
    tasks_run.clear()

    end_call(twilio, single.provider_call_id, "completed", duration=30)  # the status callback

    assert twilio.dialed_numbers() == [CALLER, phone(0)]
    batch = assert_counters(batch)
    assert (batch.in_progress_count, batch.queued_count, batch.failed_count) == (1, 2, 0)
    assert tasks_run.count(DISPATCH) == 1  # one run, sent by the call's end
    # The freed slot is the batch's now: the limit holds.
    assert len(twilio.live_calls()) == 1


def test_a_batchs_last_call_frees_its_slot_for_another_batch(batch_org, dialer, twilio):
    agent, number = dialer
    set_org(batch_org, max_concurrent_calls=1)
    first = make_batch(agent=agent, number=number, phones=[phone(0)], name="First")
    services.batch_start(batch=first)
    second = make_batch(agent=agent, number=number, phones=[phone(1), phone(2)], name="Second")
    services.batch_start(batch=second)
    assert twilio.dialed_numbers() == [phone(0)]  # the second waits for the slot

    end_call(twilio, sid_of(twilio, phone(0)), "completed")

    assert Batch.objects.get(pk=first.pk).status == BatchStatus.COMPLETED
    assert twilio.dialed_numbers() == [phone(0), phone(1)]
    second = assert_counters(second)
    assert (second.in_progress_count, second.queued_count) == (1, 1)


def test_the_batch_waiting_longest_gets_the_slot(batch_org, dialer, twilio):
    agent, number = dialer
    set_org(batch_org, max_concurrent_calls=1)
    single = single_call(agent)
    older = make_batch(agent=agent, number=number, phones=[phone(10)], name="Older")
    newer = make_batch(agent=agent, number=number, phones=[phone(20)], name="Newer")
    services.batch_start(batch=newer)
    services.batch_start(batch=older)
    # The older batch's row has been due for longer.
    BatchRow.objects.filter(batch=older).update(
        next_attempt_at=timezone.now() - dt.timedelta(minutes=5)
    )

    end_call(twilio, single.provider_call_id, "completed")

    assert twilio.dialed_numbers() == [CALLER, phone(10)]
    assert Batch.objects.get(pk=newer.pk).queued_count == 1
    assert_counters(older)
    assert_counters(newer)


def test_no_dispatcher_is_sent_when_no_batch_waits(batch_org, dialer, twilio, tasks_run):
    agent, number = dialer
    set_org(batch_org, max_concurrent_calls=5)
    # Nothing any of these batches could dial now: a draft, a paused one, a running one at
    # its own limit, a running one whose rows wait for their window.
    make_batch(agent=agent, number=number, phones=[phone(1)], name="Draft")
    paused = make_batch(agent=agent, number=number, phones=[phone(2)], name="Paused")
    Batch.objects.filter(pk=paused.pk).update(status=BatchStatus.PAUSED)
    full = make_batch(agent=agent, number=number, phones=[phone(3), phone(4)], max_concurrency=1)
    services.batch_start(batch=full)
    later = make_batch(agent=agent, number=number, phones=[phone(5)], name="Later")
    Batch.objects.filter(pk=later.pk).update(status=BatchStatus.RUNNING)
    BatchRow.objects.filter(batch=later).update(
        next_attempt_at=timezone.now() + dt.timedelta(hours=3)
    )
    single = single_call(agent)
    tasks_run.clear()

    end_call(twilio, single.provider_call_id, "completed")

    assert DISPATCH not in tasks_run
    assert sorted(twilio.dialed_numbers()) == sorted([phone(3), CALLER])
    with CaptureQueriesContext(connection) as captured:
        services.batch_slot_freed_on_commit()  # outside a transaction: at once
    # One query (the schema's search_path is set again on entering it, as for any task).
    queries = [q["sql"] for q in captured if not q["sql"].startswith("SET search_path")]
    assert len(queries) == 1, queries


def test_a_batch_calls_end_wakes_its_own_batch_once(batch_org, dialer, twilio, tasks_run):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=3, max_concurrency=1)
    services.batch_start(batch=batch)
    tasks_run.clear()

    end_call(twilio, sid_of(twilio, phone(0)), "completed")

    # Its row's end sends the run; the organization-wide wake leaves the call's own batch out.
    assert tasks_run.count(DISPATCH) == 1
    assert twilio.dialed_numbers() == [phone(0), phone(1)]
    assert BatchRow.objects.get(batch=batch, phone_number=phone(0)).status == (
        BatchRowStatus.COMPLETED
    )
    assert_counters(batch)


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does, for the module's committed_db tests.
@pytest.mark.django_db
def test_the_waiting_batches_are_running_below_their_limit_with_a_row_due(alpha, batch_agent):
    from calls import selectors
    from calls.models import PhoneNumber

    with alpha():
        number = PhoneNumber.objects.get(number="+14155550100")
        now = timezone.now()

        def running(name, *, due_minutes_ago, in_progress=0, max_concurrency=2, **fields):
            batch = make_batch(agent=batch_agent, number=number, phones=1, name=name, **fields)
            Batch.objects.filter(pk=batch.pk).update(
                status=fields.get("status", BatchStatus.RUNNING),
                in_progress_count=in_progress,
                max_concurrency=max_concurrency,
            )
            BatchRow.objects.filter(batch=batch).update(
                next_attempt_at=now - dt.timedelta(minutes=due_minutes_ago)
            )
            return batch.pk

        newer = running("newer", due_minutes_ago=1)
        older = running("older", due_minutes_ago=9)
        oldest = running("oldest", due_minutes_ago=20)
        running("full", due_minutes_ago=30, in_progress=2)
        running("not due", due_minutes_ago=-5)
        running("paused", due_minutes_ago=40, status=BatchStatus.PAUSED)

        assert selectors.batches_waiting_for_slot(limit=5) == [oldest, older, newer]
        assert selectors.batches_waiting_for_slot(limit=2) == [oldest, older]
        assert selectors.batches_waiting_for_slot(exclude_batch_id=oldest) == [older, newer]
