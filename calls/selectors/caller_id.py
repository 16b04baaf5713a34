"""The number an outbound call or a batch dials from."""

from __future__ import annotations

from agents.models import Agent
from calls.exceptions import NoCallerId, PhoneNumberNotVoiceEnabled
from calls.models import PhoneNumber
from calls.numbers import e164
from calls.selectors.organizations import current_organization
from voiceagents.exceptions import ValidationFailed

__all__ = ["caller_number_get"]


def caller_number_get(
    *, agent: Agent, from_phone: str | None, field: str = "from_phone"
) -> PhoneNumber:
    """The number asked for (it must be one of the organization's voice numbers), else the
    organization's default caller id, else a number assigned to the agent; NoCallerId when
    there is none. ``field`` is the input's name for ``from_phone`` in errors."""
    if from_phone:
        number = e164(from_phone, field=field)
        phone_number = PhoneNumber.objects.filter(number=number).first()
        if phone_number is None:
            message = f"{number} is not one of this organization's voice numbers."
            raise ValidationFailed(message, details={"fields": {field: [message]}})
        if not phone_number.voice_enabled:
            raise PhoneNumberNotVoiceEnabled(
                f"{number} is not enabled for voice calls: turn voice on for it, or call from "
                "another number.",
                details={"fields": {field: ["Not enabled for voice calls."]}, "number": number},
            )
        return phone_number
    default = current_organization().default_caller_id
    if default:
        phone_number = PhoneNumber.objects.filter(number=default, voice_enabled=True).first()
        if phone_number is not None:
            return phone_number
    phone_number = (
        PhoneNumber.objects.filter(agent=agent, voice_enabled=True).order_by("id").first()
    )
    if phone_number is None:
        if field == "from_phone":
            raise NoCallerId()
        raise NoCallerId(
            f"No number to call from: pass {field}, set the organization's default caller id "
            "or assign a number to the agent.",
            details={"fields": {field: ["No usable caller id."]}},
        )
    return phone_number
