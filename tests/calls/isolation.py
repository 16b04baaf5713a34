"""Telephony resources in the tenant-isolation contract (tests/isolation.py)."""

from tests.isolation import Resource, register


def _number_create(org):
    from calls.services import phone_number_create

    return phone_number_create(number="+14155550177", friendly_name="B's line").pk


def _number_snapshot(org, pk):
    from calls.models import PhoneNumber

    return PhoneNumber.objects.filter(pk=pk).values("friendly_name", "agent_id").first()


def _call_create(org):
    from calls.models import Call

    return Call.objects.create(
        direction="inbound",
        from_number="+14155550199",
        to_number="+14155550177",
        provider="twilio",
        provider_call_id="CA" + "b" * 32,
        status="in_progress",
    ).pk


def _call_snapshot(org, pk):
    from calls.models import Call

    return Call.objects.filter(pk=pk).values("status", "end_reason").first()


def _message_create(org):
    from calls.models import Message

    return Message.objects.create(
        direction="inbound",
        from_number="+14155550199",
        to_number="+14155550177",
        body="B's secret",
        provider="twilio",
        status="received",
    ).pk


def _message_snapshot(org, pk):
    from calls.models import Message

    return Message.objects.filter(pk=pk).values("body", "status").first()


register(
    Resource(
        name="phone_number",
        create=_number_create,
        list_url=lambda org: "/api/v1/phone-numbers/",
        detail_url=lambda org, pk: f"/api/v1/phone-numbers/{pk}/",
        update_payload={"friendly_name": "Taken over"},
        snapshot=_number_snapshot,
    )
)
register(
    Resource(
        name="call",
        create=_call_create,
        list_url=lambda org: "/api/v1/calls/",
        detail_url=lambda org, pk: f"/api/v1/calls/{pk}/",
        can_delete=False,
        snapshot=_call_snapshot,
        actions=lambda org, pk: [
            ("post", f"/api/v1/calls/{pk}/end/", {}),
            ("post", f"/api/v1/calls/{pk}/transfer/", {"to_number": "+14155550123"}),
        ],
    )
)
register(
    Resource(
        name="message",
        create=_message_create,
        list_url=lambda org: "/api/v1/messages/",
        detail_url=lambda org, pk: f"/api/v1/messages/{pk}/",
        can_delete=False,
        snapshot=_message_snapshot,
    )
)


def _batch_create(org):
    from agents.services import agent_create
    from calls.models import Batch, BatchRow
    from calls.services import phone_number_create

    agent = agent_create(name="B's caller")
    number = phone_number_create(number="+14155550178", friendly_name="B's batch line")
    batch = Batch.objects.create(
        name="B's batch", agent=agent, from_number=number, total_count=1, queued_count=1
    )
    BatchRow.objects.create(
        batch=batch, line_number=2, phone_number="+14155550199", raw={"phone": "+14155550199"}
    )
    return batch.pk


def _batch_snapshot(org, pk):
    from calls.models import Batch

    return Batch.objects.filter(pk=pk).values("name", "status", "max_concurrency").first()


def _batch_rows_snapshot(org, pk):
    from calls.models import BatchRow

    return list(BatchRow.objects.filter(batch_id=pk).values_list("line_number", "status", "raw"))


def _batch_with_event_create(org):
    from calls.models import Batch, BatchEvent

    batch_id = _batch_create(org)
    BatchEvent.objects.create(
        batch=Batch.objects.get(pk=batch_id), kind="action", name="started", payload={"b": 1}
    )
    return batch_id


def _batch_events_snapshot(org, pk):
    from calls.models import BatchEvent

    return list(BatchEvent.objects.filter(batch_id=pk).values_list("kind", "name", "payload"))


def _dnc_create(org):
    from calls.models import DoNotCallEntry

    return DoNotCallEntry.objects.create(number="+14155550166", reason="B's reason").pk


def _dnc_snapshot(org, pk):
    from calls.models import DoNotCallEntry

    return DoNotCallEntry.objects.filter(pk=pk).values("number", "reason").first()


register(
    Resource(
        name="batch",
        create=_batch_create,
        list_url=lambda org: "/api/v1/batches/",
        detail_url=lambda org, pk: f"/api/v1/batches/{pk}/",
        update_payload={"name": "Taken over", "max_concurrency": 1},
        snapshot=_batch_snapshot,
        actions=lambda org, pk: [
            ("get", f"/api/v1/batches/{pk}/report.csv", None),
        ],
    )
)
register(
    Resource(
        name="batch_row",
        create=_batch_create,
        list_url=None,
        # A batch's rows are read through the batch: B's rows are B's batch's list.
        detail_url=lambda org, pk: f"/api/v1/batches/{pk}/rows/",
        can_delete=False,
        snapshot=_batch_rows_snapshot,
    )
)
register(
    Resource(
        name="batch_event",
        create=_batch_with_event_create,
        list_url=None,
        # A batch's timeline is read through the batch, like its rows.
        detail_url=lambda org, pk: f"/api/v1/batches/{pk}/events/",
        can_delete=False,
        snapshot=_batch_events_snapshot,
    )
)
register(
    Resource(
        name="dnc_entry",
        create=_dnc_create,
        list_url=lambda org: "/api/v1/dnc/",
        detail_url=lambda org, pk: f"/api/v1/dnc/{pk}/",
        update_payload={"reason": "Taken over", "number": "+14155550100"},
        snapshot=_dnc_snapshot,
    )
)


def _schedule_create(org):
    from agents.services import agent_create
    from calls.services import phone_number_create, schedule_recurring

    agent = agent_create(name="B's reminder")
    phone_number_create(number="+14155550179", friendly_name="B's schedule line", agent_id=agent.pk)
    schedule = schedule_recurring(
        data={
            "agent_id": agent.pk,
            "phone_number": "+14155550199",
            "cron_expression": "0 9 * * MON",
            "name": "B's schedule",
        }
    )
    return schedule.pk


def _schedule_snapshot(org, pk):
    from calls.models import ScheduledCall

    return (
        ScheduledCall.objects.filter(pk=pk)
        .values("name", "status", "cron_expression", "next_run_at", "phone_number")
        .first()
    )


def _schedule_runs_snapshot(org, pk):
    from calls.models import ScheduledRun

    return list(ScheduledRun.objects.filter(schedule_id=pk).values_list("id", "status"))


register(
    Resource(
        name="schedule",
        create=_schedule_create,
        list_url=lambda org: "/api/v1/schedules/",
        detail_url=lambda org, pk: f"/api/v1/schedules/{pk}/",
        update_payload={"name": "Taken over", "cron_expression": "* * * * *"},
        snapshot=_schedule_snapshot,
        actions=lambda org, pk: [
            ("post", f"/api/v1/schedules/{pk}/pause/", {}),
            ("post", f"/api/v1/schedules/{pk}/resume/", {}),
            ("post", f"/api/v1/schedules/{pk}/run-now/", {}),
            ("get", f"/api/v1/schedules/{pk}/next-runs/", None),
        ],
    )
)
register(
    Resource(
        name="scheduled_run",
        create=_schedule_create,
        list_url=None,
        # A schedule's runs are read through the schedule: B's runs are B's schedule's list.
        detail_url=lambda org, pk: f"/api/v1/schedules/{pk}/runs/",
        can_delete=False,
        snapshot=_schedule_runs_snapshot,
    )
)
