"""Which columns of an input give a row's phone number, its time zone and its prompt
variables: an explicit ``column_mapping``, or a guess from the columns' names."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agents.prompts import VARIABLE_RE
from calls.batch_sources import PHONE_COLUMNS, TIMEZONE_COLUMNS, column_guess, snake_case
from voiceagents.exceptions import ValidationFailed

__all__ = ["ColumnPlan", "mapping_clean", "plan_check", "plan_for"]

_RESERVED_KEYS = ("phone", "timezone")


@dataclass(frozen=True)
class ColumnPlan:
    """Which columns of a row give its phone number, its time zone and its variables."""

    phone: str | None
    timezone: str | None
    variables: tuple[tuple[str, str], ...]  # (variable, column)


def mapping_clean(mapping: Any) -> dict[str, str] | None:
    """The explicit mapping (None: guess). 400 ``column_mapping`` when it is not an object of
    our names to column names with a ``phone``."""
    if mapping in (None, "", {}):
        return None

    def fail(message: str) -> ValidationFailed:
        return ValidationFailed(message, details={"fields": {"column_mapping": [message]}})

    if not isinstance(mapping, Mapping):
        raise fail('Give an object of our names to your columns: {"phone": "Phone", ...}.')
    clean: dict[str, str] = {}
    for key, column in mapping.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise fail(f"{key!r} is not a name: letters, digits and _, not starting with a digit.")
        if not isinstance(column, str) or not column.strip():
            raise fail(f"{key}: name the input's column (a non-empty string).")
        clean[key] = column.strip()
    if "phone" not in clean:
        raise fail('Map the phone column: {"phone": "<your column>"}.')
    return clean


def plan_for(columns: Sequence[str], mapping: dict[str, str] | None) -> ColumnPlan:
    if mapping is not None:
        return ColumnPlan(
            phone=mapping["phone"],
            timezone=mapping.get("timezone"),
            variables=tuple((k, v) for k, v in mapping.items() if k not in _RESERVED_KEYS),
        )
    by_snake: dict[str, str] = {}
    for column in columns:
        by_snake.setdefault(snake_case(str(column)), str(column))
    phone = column_guess(by_snake.values(), PHONE_COLUMNS)
    zone = column_guess(by_snake.values(), TIMEZONE_COLUMNS)
    variables = tuple(
        (snake, column)
        for snake, column in by_snake.items()
        if column not in (phone, zone) and VARIABLE_RE.fullmatch("{{" + snake + "}}")
    )
    return ColumnPlan(phone=phone, timezone=zone, variables=variables)


def plan_check(
    plan: ColumnPlan, *, columns: Sequence[str], required: Sequence[str], explicit: bool
) -> None:
    """With the input's columns known (a CSV header): 400 ``column_mapping`` when the mapping
    names a column the input lacks, no phone column was found, or a prompt variable the agent
    needs has no column."""

    def fail(message: str, **details: Any) -> ValidationFailed:
        return ValidationFailed(
            message,
            details={"fields": {"column_mapping": [message]}, "columns": list(columns), **details},
        )

    shown = ", ".join(columns) or "(none)"
    if plan.phone is None:
        raise fail(
            "No phone column found (looked for " + ", ".join(PHONE_COLUMNS[:6]) + "…): name it "
            'in column_mapping, {"phone": "<column>"}. The columns are: ' + shown + "."
        )
    if explicit:
        named = [
            plan.phone,
            *([plan.timezone] if plan.timezone else []),
            *(c for _, c in plan.variables),
        ]
        missing = [column for column in named if column not in columns]
        if missing:
            raise fail(
                f"column_mapping names columns the input does not have: {', '.join(missing)}. "
                f"The columns are: {shown}.",
                missing_columns=missing,
            )
    provided = {name for name, _ in plan.variables}
    lacking = [name for name in required if name not in provided]
    if lacking:
        example = ", ".join(f'"{name}": "<column>"' for name in lacking)
        raise fail(
            "The agent's prompts use "
            + ", ".join("{{" + name + "}}" for name in lacking)
            + f", which no column provides: map them, {{{example}}}.",
            missing_variables=lacking,
        )
