"""The batch dispatcher against the Twilio fake, with real commits: concurrency (the batch's
and the organization's, shared with single calls), freed slots filled when a call ends,
pacing, calling windows in the callee's zone, the do-not-call list at dial time, retries per
outcome, the circuit breaker, repair of rows a crash left behind, the tick and progress
events. The counters invariant is checked after every step."""

import datetime as dt
import io
import random
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from calls import services
from calls.exceptions import ConcurrencyLimitReached
from calls.locks import batch_dispatch_lock_try
from calls.models import (
    Batch,
    BatchEvent,
    BatchRow,
    BatchRowOutcome,
    BatchRowStatus,
    BatchStatus,
    Call,
    CallStatus,
    DoNotCallEntry,
)
from calls.windows import next_window_start
from organizations.models import Organization
from tests.calls.batch_support import (
    assert_counters,
    end_call,
    end_live_calls,
    make_batch,
    phone,
    set_org,
    sid_of,
    statuses,
)
from tests.calls.telephony_support import CALLER


def start(batch):
    return services.batch_start(batch=batch)


# --- concurrency and freed slots ------------------------------------------------------------------


def test_a_started_batch_dials_up_to_its_concurrency_each_number_once(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=8, max_concurrency=3)

    start(batch)  # the dispatcher runs eagerly once the start commits

    assert len(twilio.calls) == 3
    batch = assert_counters(batch)
    assert (batch.status, batch.in_progress_count, batch.queued_count) == ("running", 3, 5)
    rows = BatchRow.objects.filter(batch=batch, status=BatchRowStatus.IN_PROGRESS)
    for row in rows:
        assert row.attempts == 1
        assert row.last_call.to_number == row.phone_number
        assert (row.last_call.batch_id, row.last_call.batch_row_id) == (batch.pk, row.pk)
        assert row.last_call.variables == row.variables
    # The dialer runs as often as it is sent; nothing more starts while the slots are full.
    for _ in range(3):
        assert services.batch_dispatch(batch_id=batch.pk).stopped == "batch_limit"
    assert len(twilio.calls) == 3


def test_a_freed_slot_is_filled_when_the_call_ends_not_on_the_next_tick(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=4, max_concurrency=2)
    start(batch)
    first = twilio.live_calls()[0]

    end_call(twilio, first.sid, "completed", duration=12)  # the status callback

    assert len(twilio.calls) == 3  # the third number was dialed by the callback's dispatch
    assert len(twilio.live_calls()) == 2
    batch = assert_counters(batch)
    assert (batch.completed_count, batch.in_progress_count, batch.queued_count) == (1, 2, 1)
    row = BatchRow.objects.get(batch=batch, phone_number=first.to)
    assert (row.status, row.outcome) == ("completed", "answered")


def test_concurrency_never_exceeds_the_limit_under_load_and_no_number_is_dialed_twice(
    dialer, twilio
):
    agent, number = dialer
    count, limit = 60, 7
    batch = make_batch(agent=agent, number=number, phones=count, max_concurrency=limit)
    start(batch)
    rng = random.Random(13)
    outcomes = ["completed", "completed", "busy", "no-answer", "failed"]
    while twilio.live_calls():
        live = twilio.live_calls()
        # End a random few of the calls up, in random order, with random outcomes.
        for call in rng.sample(live, k=rng.randint(1, len(live))):
            end_call(twilio, call.sid, rng.choice(outcomes))
        assert_counters(batch)
        assert Batch.objects.get(pk=batch.pk).in_progress_count <= limit

    assert twilio.max_in_flight() == limit
    dialed = twilio.dialed_numbers()
    assert sorted(dialed) == sorted(phone(i) for i in range(count))  # each exactly once
    batch = assert_counters(batch)
    assert batch.status == BatchStatus.COMPLETED and batch.finished_at is not None
    assert batch.queued_count == batch.in_progress_count == 0
    assert BatchEvent.objects.filter(batch=batch, name="completed").count() == 1


def test_two_dispatchers_at_once_never_claim_a_row_twice_or_pass_the_limit(
    batch_org, dialer, twilio
):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=40, max_concurrency=25)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    BatchRow.objects.filter(batch=batch).update(next_attempt_at=timezone.now())
    barrier = threading.Barrier(4)
    results = []

    def run():
        try:
            with tenant_context(batch_org):
                barrier.wait()
                results.append(services.batch_dispatch(batch_id=batch.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sum(result.claimed for result in results) == 25
    assert len(twilio.calls) == 25
    assert len(set(twilio.dialed_numbers())) == 25
    assert_counters(batch)


def test_a_run_that_finds_another_claiming_leaves_at_once(batch_org, dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=3)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    BatchRow.objects.filter(batch=batch).update(next_attempt_at=timezone.now())
    holding, release = threading.Event(), threading.Event()

    def claiming_elsewhere():
        try:
            with tenant_context(batch_org), transaction.atomic():
                assert batch_dispatch_lock_try(schema_name=batch_org.schema_name, batch_id=batch.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=claiming_elsewhere)
    other.start()
    assert holding.wait(10)
    try:
        result = services.batch_dispatch(batch_id=batch.pk)
    finally:
        release.set()
        other.join(10)

    assert (result.stopped, result.claimed) == ("busy", 0)
    assert twilio.calls == {}
    assert services.batch_dispatch(batch_id=batch.pk).claimed == 3  # once it is free
    assert_counters(batch)


# --- the organization's limit, shared with single calls -------------------------------------------


def test_a_row_at_the_organizations_limit_waits_and_is_never_failed(batch_org, dialer, twilio):
    agent, number = dialer
    set_org(batch_org, max_concurrent_calls=3)
    single = [services.call_initiate(agent_id=agent.pk, to_phone=CALLER) for _ in range(2)]
    batch = make_batch(agent=agent, number=number, phones=4, max_concurrency=4)

    start(batch)

    batch = assert_counters(batch)
    assert (batch.in_progress_count, batch.queued_count, batch.failed_count) == (1, 3, 0)
    assert services.batch_dispatch(batch_id=batch.pk).stopped == "org_limit"
    # ...and the batch holds a slot a single call now cannot have.
    with pytest.raises(ConcurrencyLimitReached):
        services.call_initiate(agent_id=agent.pk, to_phone=CALLER)

    # A single call ends: the tick's dispatch (or any batch call's end) takes its slot.
    end_call(twilio, Call.objects.get(pk=single[0].pk).provider_call_id, "completed")
    services.batch_dispatch(batch_id=batch.pk)
    batch = assert_counters(batch)
    assert (batch.in_progress_count, batch.queued_count, batch.failed_count) == (2, 2, 0)
    assert not BatchRow.objects.filter(batch=batch, status=BatchRowStatus.FAILED).exists()


def test_a_claim_looks_up_the_agent_and_caller_id_once_for_all_its_calls(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=10, max_concurrency=10)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    BatchRow.objects.filter(batch=batch).update(next_attempt_at=timezone.now())

    with CaptureQueriesContext(connection) as captured:
        result = services.batch_dispatch(batch_id=batch.pk)

    assert result.claimed == 10
    selects = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    for table in ("agents_agent", "calls_phonenumber", "agents_agentversion"):
        looked_up = [sql for sql in selects if sql.split(" FROM ", 1)[-1].startswith(f'"{table}"')]
        assert len(looked_up) == 1, (table, looked_up)
    calls = list(Call.objects.filter(batch=batch).select_related("agent_version"))
    assert {(c.agent_id, c.phone_number_id, c.agent_version.number) for c in calls} == {
        (agent.pk, number.pk, agent.version)
    }
    assert_counters(batch)


# --- pacing ---------------------------------------------------------------------------------------


def test_call_starts_are_paced_to_calls_per_second(batch_org, dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=6, max_concurrency=10, calls_per_second=5)
    start(batch)
    deadline = time.monotonic() + 10
    while len(twilio.calls) < 6 and time.monotonic() < deadline:
        # Many dispatchers, as the tick and ending calls would send them; the pace holds.
        services.batch_dispatch(batch_id=batch.pk)
        time.sleep(0.01)

    times = sorted(call.dialed_at for call in twilio.calls.values())
    assert len(times) == 6
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # Starts are claimed at least 0.2 s apart; the dial request follows each claim after a
    # commit and a task, whose time varies by some milliseconds.
    assert min(gaps) >= 0.2 - 0.05, gaps
    assert times[-1] - times[0] >= 5 * 0.2 - 0.05, gaps
    assert_counters(batch)


def test_concurrent_dispatchers_take_each_pacing_slot_once(batch_org, dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=20, calls_per_second=2)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    BatchRow.objects.filter(batch=batch).update(next_attempt_at=timezone.now())
    barrier = threading.Barrier(6)

    def run():
        try:
            with tenant_context(batch_org):
                barrier.wait()
                services.batch_dispatch(batch_id=batch.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(twilio.calls) == 1  # one slot was due; six workers wanted it
    assert Batch.objects.get(pk=batch.pk).next_dial_at > timezone.now()


# --- calling windows ------------------------------------------------------------------------------


def test_rows_outside_their_window_wait_for_it_in_the_callees_zone(batch_org, dialer, twilio):
    agent, number = dialer
    now = timezone.now()
    # A window that is open now in Tokyo's 1-hour neighbourhood only: from the current hour in
    # Tokyo, for two hours. New York is 13-14 hours behind, so outside it.
    tokyo, new_york = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")
    tokyo_hour = now.astimezone(tokyo).replace(minute=0, second=0, microsecond=0)
    window_start = tokyo_hour.time()
    window_end = (tokyo_hour + dt.timedelta(hours=2)).time()
    batch = make_batch(
        agent=agent,
        number=number,
        phones=[phone(1), phone(2), phone(3)],
        timezones=["Asia/Tokyo", "America/New_York", ""],
        window_start=window_start,
        window_end=window_end,
    )
    set_org(batch_org, timezone="America/New_York")
    before = timezone.now()

    start(batch)

    assert twilio.dialed_numbers() == [phone(1)]
    rows = {row.phone_number: row for row in BatchRow.objects.filter(batch=batch)}
    expected = next_window_start(
        before,
        tz=new_york,
        days=[],
        start=window_start,
        end=window_end,
    )
    for waiting in (phone(2), phone(3)):  # the third has no zone: the organization's
        row = rows[waiting]
        assert row.status == BatchRowStatus.QUEUED and row.attempts == 0
        assert row.next_attempt_at == expected
        assert row.next_attempt_at.astimezone(new_york).time() == window_start
    # Not reconsidered before then: the next run finds nothing due.
    assert services.batch_dispatch(batch_id=batch.pk).stopped == "no_due_rows"
    assert_counters(batch)


def test_the_organizations_hours_are_the_default_window(batch_org, dialer, twilio):
    agent, number = dialer
    now_utc = timezone.now().astimezone(dt.UTC)
    # Organization hours that exclude the present hour (UTC zone).
    set_org(
        batch_org,
        timezone="UTC",
        calling_window_start=(now_utc + dt.timedelta(hours=2)).time().replace(microsecond=0),
        calling_window_end=(now_utc + dt.timedelta(hours=3)).time().replace(microsecond=0),
    )
    batch = make_batch(agent=agent, number=number, phones=2, window_start=None, window_end=None)

    start(batch)

    assert twilio.calls == {}
    waiting = BatchRow.objects.filter(batch=batch).first()
    assert waiting.next_attempt_at > timezone.now() + dt.timedelta(minutes=100)
    assert_counters(batch)


# --- the do-not-call list at dial time --------------------------------------------------------------


def test_a_number_on_the_do_not_call_list_is_skipped_at_dial_time(dialer, twilio):
    agent, number = dialer
    DoNotCallEntry.objects.create(number=phone(1), reason="asked", source="api")
    batch = make_batch(agent=agent, number=number, phones=3)

    start(batch)

    assert sorted(twilio.dialed_numbers()) == [phone(0), phone(2)]
    row = BatchRow.objects.get(batch=batch, phone_number=phone(1))
    assert (row.status, row.error, row.attempts) == ("skipped", "On the do-not-call list.", 0)
    assert_counters(batch)


def test_a_number_added_to_the_list_mid_batch_is_never_dialed(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=4, max_concurrency=1)
    start(batch)
    assert twilio.dialed_numbers() == [phone(0)]

    DoNotCallEntry.objects.create(number=phone(1), reason="asked mid-batch", source="api")
    end_live_calls(twilio)  # the freed slot goes to the next row not on the list

    assert twilio.dialed_numbers() == [phone(0), phone(2)]
    assert statuses(batch)[phone(1)] == "skipped"
    assert_counters(batch)


# --- retries per outcome --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("carrier_status", "outcome"),
    [("no-answer", "no_answer"), ("busy", "busy"), ("failed", "failed")],
)
def test_a_retried_outcome_waits_for_its_delay_then_is_dialed_again(
    dialer, twilio, carrier_status, outcome
):
    agent, number = dialer
    batch = make_batch(
        agent=agent,
        number=number,
        phones=1,
        max_attempts=2,
        retry_delay_seconds=600,
        retry_outcomes=["no_answer", "busy", "failed"],
    )
    start(batch)
    before = timezone.now()

    end_live_calls(twilio, carrier_status)

    row = BatchRow.objects.get(batch=batch)
    assert (row.status, row.outcome, row.attempts) == ("queued", outcome, 1)
    assert row.next_attempt_at >= before + dt.timedelta(seconds=600)
    assert services.batch_dispatch(batch_id=batch.pk).stopped == "no_due_rows"
    assert len(twilio.calls) == 1

    # The delay has passed (as if): the second attempt is dialed, and its failure is final.
    BatchRow.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    services.batch_dispatch(batch_id=batch.pk)
    assert len(twilio.calls) == 2
    end_live_calls(twilio, carrier_status)
    row.refresh_from_db()
    assert (row.status, row.outcome, row.attempts) == ("failed", outcome, 2)
    batch = assert_counters(batch)
    assert batch.status == BatchStatus.COMPLETED


def test_outcomes_not_in_the_retry_list_finish_the_row(dialer, twilio):
    agent, number = dialer
    batch = make_batch(
        agent=agent,
        number=number,
        phones=3,
        max_attempts=3,
        retry_outcomes=["busy"],
        retry_delay_seconds=0,
    )
    start(batch)
    end_call(twilio, sid_of(twilio, phone(0)), "completed", duration=30)
    end_call(twilio, sid_of(twilio, phone(1)), "no-answer")
    end_call(twilio, sid_of(twilio, phone(2)), "completed", answered_by="machine_end_beep")

    rows = {r.phone_number: r for r in BatchRow.objects.filter(batch=batch)}
    assert (rows[phone(0)].status, rows[phone(0)].outcome) == ("completed", "answered")
    assert (rows[phone(1)].status, rows[phone(1)].outcome) == ("failed", "no_answer")
    assert (rows[phone(2)].status, rows[phone(2)].outcome) == ("completed", "voicemail")
    assert len(twilio.calls) == 3
    assert assert_counters(batch).status == BatchStatus.COMPLETED


def test_a_voicemail_is_retried_when_the_batch_says_so(dialer, twilio):
    agent, number = dialer
    batch = make_batch(
        agent=agent,
        number=number,
        phones=1,
        max_attempts=2,
        retry_outcomes=["voicemail"],
        retry_delay_seconds=0,
    )
    start(batch)

    end_live_calls(twilio, "completed", answered_by="machine_end_beep")

    # No delay: the retry's dispatch ran at the callback and dialed again.
    assert twilio.dialed_numbers() == [phone(0), phone(0)]
    row = BatchRow.objects.get(batch=batch)
    assert (row.status, row.outcome, row.attempts) == ("in_progress", "", 2)
    end_live_calls(twilio, "completed", answered_by="human")
    row.refresh_from_db()
    assert (row.status, row.outcome) == ("completed", "answered")
    assert_counters(batch)


def test_a_retry_respects_the_callees_window(batch_org, dialer, twilio):
    agent, number = dialer
    set_org(batch_org, timezone="UTC")
    batch = make_batch(agent=agent, number=number, phones=1, max_attempts=2, retry_delay_seconds=60)
    start(batch)
    # From now on the window is three hours from now, for one hour (UTC).
    now = timezone.now().astimezone(dt.UTC)
    opens = (now + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    Batch.objects.filter(pk=batch.pk).update(
        window_start=opens.time(), window_end=(opens + dt.timedelta(hours=1)).time()
    )

    end_live_calls(twilio, "busy")

    row = BatchRow.objects.get(batch=batch)
    assert row.status == "queued"
    assert row.next_attempt_at == opens
    assert_counters(batch)


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does, for the module's committed_db tests.
@pytest.mark.django_db
def test_the_outcome_of_a_call_follows_its_final_status_and_end_reason():
    outcome = services.batch_row_outcome_for_call
    assert outcome(Call(status=CallStatus.COMPLETED, end_reason="caller_hangup")) == "answered"
    assert outcome(Call(status=CallStatus.COMPLETED, end_reason="voicemail")) == "voicemail"
    assert outcome(Call(status=CallStatus.COMPLETED, answered_by="machine")) == "voicemail"
    assert outcome(Call(status=CallStatus.NO_ANSWER)) == BatchRowOutcome.NO_ANSWER
    assert outcome(Call(status=CallStatus.BUSY)) == BatchRowOutcome.BUSY
    assert outcome(Call(status=CallStatus.FAILED)) == BatchRowOutcome.FAILED
    assert outcome(Call(status=CallStatus.CANCELED)) == BatchRowOutcome.CANCELED


# --- the circuit breaker --------------------------------------------------------------------------


def test_the_circuit_breaker_pauses_the_batch_with_the_reason_on_its_timeline(dialer, twilio):
    agent, number = dialer
    batch = make_batch(
        agent=agent,
        number=number,
        phones=20,
        max_concurrency=1,
        breaker_window=4,
        breaker_threshold=0.5,
        retry_outcomes=[],
    )
    for _ in range(4):  # the carrier refuses every call (an outage)
        twilio.fail_next("Calls", status=500, code=20500, message="Internal server error")

    start(batch)

    batch = assert_counters(batch)
    assert batch.status == BatchStatus.PAUSED
    assert "4 of the last 4 attempts failed" in batch.status_reason
    assert batch.failed_count == 4 and batch.queued_count == 16
    (event,) = BatchEvent.objects.filter(batch=batch, name="breaker_tripped")
    assert event.payload == {"failed": 4, "window": 4, "threshold": 0.5}
    # Nothing else starts while paused.
    assert services.batch_dispatch(batch_id=batch.pk).stopped == "not_running"
    assert len(twilio.requests_to("Calls", "POST")) == 4

    # Resumed, the count starts afresh (the carrier is back).
    services.batch_resume(batch=batch)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.RUNNING
    assert len(twilio.live_calls()) == 1


def test_no_answers_do_not_trip_the_breaker(dialer, twilio):
    agent, number = dialer
    batch = make_batch(
        agent=agent, number=number, phones=6, max_concurrency=2, breaker_window=3, retry_outcomes=[]
    )
    start(batch)
    while twilio.live_calls():
        end_live_calls(twilio, "no-answer")
    assert assert_counters(batch).status == BatchStatus.COMPLETED


# --- repair after a crash -------------------------------------------------------------------------


def test_a_row_whose_call_ended_without_its_outcome_is_reconciled(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=2, max_concurrency=1)
    start(batch)
    row = BatchRow.objects.get(batch=batch, status=BatchRowStatus.IN_PROGRESS)
    # The call ended and the process died before the row heard of it.
    Call.objects.filter(pk=row.last_call_id).update(
        status=CallStatus.COMPLETED, end_reason="completed", ended_at=timezone.now()
    )

    result = services.batch_dispatch(batch_id=batch.pk, repair=True)  # as the tick runs it

    assert result.reconciled == 1
    row.refresh_from_db()
    assert (row.status, row.outcome) == ("completed", "answered")
    assert len(twilio.calls) == 2  # and the freed slot went to the next row
    assert_counters(batch)


def test_a_claimed_call_whose_dial_task_was_lost_is_dialed_once(dialer, twilio):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=1)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    row = BatchRow.objects.get(batch=batch)
    # A claim that committed, whose call_place message was lost with its worker.
    call = Call.objects.create(
        direction="outbound",
        from_number=number.number,
        to_number=row.phone_number,
        phone_number=number,
        provider="twilio",
        agent=agent,
        batch=batch,
        batch_row=row,
        created_at=timezone.now() - dt.timedelta(minutes=5),
    )
    services.batch_row_transition(
        row=row, to_status=BatchRowStatus.IN_PROGRESS, attempts=1, last_call=call
    )

    for _ in range(3):
        services.batch_dispatch(batch_id=batch.pk, repair=True)

    assert twilio.dialed_numbers() == [row.phone_number]
    assert Call.objects.get(pk=call.pk).placed_at is not None
    assert_counters(batch)


# --- the tick -------------------------------------------------------------------------------------


def test_the_tick_dispatches_running_batches_of_every_organization(
    batch_org, dialer, twilio, make_agent, make_number
):
    agent, number = dialer
    alpha_batch = make_batch(agent=agent, number=number, phones=2)
    Batch.objects.filter(pk=alpha_batch.pk).update(status=BatchStatus.RUNNING)
    draft = make_batch(agent=agent, number=number, phones=[phone(50)])
    beta = Organization.objects.get(slug="beta")
    with tenant_context(beta):
        beta_agent = make_agent()
        beta_number = make_number("+14155550177", agent=beta_agent)
        beta_batch = make_batch(agent=beta_agent, number=beta_number, phones=[phone(90)])
        Batch.objects.filter(pk=beta_batch.pk).update(status=BatchStatus.RUNNING)
    connection.set_schema_to_public()

    sent = services.batches_dispatch_due()  # as the beat sends it: from the public schema

    assert sent == 2
    assert sorted(twilio.dialed_numbers()) == [phone(0), phone(1), phone(90)]
    with tenant_context(batch_org):
        assert_counters(alpha_batch)
        assert Batch.objects.get(pk=draft.pk).status == BatchStatus.DRAFT
    with tenant_context(beta):
        assert Call.objects.get().batch_id == beta_batch.pk
        assert_counters(beta_batch)


def test_the_tick_is_installed_in_the_beat_schedule_once_and_operator_changes_are_kept(
    batch_org,
):
    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask
    from django_tenants.utils import schema_context

    with schema_context("public"):
        PeriodicTask.objects.filter(task="calls.batches_dispatch_due").delete()
        call_command("install_periodic_tasks", stdout=io.StringIO())
        task = PeriodicTask.objects.get(task="calls.batches_dispatch_due")
        assert task.enabled and task.interval.every == 10 and task.interval.period == "seconds"
        PeriodicTask.objects.filter(pk=task.pk).update(enabled=False)  # an operator's choice

        call_command("install_periodic_tasks", stdout=io.StringIO())

        (again,) = PeriodicTask.objects.filter(task="calls.batches_dispatch_due")
        assert again.pk == task.pk and not again.enabled
        PeriodicTask.objects.filter(pk=task.pk).delete()


# --- progress events ------------------------------------------------------------------------------


def test_progress_goes_to_the_batchs_group_after_commit(
    batch_org, dialer, twilio, _channel_layer_namespace
):
    agent, number = dialer
    batch = make_batch(agent=agent, number=number, phones=3, max_concurrency=2)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    group = services.batch_progress_group(batch.pk)
    assert group == f"batch-{batch_org.schema_name}-{batch.pk}"
    async_to_sync(layer.group_add)(group, channel)

    start(batch)

    messages = []
    while True:
        try:
            messages.append(async_to_sync(_receive)(layer, channel))
        except TimeoutError:
            break
    assert messages, "no progress event"
    last = messages[-1]
    assert last["type"] == "batch.progress" and last["batch_id"] == batch.pk
    assert (last["status"], last["in_progress_count"], last["queued_count"]) == ("running", 2, 1)
    assert last["total_count"] == 3
    async_to_sync(layer.group_discard)(group, channel)


async def _receive(layer, channel):
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), timeout=0.5)
