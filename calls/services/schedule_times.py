"""Time for schedules, as pure functions (no database): the time zone, a one-time
``scheduled_time`` read in it, a cron expression checked field by field and read out in plain
language, and the instants a cron expression fires at, in its zone, across DST changes.

Cron runs are computed on the **wall clock** of the schedule's zone and only then turned into
instants, so a DST change never moves a run's local time:

- spring forward: a wall time that does not exist that night (02:30 on the night clocks jump
  from 02:00 to 03:00) runs once, at the first valid instant after the gap (03:00 local);
  several such times (every 15 minutes) collapse into that one run;
- fall back: a wall time that occurs twice (01:30 on the night clocks go back from 02:00 to
  01:00) runs once, at its first occurrence; the repeated hour is not run again.

croniter (the maintained cron library) matches the expression on naive wall-clock times;
the mapping to instants is ours (croniter on aware times runs the repeated hour twice).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterator

from cron_descriptor import ExpressionDescriptor, Options
from croniter import CroniterBadDateError, CroniterError, croniter

from calls.exceptions import ScheduleInvalidCron, ScheduleTimeInPast, ScheduleTimezoneUnknown
from voiceagents.exceptions import ValidationFailed

__all__ = [
    "CRON_FIELDS",
    "cron_clean",
    "cron_describe",
    "cron_occurrences",
    "local_to_instant",
    "scheduled_time_parse",
    "timezone_clean",
]

_UTC = dt.UTC
# The five fields of a standard cron expression, with what each allows (for the messages).
CRON_FIELDS: tuple[tuple[str, str], ...] = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-6 (0 = Sunday) or SUN-SAT"),
)
# A cron expression that never fires within this many years is refused (30 February...).
_HORIZON_YEARS = 5


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_clean(value: object, *, field: str = "timezone") -> zoneinfo.ZoneInfo:
    """The IANA zone named ``value``; ScheduleTimezoneUnknown (400, naming ``field``) else."""
    name = value.strip() if isinstance(value, str) else ""
    if name not in _zone_names():
        message = f"{value!r} is not an IANA time zone name (for example America/New_York)."
        raise ScheduleTimezoneUnknown(message, details={"fields": {field: [message]}})
    return zoneinfo.ZoneInfo(name)


def local_to_instant(wall: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant (UTC) of the naive wall-clock time ``wall`` in ``tz``: its first occurrence
    when it is ambiguous (the repeated hour), the first valid instant after the gap when it
    does not exist (the skipped hour)."""
    wall = wall.replace(tzinfo=None, fold=0)
    first = wall.replace(tzinfo=tz).astimezone(_UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In a gap: fold=0 reads it with the offset before the change, fold=1 with the one after;
    # the change lies between the two. Find, to the second, the first instant whose wall
    # time is past ``wall`` (no zone has a change that is not on a whole second).
    other = wall.replace(tzinfo=tz, fold=1).astimezone(_UTC)
    low, high = int(min(first, other).timestamp()), int(max(first, other).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if dt.datetime.fromtimestamp(middle, tz).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle
    return dt.datetime.fromtimestamp(high, _UTC)


def scheduled_time_parse(
    value: object,
    *,
    tz: zoneinfo.ZoneInfo,
    now: dt.datetime,
    field: str = "scheduled_time",
) -> dt.datetime:
    """A one-time run's instant (UTC) from ``value``: an ISO 8601 date and time
    (``2024-02-01 14:00:00``, ``2024-02-01T14:00:00-05:00``, an aware datetime). A naive time
    is read in ``tz``; an explicit offset wins. In the past (before ``now``): ScheduleTimeInPast."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            message = (
                f"{value!r} is not a date and time: give YYYY-MM-DD HH:MM[:SS], optionally "
                "with a UTC offset (+02:00, Z)."
            )
            raise _bad_time(message, field) from None
    else:
        raise _bad_time("Give a date and time as text (YYYY-MM-DD HH:MM:SS).", field)
    if parsed.tzinfo is None:
        instant = local_to_instant(parsed, tz)
    else:
        try:
            instant = parsed.astimezone(_UTC)
        except (OverflowError, ValueError):
            raise _bad_time("This time is outside the calendar in UTC.", field) from None
    if instant <= now:
        message = (
            f"{instant.astimezone(tz).isoformat(sep=' ')} ({tz.key}) is in the past; give a "
            "time after now."
        )
        raise ScheduleTimeInPast(message, details={"fields": {field: [message]}})
    return instant


def _bad_time(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, details={"fields": {field: [message]}})


def _invalid(message: str, field: str) -> ScheduleInvalidCron:
    return ScheduleInvalidCron(message, details={"fields": {field: [message]}})


def cron_clean(value: object, *, field: str = "cron_expression") -> str:
    """A standard 5-field cron expression (names such as MON and JAN allowed), normalized to
    single spaces. ScheduleInvalidCron names the request field, the cron field and its problem:
    "cron_expression: the hour field '25' is not valid (allowed: 0-23...)"."""
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{field}: give a cron expression such as '0 9 * * MON'.", field)
    parts = value.split()
    if len(parts) != len(CRON_FIELDS):
        raise _invalid(
            f"{field}: a cron expression has {len(CRON_FIELDS)} fields (minute, hour, day of "
            f"month, month, day of week); {value.strip()!r} has {len(parts)}.",
            field,
        )
    for index, (name, allowed) in enumerate(CRON_FIELDS):
        # Each field alone, the others '*': croniter's verdict on that field only.
        probe = ["*"] * len(CRON_FIELDS)
        probe[index] = parts[index]
        if not croniter.is_valid(" ".join(probe)):
            raise _invalid(
                f"{field}: the {name} field {parts[index]!r} is not valid (allowed: {allowed}, "
                "with * , lists a,b, ranges a-b and steps */n).",
                field,
            )
    expression = " ".join(parts)
    if not croniter.is_valid(expression):
        raise _invalid(f"{field}: {expression!r} is not a valid cron expression.", field)
    try:
        first = croniter(expression, dt.datetime(2000, 1, 1)).get_next(dt.datetime)
    except (CroniterBadDateError, CroniterError):
        first = None
    if first is None or first.year > 2000 + _HORIZON_YEARS:
        raise _invalid(
            f"{field}: {expression!r} never matches a date (check the day of month and month "
            "fields).",
            field,
        )
    return expression


@functools.lru_cache(maxsize=512)
def cron_describe(expression: str) -> str:
    """The expression in plain language, on a 24-hour clock: "At 09:00, only on Monday"."""
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return str(ExpressionDescriptor(expression, options).get_description())
    except Exception:  # the library raises its own error classes; the reading is informative
        return expression


def cron_occurrences(
    expression: str,
    *,
    tz: zoneinfo.ZoneInfo,
    after: dt.datetime,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
) -> Iterator[dt.datetime]:
    """The instants (UTC, increasing, each once) strictly after ``after`` at which the cron
    expression fires in ``tz``, from ``start_date`` to ``end_date`` (local dates, both
    included); ends after ``end_date`` (never, without one)."""
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    if start_date is not None:
        opening = local_to_instant(dt.datetime.combine(start_date, dt.time(0, 0)), tz)
        after = max(after, opening - dt.timedelta(seconds=1))
    # Match on the wall clock, from the wall time of ``after`` (its first reading, fold=0),
    # and keep only instants past ``after``: in the repeated hour the wall times already
    # passed come round again, and are dropped here.
    wall = after.astimezone(tz).replace(tzinfo=None, fold=0)
    iterator = croniter(expression, wall)
    previous = after
    while True:
        try:
            candidate: dt.datetime = iterator.get_next(dt.datetime)
        except CroniterBadDateError:
            return
        if end_date is not None and candidate.date() > end_date:
            return
        instant = local_to_instant(candidate, tz)
        if instant > previous:
            previous = instant
            yield instant
