"""Series expansion of the Microsoft sandbox (`recurrence.py`, `timezones.py`): Graph's recurrence
patterns, expanded on wall-clock time in the series' zone, checked against dates worked out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lineup_integrations.outlook_calendar.sandbox import recurrence as rec
from lineup_integrations.outlook_calendar.sandbox.timezones import (
    TimeZoneNotSupported,
    graph_date_time,
    parse_date_time_time_zone,
    preferred_page_size,
    preferred_time_zone,
    zone,
)

PACIFIC = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")


def starts(pattern: dict[str, Any], span: dict[str, Any], first: dt.datetime, until: dt.datetime) -> list[str]:
    recurrence = rec.normalise({"pattern": pattern, "range": span}, start=first.date(), time_zone="UTC")
    found = rec.expand(recurrence, first, dt.timedelta(minutes=30), first - dt.timedelta(days=1), until)
    return [start.isoformat() for start in found]


def test_a_daily_series_in_london_keeps_0900_local_through_the_october_change() -> None:
    first = dt.datetime(2026, 10, 23, 9, 0, tzinfo=LONDON)

    found = starts({"type": "daily", "interval": 2}, {"type": "numbered", "numberOfOccurrences": 3}, first,
                   dt.datetime(2026, 12, 1, tzinfo=dt.UTC))  # fmt: skip

    assert found == ["2026-10-23T09:00:00+01:00", "2026-10-25T09:00:00+00:00", "2026-10-27T09:00:00+00:00"]


def test_relative_monthly_last_friday_and_an_inclusive_end_date() -> None:
    first = dt.datetime(2026, 1, 30, 16, 0, tzinfo=PACIFIC)

    found = starts(
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
        {"type": "endDate", "startDate": "2026-01-30", "endDate": "2026-04-24"},
        first,
        dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    )

    assert [start[:10] for start in found] == ["2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24"]


def test_absolute_monthly_skips_months_without_the_day_and_yearly_patterns_need_a_month() -> None:
    first = dt.datetime(2026, 1, 31, 9, 0, tzinfo=dt.UTC)

    found = starts({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31}, {"type": "noEnd"}, first,
                   dt.datetime(2026, 6, 1, tzinfo=dt.UTC))  # fmt: skip

    assert [start[:10] for start in found] == ["2026-01-31", "2026-03-31", "2026-05-31"]
    with pytest.raises(rec.InvalidRecurrence):
        rec.normalise({"pattern": {"type": "absoluteYearly", "dayOfMonth": 1}, "range": {"type": "noEnd"}},
                      start=first.date(), time_zone="UTC")  # fmt: skip


def test_a_series_at_a_nonexistent_local_time_is_read_with_the_offset_before_the_gap() -> None:
    first = dt.datetime(2026, 3, 7, 2, 30, tzinfo=PACIFIC)  # 8 March 02:30 does not exist in Los Angeles

    found = starts({"type": "daily", "interval": 1}, {"type": "numbered", "numberOfOccurrences": 2}, first,
                   dt.datetime(2026, 3, 10, tzinfo=dt.UTC))  # fmt: skip

    assert [dt.datetime.fromisoformat(start).astimezone(dt.UTC).strftime("%d %H:%M") for start in found] == [
        "07 10:30", "08 10:30",
    ]  # fmt: skip


def test_windows_zone_names_graph_times_and_prefer_headers() -> None:
    given = {"dateTime": "2026-07-01T09:00:00.0000000", "timeZone": "Pacific Standard Time"}
    moment, name = parse_date_time_time_zone(given)

    assert (moment.utcoffset(), name) == (dt.timedelta(hours=-7), "Pacific Standard Time")
    assert graph_date_time(dt.datetime(2026, 7, 1, 9, 0, 0, 123456)) == "2026-07-01T09:00:00.1234560"
    assert zone("india standard time") == ZoneInfo("Asia/Kolkata")
    assert zone("Europe/Paris") == ZoneInfo("Europe/Paris")
    with pytest.raises(TimeZoneNotSupported):
        zone("Mars Standard Time")
    prefer = 'odata.maxpagesize=50, outlook.timezone="Tokyo Standard Time"'
    assert (preferred_time_zone(prefer), preferred_page_size(prefer)) == ("Tokyo Standard Time", 50)
    assert (preferred_time_zone(None), preferred_page_size("")) == (None, None)
