"""E.164 phone numbers, parsed and validated with ``phonenumbers`` (regexes get them wrong)."""

from __future__ import annotations

import phonenumbers

from calls.exceptions import InvalidPhoneNumber


def e164(value: object, *, field: str = "number") -> str:
    """``value`` as E.164 (``+14155550100``), or InvalidPhoneNumber naming the input and the
    field. Spaces, dashes and brackets are tolerated; the country code is required."""
    text = str(value or "").strip()
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(
            f"{text!r} is not a valid phone number in E.164 form (e.g. +14155550100).",
            details={"fields": {field: [f"{text!r} is not a valid E.164 phone number."]}},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def e164_in_region(value: object, *, region: str) -> str | None:
    """``value`` as E.164, or None when it is not a valid number. A number written without
    its country code is read as a number of ``region`` (ISO 3166 alpha-2, e.g. ``US``:
    ``(415) 555-0100`` is ``+14155550100``)."""
    text = value.strip() if isinstance(value, str) else str(value or "").strip()
    if not text:
        return None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def e164_or_none(value: object) -> str | None:
    try:
        return e164(value)
    except InvalidPhoneNumber:
        return None


def carrier_number(value: object) -> str:
    """A number as a carrier sent it, in E.164 when it is one. Plivo omits the ``+``; callers
    may be anonymous or short codes, which are kept as they came."""
    text = str(value or "").strip()
    if text.isdigit():
        text = "+" + text
    return e164_or_none(text) or text


def country_of(number: str) -> str | None:
    """ISO 3166 alpha-2 region of an E.164 number (``US``), None when unknown."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return None
