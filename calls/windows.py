"""Calling windows: the days and hours someone may be called, in their own local time. Pure
functions of wall-clock times and IANA zones (no database), shared by batches and schedules.

A window is ``days`` (0 = Monday … 6 = Sunday; empty = every day) and a start and end time.
The window of a day opens at its ``start`` and closes at its ``end`` the same day, or the next
day when ``end`` is not after ``start``: 22:00-06:00 runs overnight and belongs to the day it
starts on (Friday's 22:00-06:00 window still allows Saturday 03:00, Saturday's does not), and
09:00-09:00 is a whole day. A missing start or end is midnight, so no times at all means the
whole of every allowed day.

Wall clocks jump at daylight-saving changes. ``window_allows`` reads the wall time, so it is
right on either side of a change by construction. ``next_window_start`` answers with an
instant: on the night clocks spring forward, a window opening at 02:30 (a time that does not
exist that night) opens at the change itself, 03:00 local; on the night they fall back, a
window that closes at 01:45 and opens again in the repeated hour is found again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from zoneinfo import ZoneInfo

__all__ = ["window_allows", "next_window_start"]

_MIDNIGHT = dt.time(0, 0)
_UTC = dt.UTC
# How far ahead to look for an opening: a week covers every combination of days.
_HORIZON_DAYS = 8


def window_allows(
    local: dt.datetime,
    *,
    days: Collection[int],
    start: dt.time | None,
    end: dt.time | None,
) -> bool:
    """Whether the wall-clock time ``local`` (in the callee's zone) is inside the window."""
    start = start or _MIDNIGHT
    end = end or _MIDNIGHT
    weekday, now = local.weekday(), local.time().replace(tzinfo=None, fold=0)

    def day_allowed(day: int) -> bool:
        return not days or day in days

    if start < end:
        return day_allowed(weekday) and start <= now < end
    # Overnight (or a whole day): the part after midnight belongs to the previous day's window.
    if now >= start:
        return day_allowed(weekday)
    if now < end:
        return day_allowed((weekday - 1) % 7)
    return False


def next_window_start(
    now: dt.datetime,
    *,
    tz: ZoneInfo,
    days: Collection[int],
    start: dt.time | None,
    end: dt.time | None,
) -> dt.datetime | None:
    """The first instant at or after ``now`` (aware) when the window is open in ``tz``, in
    UTC: ``now`` itself when it is open already; None when no day of the window comes within
    a week (no valid day in ``days``).

    The window opens where the wall clock reaches ``start`` (either reading of an ambiguous
    time) or where a daylight-saving change moves the clock into the window; every such
    instant of the coming week is a candidate, and the first that is open wins.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(_UTC)

    def is_open(instant: dt.datetime) -> bool:
        return window_allows(instant.astimezone(tz), days=days, start=start, end=end)

    if is_open(now):
        return now
    opening = start or _MIDNIGHT
    first_day = now.astimezone(tz).date() - dt.timedelta(days=1)
    candidates: set[dt.datetime] = set()
    for offset in range(_HORIZON_DAYS + 1):
        day = first_day + dt.timedelta(days=offset)
        for fold in (0, 1):
            wall = dt.datetime.combine(day, opening, tzinfo=tz).replace(fold=fold)
            candidates.add(wall.astimezone(_UTC))
    candidates.update(_offset_changes(tz, now, now + dt.timedelta(days=_HORIZON_DAYS)))
    for candidate in sorted(candidates):
        if candidate >= now and is_open(candidate):
            return candidate
    return None


def _offset_changes(tz: ZoneInfo, since: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The instants in [since, until] (UTC) where ``tz``'s UTC offset changes, to the second.
    zoneinfo has no public list of transitions: step through the span in hours and bisect
    each step whose offsets differ (no zone changes its offset twice within an hour)."""
    changes: list[dt.datetime] = []
    step = dt.timedelta(hours=1)
    left = since
    while left < until:
        right = min(left + step, until)
        if _offset(tz, left) != _offset(tz, right):
            low, high = left, right  # offset(low) != offset(high)
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset(tz, middle) == _offset(tz, low):
                    low = middle
                else:
                    high = middle
            changes.append(high.replace(microsecond=0))
        left = right
    return changes


def _offset(tz: ZoneInfo, instant: dt.datetime) -> dt.timedelta | None:
    return instant.astimezone(tz).utcoffset()
