"""SMS: sending from one of our numbers (during a call, by default to the other party) and
keeping what carriers deliver to our numbers."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q

from calls.models import (
    Call,
    CallDirection,
    CallEvent,
    CallStatus,
    Message,
    MessageDirection,
    MessageStatus,
    PhoneNumber,
)
from calls.numbers import carrier_number, e164
from calls.selectors import call_get, current_organization
from calls.services._common import _carrier_failure, _fail
from calls.services.timeline import _event
from calls.telephony.base import CarrierError
from calls.telephony.credentials import carrier_client

__all__ = ["SMS_MAX_LENGTH", "message_receive", "message_send"]

SMS_MAX_LENGTH = 1600


def _sms_number(*, from_number: str | None, call: Call | None) -> PhoneNumber:
    if from_number:
        number = e164(from_number, field="from_number")
        phone_number = PhoneNumber.objects.filter(number=number).first()
        if phone_number is None:
            raise _fail("from_number", f"{number} is not one of this organization's numbers.")
    elif call is not None and call.phone_number is not None:
        phone_number = call.phone_number
    else:
        default = current_organization().default_caller_id
        sms_numbers = PhoneNumber.objects.filter(sms_enabled=True)
        phone_number = (sms_numbers.filter(number=default).first() if default else None) or (
            sms_numbers.order_by("id").first()
        )
        if phone_number is None:
            raise _fail("from_number", "This organization has no number that can send SMS.")
    if not phone_number.sms_enabled:
        raise _fail("from_number", f"{phone_number.number} cannot send SMS.")
    return phone_number


def message_send(
    *,
    body: str,
    to_number: str | None = None,
    from_number: str | None = None,
    call_id: int | None = None,
) -> Message:
    """Send an SMS now and keep it. During a call (``call_id``) it goes by default from the
    call's number to the other party and is linked to the call. On a carrier refusal the
    message is kept as failed and CarrierRequestFailed is raised."""
    call = call_get(call_id=call_id) if call_id is not None else None
    if to_number:
        to = e164(to_number, field="to_number")
    elif call is not None:
        to = call.counterpart_number
    else:
        raise _fail("to_number", "This field is required.")
    body = (body or "").strip()
    if not body:
        raise _fail("body", "The message is empty.")
    if len(body) > SMS_MAX_LENGTH:
        raise _fail("body", f"A message has at most {SMS_MAX_LENGTH} characters.")
    phone_number = _sms_number(from_number=from_number, call=call)
    client = carrier_client(phone_number.provider)
    message = Message.objects.create(
        direction=MessageDirection.OUTBOUND,
        phone_number=phone_number,
        call=call,
        from_number=phone_number.number,
        to_number=to,
        body=body,
        provider=phone_number.provider,
        status=MessageStatus.QUEUED,
    )
    try:
        sent = client.send_sms(to=to, from_=phone_number.number, body=body)
    except CarrierError as exc:
        message.status = MessageStatus.FAILED
        message.error_code, message.error_message = exc.code[:32], exc.message
        message.save(update_fields=["status", "error_code", "error_message"])
        raise _carrier_failure(exc, message_id=message.pk) from exc
    message.status = MessageStatus.SENT
    message.provider_message_id = sent.provider_message_id
    message.save(update_fields=["status", "provider_message_id"])
    if call is not None:
        _event(call, CallEvent.Kind.ACTION, "sms_sent", {"message_id": message.pk, "to": to})
    return message


def message_receive(
    *,
    provider: str,
    provider_message_id: str,
    from_number: str,
    to_number: str,
    body: str,
) -> Message | None:
    """Keep an SMS a carrier delivered to one of our numbers, once per carrier message id;
    linked to the live call with the same person on that number, if there is one."""
    to_number, from_number = carrier_number(to_number), carrier_number(from_number)
    phone_number = PhoneNumber.objects.filter(number=to_number).first()
    if phone_number is None:
        return None
    if provider_message_id:
        existing = Message.objects.filter(
            provider=provider, provider_message_id=provider_message_id
        ).first()
        if existing is not None:
            return existing
    call = (
        Call.objects.filter(phone_number=phone_number, status=CallStatus.IN_PROGRESS)
        .filter(_counterpart_q(from_number))
        .order_by("-created_at")
        .first()
    )
    try:
        with transaction.atomic():
            message = Message.objects.create(
                direction=MessageDirection.INBOUND,
                phone_number=phone_number,
                call=call,
                from_number=from_number,
                to_number=to_number,
                body=body,
                provider=provider,
                provider_message_id=provider_message_id,
                status=MessageStatus.RECEIVED,
            )
    except IntegrityError:
        # The carrier retried while the first delivery was being stored.
        return Message.objects.filter(
            provider=provider, provider_message_id=provider_message_id
        ).first()
    if call is not None:
        _event(call, CallEvent.Kind.INFO, "sms_received", {"message_id": message.pk})
    return message


def _counterpart_q(number: str) -> Q:
    """Calls whose other party is ``number``."""
    return Q(direction=CallDirection.INBOUND, from_number=number) | Q(
        direction=CallDirection.OUTBOUND, to_number=number
    )
