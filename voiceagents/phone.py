"""E.164 phone numbers for every app, parsed and validated with ``phonenumbers`` (regexes get
them wrong): an organization's default caller id, an agent's transfer number.

``calls.numbers`` keeps its own helpers, which raise the calls app's InvalidPhoneNumber; the
rule is the same.
"""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError

EXAMPLE = "+14155550100"


def to_e164(value: object) -> str | None:
    """``value`` in E.164 (``+14155550100``), or None when it is not a valid phone number.
    Spaces, dashes and brackets are tolerated; the country code is required."""
    if not isinstance(value, str):
        return None
    try:
        parsed = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    """A model field validator: ``value`` is a valid number, written in E.164 (how numbers are
    stored). Services normalise input with ``to_e164`` before saving."""
    number = to_e164(value)
    if number is None:
        raise ValidationError(
            f"{value!r} is not a valid phone number in E.164 form, e.g. {EXAMPLE}.",
            code="invalid_phone_number",
        )
    if number != value:
        raise ValidationError(f"Write the number in E.164 form: {number}.", code="not_e164")
