"""Checking a chunk of source rows (queued, invalid or skipped, with the reason) and writing
it with PostgreSQL's COPY."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
import phonenumbers
from django.db import connection, models
from django.utils import timezone
from phonenumbers import timezone as phonenumbers_timezone

from calls.batch_sources import SourceRow
from calls.models import Batch, BatchRow, BatchRowStatus
from calls.selectors import dnc_numbers_listed
from calls.services.batch_import.mapping import ColumnPlan, plan_for

__all__ = ["NewRow", "RowChecker", "rows_write"]

_MAX_ERROR = 500


@cache
def _zones() -> dict[str, str]:
    """IANA zone names by their lower-case spelling."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _variable(value: Any) -> Any:
    """A prompt variable's value: text stripped; JSON numbers and the like as they are."""
    if value is None or isinstance(value, str):
        return _text(value)
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_ERROR else message[: _MAX_ERROR - 1] + "…"


class RowChecker:
    """Turns source rows into BatchRows (unsaved): queued, invalid or skipped, with why."""

    def __init__(
        self,
        *,
        batch: Batch,
        mapping: dict[str, str] | None,
        region: str,
        required: Sequence[str],
        plan: ColumnPlan | None,
        json_values: bool,
    ) -> None:
        self._batch = batch
        self._mapping = mapping
        self._region = region
        self._required = tuple(required)
        self._plan = plan
        self._plans: dict[tuple[str, ...], ColumnPlan] = {}
        self._json_values = json_values
        self._first_line: dict[str, int] = {}
        self.counts: dict[str, int] = {
            BatchRowStatus.QUEUED: 0,
            BatchRowStatus.INVALID: 0,
            BatchRowStatus.SKIPPED: 0,
        }

    def _row_plan(self, values: Mapping[str, Any]) -> ColumnPlan:
        if self._plan is not None:
            return self._plan
        key = tuple(values)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = plan_for([str(k) for k in key], self._mapping)
        return plan

    def _invalid(self, source: SourceRow, raw: Mapping[str, Any], error: str) -> NewRow:
        return NewRow(source.line_number, raw, "", "", {}, BatchRowStatus.INVALID, _clip(error))

    def _read(self, source: SourceRow) -> NewRow:
        values = source.values
        if values is None:
            return self._invalid(source, {}, source.error or "Unreadable line.")
        if self._json_values and _has_nul(values):
            return self._invalid(source, {}, "The row contains a NUL character.")
        plan = self._row_plan(values)
        phone_text = _text(values.get(plan.phone)) if plan.phone else ""
        if not phone_text:
            return self._invalid(source, values, "No phone number.")
        try:
            parsed = phonenumbers.parse(phone_text, self._region)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            return self._invalid(source, values, f"{phone_text!r} is not a valid phone number.")
        number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        zone = ""
        zone_text = _text(values.get(plan.timezone)) if plan.timezone else ""
        if zone_text:
            zone = _zones().get(zone_text.lower(), "")
            if not zone:
                return self._invalid(
                    source,
                    values,
                    f"{zone_text!r} is not an IANA time zone (e.g. America/New_York).",
                )
        else:
            zone = _number_zone(parsed)
        variables = {name: _variable(values.get(column)) for name, column in plan.variables}
        lacking = [name for name in self._required if _text(variables.get(name)) == ""]
        if lacking:
            return self._invalid(
                source,
                values,
                "Missing prompt variable"
                + ("s" if len(lacking) > 1 else "")
                + ": "
                + ", ".join(lacking)
                + ".",
            )
        return NewRow(
            source.line_number, values, number, zone, variables, BatchRowStatus.QUEUED, ""
        )

    def check(self, sources: Sequence[SourceRow]) -> list[NewRow]:
        rows = [self._read(source) for source in sources]
        listed = dnc_numbers_listed(
            numbers={row.phone_number for row in rows if row.status == BatchRowStatus.QUEUED}
        )
        for row in rows:
            if row.status == BatchRowStatus.QUEUED:
                first = self._first_line.get(row.phone_number)
                if row.phone_number in listed:
                    row.status = BatchRowStatus.SKIPPED
                    row.error = "On the do-not-call list."
                elif first is not None:
                    row.status = BatchRowStatus.SKIPPED
                    row.error = f"Duplicate of line {first}."
                else:
                    self._first_line[row.phone_number] = row.line_number
            self.counts[row.status] += 1
        return rows


def _number_zone(parsed: phonenumbers.PhoneNumber) -> str:
    """The zone of the number's prefix when there is exactly one (the geographical lookup:
    the number is valid already, and its type costs as much again to compute)."""
    zones = phonenumbers_timezone.time_zones_for_geographical_number(parsed)
    if len(zones) == 1 and zones[0] in _zone_names():
        return str(zones[0])
    return ""


@dataclass(slots=True)
class NewRow:
    """A row as checked, before it is written."""

    line_number: int
    raw: Mapping[str, Any]
    phone_number: str
    timezone: str
    variables: dict[str, Any]
    status: str
    error: str


_COPY_COLUMNS = (
    "batch_id",
    "line_number",
    "raw",
    "phone_number",
    "timezone",
    "variables",
    "status",
    "attempts",
    "outcome",
    "error",
    "updated_at",
)


def _column(name: str) -> str:
    field = BatchRow._meta.get_field(name.removesuffix("_id"))
    assert isinstance(field, models.Field)
    return str(field.column)


def rows_write(batch: Batch, rows: Sequence[NewRow]) -> None:
    """Insert a chunk of rows with PostgreSQL's COPY. bulk_create spent two thirds of a
    100,000-row import adapting values in Python (every JSON value, every array of the
    UNNEST insert); COPY takes the rows as text, the JSON serialized by orjson. The columns
    are the model's own (the names below are its fields)."""
    now = timezone.now()
    columns = ", ".join(f'"{_column(name)}"' for name in _COPY_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.copy(f'COPY "{BatchRow._meta.db_table}" ({columns}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(
                (
                    batch.pk,
                    row.line_number,
                    orjson.dumps(dict(row.raw)).decode(),
                    row.phone_number,
                    row.timezone,
                    orjson.dumps(row.variables).decode(),
                    row.status,
                    0,
                    "",
                    row.error,
                    now,
                )
            )
