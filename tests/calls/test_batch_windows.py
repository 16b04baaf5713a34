"""Calling windows (calls.windows), pure: days and hours in the callee's wall-clock time,
windows that cross midnight, and the next opening as an instant across time zones and
daylight-saving changes."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from calls.windows import next_window_start, window_allows

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
T = dt.time
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def local(zone, *args, fold=0):
    return dt.datetime(*args, tzinfo=zone).replace(fold=fold)


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


# --- window_allows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "allowed"),
    [
        (T(8, 59), False),
        (T(9, 0), True),  # the start is inside
        (T(20, 59), True),
        (T(21, 0), False),  # the end is outside
    ],
)
def test_a_daytime_window_includes_its_start_and_excludes_its_end(when, allowed):
    moment = dt.datetime.combine(dt.date(2026, 6, 3), when, tzinfo=NEW_YORK)
    assert window_allows(moment, days=[], start=T(9), end=T(21)) is allowed


def test_days_restrict_the_window_to_those_weekdays():
    wednesday_noon = local(NEW_YORK, 2026, 6, 3, 12)
    saturday_noon = local(NEW_YORK, 2026, 6, 6, 12)
    weekdays = [MON, TUE, WED, THU, FRI]
    assert window_allows(wednesday_noon, days=weekdays, start=T(9), end=T(17))
    assert not window_allows(saturday_noon, days=weekdays, start=T(9), end=T(17))


def test_an_overnight_window_belongs_to_the_day_it_starts_on():
    # Friday's 22:00-06:00 window allows Saturday 03:00; Saturday's own would not exist.
    fridays = [FRI]
    assert window_allows(local(LONDON, 2026, 6, 5, 23), days=fridays, start=T(22), end=T(6))
    assert window_allows(local(LONDON, 2026, 6, 6, 3), days=fridays, start=T(22), end=T(6))
    assert not window_allows(local(LONDON, 2026, 6, 6, 23), days=fridays, start=T(22), end=T(6))
    assert not window_allows(local(LONDON, 2026, 6, 5, 3), days=fridays, start=T(22), end=T(6))
    assert not window_allows(local(LONDON, 2026, 6, 6, 6), days=fridays, start=T(22), end=T(6))


def test_equal_start_and_end_is_a_whole_day_and_no_times_is_every_hour():
    for hour in (0, 8, 9, 23):
        moment = local(NEW_YORK, 2026, 6, 3, hour)
        assert window_allows(moment, days=[], start=T(9), end=T(9))
        assert window_allows(moment, days=[], start=None, end=None)
    assert not window_allows(local(NEW_YORK, 2026, 6, 6, 12), days=[WED], start=None, end=None)


# --- next_window_start ----------------------------------------------------------------------------


def test_inside_the_window_the_next_start_is_now():
    now = utc(2026, 6, 3, 16, 0)  # 12:00 in New York
    assert next_window_start(now, tz=NEW_YORK, days=[], start=T(9), end=T(21)) == now


def test_before_the_window_it_opens_today_in_the_callees_zone():
    now = utc(2026, 6, 3, 10, 0)  # 06:00 in New York (EDT, UTC-4)
    assert next_window_start(now, tz=NEW_YORK, days=[], start=T(9), end=T(21)) == utc(
        2026, 6, 3, 13, 0
    )


def test_after_the_window_it_opens_tomorrow():
    now = utc(2026, 6, 4, 2, 0)  # 22:00 in New York on the 3rd
    assert next_window_start(now, tz=NEW_YORK, days=[], start=T(9), end=T(21)) == utc(
        2026, 6, 4, 13, 0
    )


def test_the_same_instant_is_inside_for_one_callee_and_outside_for_another():
    now = utc(2026, 6, 3, 14, 0)  # 10:00 in New York, 19:30 in Kolkata, 00:00 in Sydney
    window = {"days": [], "start": T(9), "end": T(18)}
    assert next_window_start(now, tz=NEW_YORK, **window) == now
    assert next_window_start(now, tz=KOLKATA, **window) == utc(2026, 6, 4, 3, 30)
    assert next_window_start(now, tz=SYDNEY, **window) == utc(2026, 6, 3, 23, 0)


def test_it_skips_to_the_next_allowed_weekday():
    now = utc(2026, 6, 5, 22, 0)  # Friday 18:00 in New York, after the window
    opening = next_window_start(
        now, tz=NEW_YORK, days=[MON, TUE, WED, THU, FRI], start=T(9), end=T(17)
    )
    assert opening == utc(2026, 6, 8, 13, 0)  # Monday 09:00 EDT
    assert opening.astimezone(NEW_YORK).weekday() == MON


def test_an_overnight_window_opens_in_the_evening_and_allows_after_midnight():
    window = {"days": [], "start": T(22), "end": T(6)}
    assert next_window_start(utc(2026, 6, 3, 12), tz=LONDON, **window) == utc(2026, 6, 3, 21)
    after_midnight = utc(2026, 6, 4, 1, 30)  # 02:30 BST
    assert next_window_start(after_midnight, tz=LONDON, **window) == after_midnight


def test_an_overnight_window_of_a_friday_only_opens_on_friday_evening():
    saturday_evening = utc(2026, 6, 6, 20, 0)  # 21:00 BST Saturday
    opening = next_window_start(saturday_evening, tz=LONDON, days=[FRI], start=T(22), end=T(6))
    assert opening == utc(2026, 6, 12, 21, 0)  # next Friday 22:00 BST


def test_the_utc_moment_of_a_local_opening_moves_with_daylight_saving():
    window = {"days": [], "start": T(9), "end": T(17)}
    # Saturday 7 March 2026 in New York is EST (UTC-5); Monday 9 March is EDT (UTC-4).
    saturday = next_window_start(utc(2026, 3, 7, 3), tz=NEW_YORK, **window)
    monday = next_window_start(utc(2026, 3, 9, 3), tz=NEW_YORK, **window)
    assert saturday == utc(2026, 3, 7, 14, 0)
    assert monday == utc(2026, 3, 9, 13, 0)
    assert saturday.astimezone(NEW_YORK).time() == monday.astimezone(NEW_YORK).time() == T(9)


def test_across_the_spring_forward_night_an_evening_check_finds_the_next_morning():
    # 21:30 EST on Saturday 7 March; the clocks go forward at 02:00 on Sunday.
    now = utc(2026, 3, 8, 2, 30)
    opening = next_window_start(now, tz=NEW_YORK, days=[], start=T(9), end=T(21))
    assert opening == utc(2026, 3, 8, 13, 0)  # 09:00 EDT: 10.5 hours later, not 11.5
    assert opening.astimezone(NEW_YORK).time() == T(9)


def test_a_window_opening_in_the_skipped_hour_opens_when_the_clocks_go_forward():
    # 02:30 does not exist in New York on 8 March 2026: 02:00 EST is followed by 03:00 EDT.
    now = utc(2026, 3, 8, 5, 0)  # 00:00 EST
    opening = next_window_start(now, tz=NEW_YORK, days=[], start=T(2, 30), end=T(4))
    assert opening == utc(2026, 3, 8, 7, 0)
    assert opening.astimezone(NEW_YORK).time() == T(3, 0)
    # The next day it opens at 02:30 again.
    later = next_window_start(utc(2026, 3, 8, 9), tz=NEW_YORK, days=[], start=T(2, 30), end=T(4))
    assert later == utc(2026, 3, 9, 6, 30)


def test_a_window_wholly_inside_the_skipped_hour_does_not_open_that_night():
    now = utc(2026, 3, 8, 5, 0)  # 00:00 EST on the night 02:00-03:00 is skipped
    opening = next_window_start(now, tz=NEW_YORK, days=[], start=T(2, 15), end=T(2, 45))
    assert opening == utc(2026, 3, 9, 6, 15)  # the next night, 02:15 EDT


def test_in_the_repeated_hour_the_window_opens_at_the_first_pass_and_again_after_the_change():
    # 1 November 2026: 01:00-02:00 happens twice in New York (EDT, then EST).
    window = {"days": [], "start": T(1, 0), "end": T(1, 45)}
    first = next_window_start(utc(2026, 11, 1, 4, 0), tz=NEW_YORK, **window)  # 00:00 EDT
    assert first == utc(2026, 11, 1, 5, 0)  # 01:00 EDT
    # 01:50 EDT: the first pass has closed; at 02:00 EDT the clock reads 01:00 EST again.
    second = next_window_start(utc(2026, 11, 1, 5, 50), tz=NEW_YORK, **window)
    assert second == utc(2026, 11, 1, 6, 0)
    assert second.astimezone(NEW_YORK).fold == 1


def test_an_overnight_window_across_the_fall_back_night_lasts_an_hour_longer():
    window = {"days": [], "start": T(22), "end": T(6)}
    start = next_window_start(utc(2026, 10, 24, 12), tz=LONDON, **window)
    assert start == utc(2026, 10, 24, 21, 0)  # 22:00 BST Saturday
    # 05:30 GMT on Sunday (after the change at 02:00 BST) is still inside.
    inside = utc(2026, 10, 25, 5, 30)
    assert next_window_start(inside, tz=LONDON, **window) == inside
    # 06:00 GMT is the end; the next window opens at 22:00 GMT.
    assert next_window_start(utc(2026, 10, 25, 6), tz=LONDON, **window) == utc(2026, 10, 25, 22)


def test_southern_hemisphere_daylight_saving_ends_in_april():
    window = {"days": [], "start": T(9), "end": T(17)}
    # Sydney leaves daylight saving (UTC+11 -> UTC+10) at 03:00 on Sunday 5 April 2026.
    saturday = next_window_start(utc(2026, 4, 3, 12), tz=SYDNEY, **window)
    sunday = next_window_start(utc(2026, 4, 4, 12), tz=SYDNEY, **window)
    assert saturday == utc(2026, 4, 3, 22, 0)  # 09:00 AEDT
    assert sunday == utc(2026, 4, 4, 23, 0)  # 09:00 AEST


def test_no_valid_day_means_no_opening():
    assert next_window_start(utc(2026, 6, 3), tz=LONDON, days=[9], start=T(9), end=T(17)) is None


def test_now_must_be_aware():
    with pytest.raises(ValueError):
        next_window_start(dt.datetime(2026, 6, 3), tz=LONDON, days=[], start=None, end=None)


def test_every_opening_is_inside_its_window_at_that_instant():
    """A sweep over a year in steps of 7 h 13 min, in zones with and without DST: the answer is
    never before now, is inside the window, and nothing between now and it is."""
    window = {"days": [MON, WED, FRI, SAT], "start": T(20, 30), "end": T(2, 15)}
    for zone in (NEW_YORK, LONDON, SYDNEY, KOLKATA):
        now = utc(2026, 1, 1)
        while now < utc(2027, 1, 1):
            opening = next_window_start(now, tz=zone, **window)
            assert opening is not None and opening >= now
            assert window_allows(opening.astimezone(zone), **window)
            probe = now
            while probe < opening:
                assert not window_allows(probe.astimezone(zone), **window), (zone, now, probe)
                probe += dt.timedelta(minutes=15)
            now += dt.timedelta(hours=7, minutes=13)
