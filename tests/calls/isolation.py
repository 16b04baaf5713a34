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
