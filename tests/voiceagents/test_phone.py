"""E.164 numbers for every app (voiceagents.phone)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from voiceagents.phone import to_e164, validate_e164


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+14155550100", "+14155550100"),
        (" +1 (415) 555-0100 ", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("4155550100", None),  # no country code
        ("+1415555", None),
        ("call me", None),
        ("+" + "1" * 300, None),
        (14155550100, None),
        (None, None),
    ],
)
def test_to_e164(value, expected):
    assert to_e164(value) == expected


def test_the_validator_takes_only_numbers_written_in_e164():
    validate_e164("+14155550100")

    with pytest.raises(ValidationError, match="not a valid phone number"):
        validate_e164("555-0100")
    with pytest.raises(ValidationError, match=r"\+14155550100"):
        validate_e164("+1 415 555 0100")
