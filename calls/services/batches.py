"""A batch's settings (validated the same way at creation and on change), changing them while
the batch is a draft or paused, and deleting a batch that is not dialing.

Creating a batch from its input is ``calls.services.batch_import``; starting, pausing,
resuming and canceling it is ``calls.services.batch_control``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from calls.exceptions import BatchNotDeletable, BatchNotEditable
from calls.models import Batch, BatchRow, BatchRowOutcome, BatchStatus, Call
from calls.selectors import caller_number_get, current_organization
from organizations.models import Organization
from voiceagents.exceptions import ValidationFailed

__all__ = [
    "BATCH_SETTINGS_FIELDS",
    "EDITABLE_STATUSES",
    "RETRYABLE_OUTCOMES",
    "batch_delete",
    "batch_settings_clean",
    "batch_update",
]

# What a batch may be told to retry: outcomes where calling again can reach someone.
RETRYABLE_OUTCOMES: tuple[str, ...] = (
    BatchRowOutcome.NO_ANSWER,
    BatchRowOutcome.BUSY,
    BatchRowOutcome.FAILED,
    BatchRowOutcome.VOICEMAIL,
)
MAX_ATTEMPTS = 10
MAX_RETRY_DELAY_SECONDS = 7 * 24 * 3600
MAX_BREAKER_WINDOW = 1000
# The dialing settings (the model's fields), as the API, the admin and the command name them.
BATCH_SETTINGS_FIELDS = (
    "max_concurrency",
    "calls_per_second",
    "window_days",
    "window_start",
    "window_end",
    "retry_outcomes",
    "max_attempts",
    "retry_delay_seconds",
    "breaker_window",
    "breaker_threshold",
)
EDITABLE_STATUSES = (BatchStatus.DRAFT, BatchStatus.PAUSED)
_UPDATABLE = ("name", "from_number", *BATCH_SETTINGS_FIELDS)


class _Invalid(ValueError):
    pass


def _integer(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise _Invalid("Give a whole number.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _Invalid("Give a whole number.") from None
    if isinstance(value, float) and value != number:
        raise _Invalid("Give a whole number.")
    if not low <= number <= high:
        raise _Invalid(f"Give a number from {low} to {high}.")
    return number


def _number(value: Any, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool):
        raise _Invalid("Give a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Invalid("Give a number.") from None
    if not math.isfinite(number) or number > high or number < low or (low_open and number == low):
        bound = f"more than {low:g}" if low_open else f"at least {low:g}"
        raise _Invalid(f"Give a number {bound} and at most {high:g}.")
    return number


def _time(value: Any) -> dt.time | None:
    if value is None or isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid("Give a time as HH:MM.")


def _choices(value: Any, allowed: tuple[Any, ...], *, label: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise _Invalid(f"Give a list of {label}.")
    chosen: list[Any] = []
    for item in value:
        if item not in allowed:
            raise _Invalid(f"{item!r} is not one of {', '.join(map(str, allowed))}.")
        if item not in chosen:
            chosen.append(item)
    return chosen


def _days(value: Any) -> list[int]:
    if not isinstance(value, list | tuple):
        raise _Invalid("Give a list of days, 0 = Monday … 6 = Sunday (empty: every day).")
    days = [_integer(day, 0, 6) for day in value]
    return sorted(set(days))


def batch_settings_clean(*, data: Mapping[str, Any], organization: Organization) -> dict[str, Any]:
    """The dialing settings in ``data`` (any of BATCH_SETTINGS_FIELDS), validated and as
    stored; every bad field is named in one ValidationFailed."""
    max_rate = float(settings.BATCH_MAX_CALLS_PER_SECOND)
    cleaners: dict[str, Callable[[Any], Any]] = {
        "max_concurrency": lambda v: _concurrency(v, organization),
        "calls_per_second": lambda v: _number(v, 0.0, max_rate),
        "window_days": _days,
        "window_start": _time,
        "window_end": _time,
        "retry_outcomes": lambda v: _choices(v, RETRYABLE_OUTCOMES, label="outcomes"),
        "max_attempts": lambda v: _integer(v, 1, MAX_ATTEMPTS),
        "retry_delay_seconds": lambda v: _integer(v, 0, MAX_RETRY_DELAY_SECONDS),
        "breaker_window": lambda v: _integer(v, 1, MAX_BREAKER_WINDOW),
        "breaker_threshold": lambda v: _number(v, 0.0, 1.0, low_open=True),
    }
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        clean = cleaners.get(name)
        if clean is None:
            continue
        try:
            values[name] = clean(value)
        except _Invalid as exc:
            errors[name] = [str(exc)]
    if errors:
        raise ValidationFailed.for_fields(errors)
    return values


def _concurrency(value: Any, organization: Organization) -> int:
    number = _integer(value, 1, 10_000)
    if number > organization.max_concurrent_calls:
        raise _Invalid(
            f"At most the organization's max_concurrent_calls ({organization.max_concurrent_calls})."
        )
    return number


def batch_update(*, batch: Batch, data: Mapping[str, Any]) -> Batch:
    """Change a batch's name, caller id or dialing settings, while it is a draft or paused
    (BatchNotEditable otherwise). The row is locked, so a concurrent start cannot slip in."""
    unknown = sorted(set(data) - set(_UPDATABLE))
    if unknown:
        raise ValidationFailed.for_fields(
            {name: ["This field cannot be changed."] for name in unknown}
        )
    organization = current_organization()
    with transaction.atomic():
        locked = Batch.objects.select_for_update().select_related("agent").get(pk=batch.pk)
        if locked.status not in EDITABLE_STATUSES:
            raise BatchNotEditable(details={"status": locked.status})
        values = batch_settings_clean(data=data, organization=organization)
        if "name" in data:
            name = str(data["name"] or "").strip()
            if not name:
                raise ValidationFailed.for_fields({"name": ["Give the batch a name."]})
            values["name"] = name[:200]
        if "from_number" in data:
            values["from_number"] = caller_number_get(
                agent=locked.agent, from_phone=data["from_number"] or None, field="from_number"
            )
        for name, value in values.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*values, "updated_at"])
    return locked


def batch_delete(*, batch: Batch) -> None:
    """Delete a batch and its rows. A running or paused batch, or one with calls in flight,
    is refused (BatchNotDeletable: cancel it first); its calls stay, without their batch."""
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status in (BatchStatus.RUNNING, BatchStatus.PAUSED) or locked.in_progress_count:
            raise BatchNotDeletable(
                details={"status": locked.status, "in_progress": locked.in_progress_count}
            )
        Call.objects.filter(batch=locked).update(batch=None, batch_row=None)
        # One statement for the rows: Model.delete() would load every row (100,000 of them)
        # to cascade; nothing points at a row any more (the calls were just unlinked).
        with connection.cursor() as cursor:
            cursor.execute(
                f'DELETE FROM "{BatchRow._meta.db_table}" WHERE batch_id = %s', [locked.pk]
            )
        locked.delete()
