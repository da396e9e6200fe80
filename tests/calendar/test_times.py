"""Calendar times to UTC across DST edges, all-day dates, floating times and Windows zone names."""

from __future__ import annotations

import datetime as dt

import pytest

from lineup_integrations.calendar.times import (
    UnknownTimeZoneError,
    date_to_utc,
    event_time,
    parse_instant,
    wall_time_to_utc,
)

UTC = dt.UTC


@pytest.mark.parametrize(
    ("wall", "zone", "expected"),
    [
        # New York springs forward at 02:00 on 2026-03-08: 02:30 does not exist and moves to 03:30 EDT.
        ("2026-03-08T02:30", "America/New_York", "2026-03-08T07:30"),
        ("2026-03-08T01:59", "America/New_York", "2026-03-08T06:59"),
        ("2026-03-08T03:00", "America/New_York", "2026-03-08T07:00"),
        # It falls back at 02:00 on 2026-11-01: 01:30 happens twice; the first (EDT) is meant.
        ("2026-11-01T01:30", "America/New_York", "2026-11-01T05:30"),
        # Berlin springs forward on 2026-03-29 at 02:00 CET.
        ("2026-03-29T02:15", "Europe/Berlin", "2026-03-29T01:15"),
        ("2026-10-25T02:30", "Europe/Berlin", "2026-10-25T00:30"),
        # Kolkata has no DST and a half-hour offset; Lord Howe shifts by half an hour.
        ("2026-07-01T09:00", "Asia/Kolkata", "2026-07-01T03:30"),
        ("2026-10-04T02:15", "Australia/Lord_Howe", "2026-10-03T15:45"),
    ],
)
def test_wall_times_follow_rfc5545_at_dst_edges(wall: str, zone: str, expected: str) -> None:
    assert wall_time_to_utc(dt.datetime.fromisoformat(wall), zone) == dt.datetime.fromisoformat(expected).replace(
        tzinfo=UTC
    )


def test_an_aware_time_keeps_its_own_offset_whatever_its_label() -> None:
    instant = dt.datetime.fromisoformat("2026-03-08T09:00:00-08:00")
    assert wall_time_to_utc(instant, "Europe/Paris") == dt.datetime(2026, 3, 8, 17, tzinfo=UTC)


def test_windows_zone_names_are_understood() -> None:
    assert wall_time_to_utc(dt.datetime(2026, 7, 1, 9), "Pacific Standard Time") == dt.datetime(
        2026, 7, 1, 16, tzinfo=UTC
    )
    with pytest.raises(UnknownTimeZoneError):
        wall_time_to_utc(dt.datetime(2026, 7, 1, 9), "Mars/Olympus_Mons")


def test_all_day_dates_are_midnights_in_the_calendar_zone_with_an_exclusive_end() -> None:
    start = event_time(date_time=None, date="2026-03-08", zone_name=None, calendar_zone="America/New_York")
    end = event_time(date_time=None, date="2026-03-09", zone_name=None, calendar_zone="America/New_York")

    assert (start.utc, end.utc) == (dt.datetime(2026, 3, 8, 5, tzinfo=UTC), dt.datetime(2026, 3, 9, 4, tzinfo=UTC))
    assert end.utc - start.utc == dt.timedelta(hours=23)  # the day clocks go forward is short
    assert start.all_day and start.date == dt.date(2026, 3, 8) and start.zone == "America/New_York"


def test_a_midnight_that_does_not_exist_starts_the_day_at_its_first_instant() -> None:
    # Santiago springs forward at 00:00 on 2026-09-06: the day starts at 01:00 local.
    assert date_to_utc(dt.date(2026, 9, 6), "America/Santiago") == dt.datetime(2026, 9, 6, 4, tzinfo=UTC)


def test_a_floating_time_is_read_in_the_calendar_zone() -> None:
    floating = event_time(date_time="2026-01-15T10:00:00", date=None, zone_name=None, calendar_zone="Asia/Tokyo")
    assert (floating.utc, floating.zone, floating.all_day) == (
        dt.datetime(2026, 1, 15, 1, tzinfo=UTC),
        "Asia/Tokyo",
        False,
    )


def test_graphs_seven_fraction_digits_and_zulu_times_parse() -> None:
    assert parse_instant("2026-03-08T09:00:00.1234567") == dt.datetime(2026, 3, 8, 9, 0, 0, 123456)
    assert parse_instant("2026-03-08T09:00:00Z") == dt.datetime(2026, 3, 8, 9, tzinfo=UTC)
    assert parse_instant("2026-03-08T09:00:00.5+01:00") == dt.datetime(
        2026, 3, 8, 8, 0, 0, 500000, tzinfo=UTC
    ).astimezone(dt.timezone(dt.timedelta(hours=1)))


def test_an_event_time_needs_a_time_or_a_date() -> None:
    with pytest.raises(ValueError, match="needs a dateTime or a date"):
        event_time(date_time=None, date=None, zone_name="UTC", calendar_zone="UTC")
