"""The organization's do-not-call list: entries added one by one (the API, the admin) or from
a CSV, changed and removed. Numbers are stored in E.164; one written without a country code is
read in the organization's ``default_region``. Batches skip listed numbers when they are
imported, and the dialer checks the list again before each call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import structlog
from django.db import IntegrityError, transaction

from calls.batch_sources import PHONE_COLUMNS, CsvRows, column_guess
from calls.exceptions import DncEntryExists, InvalidPhoneNumber
from calls.models import DoNotCallEntry
from calls.numbers import e164_in_region
from calls.selectors import current_organization, dnc_numbers_listed
from organizations.models import User
from voiceagents.exceptions import ValidationFailed

__all__ = [
    "DncImportProblem",
    "DncImportResult",
    "dnc_entry_create",
    "dnc_entry_delete",
    "dnc_entry_update",
    "dnc_import",
    "dnc_number_clean",
]

logger = structlog.get_logger(__name__)

_CHUNK = 2000
# Problems listed in an import's answer (all are counted).
_MAX_PROBLEMS = 100
_REASON_COLUMNS = ("reason", "note", "notes", "comment")


def dnc_number_clean(value: Any, *, field_name: str = "number") -> str:
    """``value`` in E.164, national numbers read in the organization's default region;
    InvalidPhoneNumber naming ``field_name`` otherwise."""
    number = e164_in_region(value, region=current_organization().default_region)
    if number is None:
        message = f"{str(value or '').strip()!r} is not a valid phone number."
        raise InvalidPhoneNumber(message, details={"fields": {field_name: [message]}})
    return number


def dnc_entry_create(
    *, number: str, reason: str = "", source: str = "api", created_by: User | None = None
) -> DoNotCallEntry:
    """Add a number; DncEntryExists (409) when it is listed already."""
    normalized = dnc_number_clean(number)
    try:
        with transaction.atomic():
            entry = DoNotCallEntry.objects.create(
                number=normalized, reason=(reason or "")[:200], source=source, created_by=created_by
            )
    except IntegrityError:
        existing = DoNotCallEntry.objects.filter(number=normalized).first()
        raise DncEntryExists(
            details={"number": normalized, "id": existing.pk if existing else None}
        ) from None
    logger.info("dnc_entry_added", number=normalized, source=source)
    return entry


def dnc_entry_update(*, entry: DoNotCallEntry, data: Mapping[str, Any]) -> DoNotCallEntry:
    """Change an entry's number or reason."""
    unknown = sorted(set(data) - {"number", "reason"})
    if unknown:
        raise ValidationFailed.for_fields(
            {name: ["This field cannot be changed."] for name in unknown}
        )
    fields: list[str] = []
    if "number" in data:
        entry.number = dnc_number_clean(data["number"])
        fields.append("number")
    if "reason" in data:
        entry.reason = str(data["reason"] or "")[:200]
        fields.append("reason")
    if fields:
        try:
            with transaction.atomic():
                entry.save(update_fields=fields)
        except IntegrityError:
            raise DncEntryExists(details={"number": entry.number}) from None
    return entry


def dnc_entry_delete(*, entry: DoNotCallEntry) -> None:
    logger.info("dnc_entry_removed", number=entry.number)
    entry.delete()


@dataclass(frozen=True, slots=True)
class DncImportProblem:
    line: int
    value: str
    reason: str


@dataclass
class DncImportResult:
    added: int = 0
    already_listed: int = 0
    invalid: int = 0
    # The first problems, with their lines (``invalid`` counts them all).
    problems: list[DncImportProblem] = field(default_factory=list)


def dnc_import(
    *, file: IO[bytes], source: str = "csv", created_by: User | None = None
) -> DncImportResult:
    """Add every number of a CSV: a column named like a phone number (``number``, ``phone``,
    ...) or, failing that, the first; an optional ``reason`` column. A file of bare numbers
    without a header works too. Numbers already listed are counted, not changed; lines whose
    number is not valid are reported with their line number."""
    rows = CsvRows(file)
    columns = rows.columns
    number_column = column_guess(columns, PHONE_COLUMNS)
    reason_column = column_guess(columns, _REASON_COLUMNS)
    region = current_organization().default_region
    headerless = (
        number_column is None and bool(columns) and e164_in_region(columns[0], region=region)
    )
    if number_column is None:
        number_column = columns[0] if columns else None
    if number_column is None:
        raise ValidationFailed.for_fields({"file": ["The file has no column of numbers."]})
    result = DncImportResult()

    def problem(line: int, value: str, reason: str) -> None:
        result.invalid += 1
        if len(result.problems) < _MAX_PROBLEMS:
            result.problems.append(DncImportProblem(line=line, value=value[:100], reason=reason))

    pending: dict[str, str] = {}

    def flush() -> None:
        listed = dnc_numbers_listed(numbers=pending.keys())
        new = [
            DoNotCallEntry(number=n, reason=r, source=source, created_by=created_by)
            for n, r in pending.items()
            if n not in listed
        ]
        DoNotCallEntry.objects.bulk_create(new, ignore_conflicts=True)
        result.added += len(new)
        result.already_listed += len(pending) - len(new)
        pending.clear()

    with transaction.atomic():
        if headerless:
            pending[str(headerless)] = ""
        for row in rows:
            if row.values is None:
                problem(row.line_number, "", row.error)
                continue
            value = str(row.values.get(number_column) or "").strip()
            if not value:
                continue
            number = e164_in_region(value, region=region)
            if number is None:
                problem(row.line_number, value, "Not a valid phone number.")
                continue
            reason = str(row.values.get(reason_column) or "")[:200] if reason_column else ""
            if number in pending:
                result.already_listed += 1
                continue
            pending[number] = reason
            if len(pending) >= _CHUNK:
                flush()
        flush()
    logger.info(
        "dnc_imported", added=result.added, listed=result.already_listed, invalid=result.invalid
    )
    return result
