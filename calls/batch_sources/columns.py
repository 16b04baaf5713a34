"""Column names: how a column is compared (snake case) and which names are taken for the phone
number and the time zone when nothing maps them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["PHONE_COLUMNS", "TIMEZONE_COLUMNS", "column_guess", "snake_case"]

# Taken for the phone number when no mapping names it, in this order of preference.
PHONE_COLUMNS = (
    "phone",
    "phone_number",
    "phonenumber",
    "number",
    "to",
    "to_number",
    "to_phone",
    "mobile",
    "mobile_number",
    "mobile_phone",
    "cell",
    "cell_phone",
    "telephone",
    "tel",
    "msisdn",
)
TIMEZONE_COLUMNS = ("timezone", "time_zone", "tz")


def snake_case(name: str) -> str:
    """``"Customer Name"`` -> ``customer_name``."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def column_guess(columns: Iterable[str], names: Sequence[str]) -> str | None:
    """The first of ``columns`` whose snake-case name is in ``names``, preferring earlier
    ``names``."""
    by_snake: dict[str, str] = {}
    for column in columns:
        by_snake.setdefault(snake_case(column), column)
    return next((by_snake[name] for name in names if name in by_snake), None)
