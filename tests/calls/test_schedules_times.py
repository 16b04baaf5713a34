"""Time for schedules, without a database: a naive time read in the schedule's zone and an
explicit offset winning; cron runs across every DST change in zones with different rules
(America/New_York, Europe/London, Australia/Sydney in the southern hemisphere) and in zones
without DST (Asia/Kolkata, UTC); cron checked field by field; the plain-language reading."""

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from calls.exceptions import ScheduleInvalidCron, ScheduleTimeInPast, ScheduleTimezoneUnknown
from calls.services.schedule_times import (
    cron_clean,
    cron_describe,
    cron_occurrences,
    local_to_instant,
    scheduled_time_parse,
    timezone_clean,
)
from voiceagents.exceptions import ValidationFailed

UTC = dt.UTC
NOW = dt.datetime(2024, 1, 15, 12, 0, tzinfo=UTC)


def local_runs(expression, zone, after, count):
    tz = ZoneInfo(zone)
    runs = cron_occurrences(expression, tz=tz, after=after.replace(tzinfo=tz))
    return [run.astimezone(tz) for run in itertools.islice(runs, count)]


def wall(moments):
    return [(m.strftime("%m-%d %H:%M"), m.utcoffset()) for m in moments]


H = dt.timedelta(hours=1)

# --- a one-time time ------------------------------------------------------------------------------


def test_a_naive_time_is_read_in_the_schedules_zone():
    at = scheduled_time_parse("2024-02-01 14:00:00", tz=ZoneInfo("America/New_York"), now=NOW)
    assert at == dt.datetime(2024, 2, 1, 19, 0, tzinfo=UTC)


def test_an_explicit_offset_wins_over_the_zone():
    tz = ZoneInfo("America/New_York")
    assert scheduled_time_parse("2024-02-01T14:00:00+01:00", tz=tz, now=NOW) == dt.datetime(
        2024, 2, 1, 13, 0, tzinfo=UTC
    )
    assert scheduled_time_parse("2024-02-01T14:00:00Z", tz=tz, now=NOW) == dt.datetime(
        2024, 2, 1, 14, 0, tzinfo=UTC
    )


def test_a_time_in_the_past_is_refused():
    with pytest.raises(ScheduleTimeInPast) as error:
        scheduled_time_parse("2024-01-15 06:59", tz=ZoneInfo("America/New_York"), now=NOW)
    assert error.value.status == 400
    assert "in the past" in error.value.details["fields"]["scheduled_time"][0]


def test_a_time_that_is_not_a_time_is_refused_naming_the_field():
    with pytest.raises(ValidationFailed) as error:
        scheduled_time_parse("next tuesday", tz=ZoneInfo("UTC"), now=NOW)
    assert "scheduled_time" in error.value.details["fields"]


def test_a_naive_time_in_the_spring_forward_gap_is_the_first_valid_time_after_it():
    tz = ZoneInfo("America/New_York")
    at = local_to_instant(dt.datetime(2024, 3, 10, 2, 30), tz)
    assert at.astimezone(tz).strftime("%H:%M %z") == "03:00 -0400"


def test_a_naive_time_in_the_repeated_hour_is_its_first_occurrence():
    tz = ZoneInfo("America/New_York")
    at = local_to_instant(dt.datetime(2024, 11, 3, 1, 30), tz)
    assert at.astimezone(tz).strftime("%H:%M %z") == "01:30 -0400"


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ScheduleTimezoneUnknown) as error:
        timezone_clean("Mars/Olympus_Mons")
    assert error.value.code == "unknown_timezone"
    assert "timezone" in error.value.details["fields"]
    for bad in ("", "../etc/passwd", None, 5):
        with pytest.raises(ScheduleTimezoneUnknown):
            timezone_clean(bad)


# --- cron across DST ------------------------------------------------------------------------------

# (zone, spring-forward day, the skipped wall time's first valid time, fall-back day)
DST_ZONES = [
    ("America/New_York", dt.date(2024, 3, 10), "02:30", "03:00", dt.date(2024, 11, 3), "01:30"),
    ("Europe/London", dt.date(2024, 3, 31), "01:30", "02:00", dt.date(2024, 10, 27), "01:30"),
    ("Australia/Sydney", dt.date(2024, 10, 6), "02:30", "03:00", dt.date(2024, 4, 7), "02:30"),
]


@pytest.mark.parametrize(
    ("zone", "spring", "skipped", "first_valid", "fall", "repeated"), DST_ZONES
)
def test_a_daily_run_in_the_skipped_hour_runs_once_at_the_first_valid_time(
    zone, spring, skipped, first_valid, fall, repeated
):
    hour, minute = map(int, skipped.split(":"))
    before = dt.datetime.combine(spring - dt.timedelta(days=1), dt.time(12))
    runs = local_runs(f"{minute} {hour} * * *", zone, before, 3)
    assert [r.strftime("%d %H:%M") for r in runs] == [
        f"{spring:%d} {first_valid}",
        f"{spring + dt.timedelta(days=1):%d} {skipped}",
        f"{spring + dt.timedelta(days=2):%d} {skipped}",
    ]
    # Each an hour (the DST shift) apart from the naive reading, and each once.
    assert len({r.astimezone(UTC) for r in runs}) == 3


@pytest.mark.parametrize(
    ("zone", "spring", "skipped", "first_valid", "fall", "repeated"), DST_ZONES
)
def test_a_daily_run_in_the_repeated_hour_runs_once_not_twice(
    zone, spring, skipped, first_valid, fall, repeated
):
    hour, minute = map(int, repeated.split(":"))
    before = dt.datetime.combine(fall - dt.timedelta(days=1), dt.time(12))
    runs = local_runs(f"{minute} {hour} * * *", zone, before, 3)
    assert [r.strftime("%d %H:%M") for r in runs] == [
        f"{fall + dt.timedelta(days=i):%d} {repeated}" for i in range(3)
    ]
    # The first is the first occurrence of the repeated hour (daylight time, the larger offset).
    assert runs[0].utcoffset() > runs[1].utcoffset()


@pytest.mark.parametrize(
    ("zone", "spring", "skipped", "first_valid", "fall", "repeated"), DST_ZONES
)
def test_runs_every_half_hour_through_both_changes_each_wall_time_once(
    zone, spring, skipped, first_valid, fall, repeated
):
    tz = ZoneInfo(zone)
    for day in (spring, fall):
        start = dt.datetime.combine(day, dt.time(0, 10)).replace(tzinfo=tz)
        end = start + dt.timedelta(hours=4)
        runs = [
            r
            for r in itertools.islice(cron_occurrences("*/30 * * * *", tz=tz, after=start), 12)
            if r <= end
        ]
        instants = [r.astimezone(UTC) for r in runs]
        assert instants == sorted(set(instants))  # increasing, none twice
        walls = [r.astimezone(tz).strftime("%H:%M") for r in runs]
        assert len(walls) == len(set(walls))  # no wall time runs twice (the repeated hour)


def test_every_hour_on_the_fall_back_night_in_new_york():
    runs = local_runs("0 * * * *", "America/New_York", dt.datetime(2024, 11, 2, 23, 30), 5)
    assert wall(runs) == [
        ("11-03 00:00", -4 * H),
        ("11-03 01:00", -4 * H),  # once: the repeated 01:00 (EST) does not run again
        ("11-03 02:00", -5 * H),
        ("11-03 03:00", -5 * H),
        ("11-03 04:00", -5 * H),
    ]


def test_every_15_minutes_in_the_skipped_hour_collapse_into_one_run():
    runs = local_runs("*/15 * * * *", "America/New_York", dt.datetime(2024, 3, 10, 1, 40), 4)
    assert wall(runs) == [
        ("03-10 01:45", -5 * H),
        ("03-10 03:00", -4 * H),  # 02:00, 02:15, 02:30, 02:45 do not exist: one run, at 03:00
        ("03-10 03:15", -4 * H),
        ("03-10 03:30", -4 * H),
    ]


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "UTC"])
def test_a_zone_without_dst_runs_at_the_same_wall_time_and_offset_all_year(zone):
    tz = ZoneInfo(zone)
    offsets = set()
    for day in (
        dt.date(2024, 3, 9),
        dt.date(2024, 3, 30),
        dt.date(2024, 10, 26),
        dt.date(2024, 11, 2),
    ):
        runs = local_runs("30 2 * * *", zone, dt.datetime.combine(day, dt.time(12)), 2)
        assert [r.strftime("%H:%M") for r in runs] == ["02:30", "02:30"]
        assert (runs[1] - runs[0]) == dt.timedelta(days=1)
        offsets |= {r.utcoffset() for r in runs}
    assert offsets == {dt.datetime(2024, 1, 1, tzinfo=tz).utcoffset()}


def test_weekday_names_in_the_zone():
    runs = local_runs("0 9 * * MON", "America/New_York", dt.datetime(2024, 3, 6, 12), 3)
    assert [(r.strftime("%a %d %H:%M"), r.utcoffset()) for r in runs] == [
        ("Mon 11 09:00", -4 * H),  # the Monday after the change: still 09:00 local
        ("Mon 18 09:00", -4 * H),
        ("Mon 25 09:00", -4 * H),
    ]


def test_start_and_end_dates_bound_the_runs_in_the_zone():
    tz = ZoneInfo("Europe/London")
    after = dt.datetime(2024, 6, 1, tzinfo=tz)
    runs = list(
        cron_occurrences(
            "0 0 * * *",
            tz=tz,
            after=after,
            start_date=dt.date(2024, 6, 3),
            end_date=dt.date(2024, 6, 5),
        )
    )
    assert [r.astimezone(tz).strftime("%d %H:%M") for r in runs] == [
        "03 00:00",
        "04 00:00",
        "05 00:00",
    ]


# --- checking an expression -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("0 25 * * *", "the hour field '25'"),
        ("61 * * * *", "the minute field '61'"),
        ("0 9 32 * *", "the day of month field '32'"),
        ("0 9 * 13 *", "the month field '13'"),
        ("0 9 * * FUN", "the day of week field 'FUN'"),
        ("*/0 * * * *", "the minute field '*/0'"),
    ],
)
def test_an_invalid_field_is_refused_naming_the_field_and_the_problem(expression, names):
    with pytest.raises(ScheduleInvalidCron) as error:
        cron_clean(expression)
    message = error.value.message
    assert message.startswith("cron_expression:")
    assert names in message and "is not valid (allowed:" in message
    assert error.value.details["fields"]["cron_expression"] == [message]
    assert error.value.code == "invalid_cron_expression" and error.value.status == 400


def test_the_wrong_number_of_fields_is_refused_saying_how_many():
    with pytest.raises(ScheduleInvalidCron, match="has 5 fields .* has 4"):
        cron_clean("0 9 * *")
    with pytest.raises(ScheduleInvalidCron, match="has 6"):
        cron_clean("0 0 9 * * MON")


def test_an_expression_that_never_matches_is_refused():
    with pytest.raises(ScheduleInvalidCron, match="never matches a date"):
        cron_clean("0 0 30 2 *")


def test_an_expression_is_normalized_and_read_in_plain_language():
    assert cron_clean("  0  9 * *   MON ") == "0 9 * * MON"
    assert cron_describe("0 9 * * MON") == "At 09:00, only on Monday"
    assert cron_describe("30 14 1 * *") == "At 14:30, on day 1 of the month"
