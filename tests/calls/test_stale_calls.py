"""The stale-calls sweep: calls stuck queued, ringing or in progress are reconciled with their
carrier (its status wins where it has one) or ended as ``stale_call``, on the timeline either
way; calls within their thresholds and calls the carrier says are live are left alone; the
sweep visits every organization and is in Celery beat's schedule. Several workers at once:
test_stale_calls_concurrency.py."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from calls import services
from calls.control import control_group
from calls.models import Call, CallEvent
from calls.tasks import stale_calls_sweep
from tests.calls.telephony_support import CALLER, OUR_NUMBER
from tests.fakes.twilio_rest import FakeCall

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def ago(**delta) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


@pytest.fixture
def agent(alpha, make_agent):
    with alpha():
        return make_agent(max_call_duration_seconds=600)


def make_call(agent, *, status, provider="twilio", provider_call_id="", **fields) -> Call:
    return Call.objects.create(
        direction="outbound",
        from_number=OUR_NUMBER,
        to_number=CALLER,
        provider=provider,
        provider_call_id=provider_call_id,
        agent=agent,
        status=status,
        **fields,
    )


def twilio_call(twilio, status: str, *, duration: int | None = None) -> str:
    sid = "CA" + f"{len(twilio.calls):032d}"
    twilio.calls[sid] = FakeCall(
        sid=sid, to=CALLER, from_=OUR_NUMBER, status=status, params={}, duration=duration
    )
    return sid


def events(call: Call) -> list[str]:
    return list(CallEvent.objects.filter(call=call).values_list("name", flat=True))


def test_a_call_queued_too_long_and_never_dialed_ends_as_stale(twilio, alpha, agent):
    with alpha():
        stuck = make_call(agent, status="queued", created_at=ago(minutes=11))
        fresh = make_call(agent, status="queued", created_at=ago(minutes=9))

        outcomes = services.call_stale_reconcile(now=NOW)

        stuck.refresh_from_db()
        fresh.refresh_from_db()
        assert [(o.call_id, o.outcome) for o in outcomes] == [(stuck.pk, "stale")]
        assert (stuck.status, stuck.end_reason, stuck.error_code) == (
            "failed",
            "failed",
            "stale_call",
        )
        assert "never dialed" in stuck.error_message and stuck.ended_at == NOW
        assert "stale_call" in events(stuck)
        assert fresh.status == "queued"
    assert not twilio.requests  # nothing to ask the carrier about


@pytest.mark.parametrize(
    ("carrier_status", "status", "end_reason"),
    [
        ("completed", "completed", "completed"),
        ("no-answer", "no_answer", "no_answer"),
        ("busy", "busy", "busy"),
    ],
)
def test_a_call_ringing_too_long_takes_the_status_the_carrier_reports(
    twilio, alpha, agent, carrier_status, status, end_reason
):
    sid = twilio_call(twilio, carrier_status, duration=0)
    with alpha():
        call = make_call(agent, status="ringing", provider_call_id=sid, ringing_at=ago(minutes=6))

        (outcome,) = services.call_stale_reconcile(now=NOW)

        call.refresh_from_db()
        assert outcome.outcome == "carrier"
        assert (call.status, call.end_reason, call.error_code) == (status, end_reason, "")
        assert "stale_call_reconciled" in events(call)
    (fetch,) = twilio.requests_to("Calls", "GET")
    assert fetch.path.endswith(f"/Calls/{sid}.json")


def test_a_call_in_progress_past_its_limit_that_the_carrier_forgot_ends_as_stale(
    twilio, alpha, agent
):
    with alpha():
        # 600 s limit + 300 s margin: answered 16 minutes ago is past it, 14 minutes is not.
        lost = make_call(
            agent, status="in_progress", provider_call_id="CAgone", answered_at=ago(minutes=16)
        )
        live = make_call(
            agent, status="in_progress", provider_call_id="CAlive", answered_at=ago(minutes=14)
        )

        (outcome,) = services.call_stale_reconcile(now=NOW)

        lost.refresh_from_db()
        live.refresh_from_db()
        assert (outcome.call_id, outcome.outcome) == (lost.pk, "stale")
        assert (lost.status, lost.error_code) == ("failed", "stale_call")
        assert "the carrier does not know it" in lost.error_message
        assert lost.duration_seconds == 16 * 60
        assert live.status == "in_progress"


def test_a_call_the_carrier_says_is_live_is_left_alone(twilio, alpha, agent):
    # A call handed to a human goes on past the agent's limit.
    sid = twilio_call(twilio, "in-progress")
    with alpha():
        call = make_call(
            agent,
            status="in_progress",
            provider_call_id=sid,
            answered_at=ago(hours=1),
            end_reason="transferred",
        )

        (outcome,) = services.call_stale_reconcile(now=NOW)

        call.refresh_from_db()
        assert outcome.outcome == "live"
        assert (call.status, call.end_reason) == ("in_progress", "transferred")


def test_a_ringing_call_the_carrier_says_was_answered_moves_on(twilio, alpha, agent):
    sid = twilio_call(twilio, "in-progress")
    with alpha():
        call = make_call(agent, status="ringing", provider_call_id=sid, ringing_at=ago(minutes=6))

        (outcome,) = services.call_stale_reconcile(now=NOW)

        call.refresh_from_db()
        assert (outcome.outcome, call.status) == ("live", "in_progress")


def test_a_carrier_that_cannot_be_reached_does_not_keep_the_call_open(twilio, alpha, agent):
    sid = twilio_call(twilio, "ringing")
    twilio.fail_next("Calls", status=500, code=20500, message="Internal Server Error")
    with alpha():
        call = make_call(agent, status="ringing", provider_call_id=sid, ringing_at=ago(minutes=6))

        services.call_stale_reconcile(now=NOW)

        call.refresh_from_db()
        assert (call.status, call.error_code) == ("failed", "stale_call")
        assert "could not be asked" in call.error_message


def plivo_placed() -> str:
    """A call placed through the Plivo fake: its request id."""
    from calls.telephony.credentials import carrier_client

    placed = carrier_client("plivo").place_call(
        to=CALLER, from_=OUR_NUMBER, answer_url="https://x/a", status_callback_url="https://x/s"
    )
    return placed.provider_call_id


def test_plivo_calls_are_reconciled_from_the_call_record(plivo, alpha, agent):
    call_uuid = plivo.answer(plivo_placed())
    plivo.end(call_uuid, cause_code=4000, duration=42)
    queued_uuid = plivo_placed()
    with alpha():
        ended = make_call(
            agent,
            status="in_progress",
            provider="plivo",
            provider_call_id=call_uuid,
            answered_at=ago(minutes=20),
        )
        still_queued = make_call(
            agent,
            status="queued",
            provider="plivo",
            provider_call_id=queued_uuid,
            placed_at=ago(minutes=12),
            created_at=ago(minutes=12),
        )

        outcomes = {o.call_id: o.outcome for o in services.call_stale_reconcile(now=NOW)}

        ended.refresh_from_db()
        still_queued.refresh_from_db()
        assert outcomes == {ended.pk: "carrier", still_queued.pk: "live"}
        assert (ended.status, ended.end_reason, ended.duration_seconds) == (
            "completed",
            "completed",
            42,
        )
        assert still_queued.status == "queued"
    asked = [
        (r.path.rsplit("/", 2)[-2], (r.query.get("status") or [None])[0])
        for r in plivo.requests_to("Call", "GET")
    ]
    # A live call first (404: it ended), then its record; the queued one by its request id.
    assert [status for item, status in asked if item == call_uuid] == ["live", None]
    assert [status for item, status in asked if item == queued_uuid] == ["live", None, "queued"]


def test_a_live_bridge_of_a_call_ended_as_stale_is_told_to_hang_up(
    twilio, alpha, org_a, agent, django_capture_on_commit_callbacks, _channel_layer_namespace
):
    # Listening where the call's bridge would: its organization's control group.
    layer = get_channel_layer()
    bridge = async_to_sync(layer.new_channel)()
    with alpha():
        call = make_call(agent, status="in_progress", answered_at=ago(hours=1))
    async_to_sync(layer.group_add)(
        control_group(schema_name=org_a.schema_name, call_id=call.pk), bridge
    )
    with alpha(), django_capture_on_commit_callbacks(execute=True):
        services.call_stale_reconcile(now=NOW)

    message = async_to_sync(_receive)(layer, bridge)
    assert message == {"type": "call.control", "action": "hangup", "end_reason": "failed"}


async def _receive(layer, channel):
    return await asyncio.wait_for(layer.receive(channel), timeout=2)


def test_the_sweep_task_visits_every_organization(twilio, org_a, org_b, make_agent):
    calls = []
    for org in (org_a, org_b):
        with tenant_context(org):
            calls.append(
                (org, make_call(make_agent(), status="queued", created_at=ago(minutes=30)))
            )

    ended = stale_calls_sweep.apply().get()

    assert ended == 2
    for org, call in calls:
        with tenant_context(org):
            call.refresh_from_db()
            assert (call.status, call.error_code) == ("failed", "stale_call")
    assert connection.schema_name == "public"


def test_the_sweep_is_in_celery_beats_schedule_and_listed_in_the_admin(db, settings):
    from django.test import Client
    from django_celery_beat.models import PeriodicTask

    from calls.services.periodic_tasks import periodic_tasks_install
    from tests.organizations.factories import UserFactory

    periodic_tasks_install()  # manage.py install_periodic_tasks, run by scripts/migrate.sh

    task = PeriodicTask.objects.get(task="calls.stale_calls_sweep")
    assert task.enabled and task.interval.every == settings.STALE_CALLS_SWEEP_SECONDS
    assert task.interval.period == "seconds"
    admin = Client(HTTP_HOST="alpha.localhost")
    admin.force_login(UserFactory(is_superuser=True, is_staff=True))
    page = admin.get("/admin/django_celery_beat/periodictask/")
    assert page.status_code == 200 and task.name in page.content.decode()
