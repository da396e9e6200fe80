"""Calendar times to UTC, keeping the zone they were written in.

Every stored time is UTC with its original zone beside it. The rules, RFC 5545's (which Google
and Microsoft follow):
- a wall time that does not exist (the hour skipped when clocks go forward) is moved forward by
  the length of the gap, and an ambiguous one (the hour repeated when clocks go back) means its
  first occurrence; `zoneinfo` with `fold=0` does exactly this;
- an all-day event is a range of dates, not of instants: it starts at midnight of its first day
  in the calendar's zone and ends at midnight after its last day (the end date is exclusive);
- a floating time (no zone at all) is read in the calendar's zone.
Microsoft names zones the Windows way ("Pacific Standard Time"); CLDR's table, as tzlocal ships
it, maps them to IANA names.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

UTC = dt.UTC


class UnknownTimeZoneError(ValueError):
    """A zone name that is neither IANA nor a Windows name CLDR knows."""


@functools.lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The zone of an IANA name (`Europe/Paris`) or a Windows name (`Romance Standard Time`)."""
    iana = win_tz.get(name, name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZoneError(f"unknown time zone {name!r}") from None


def wall_time_to_utc(wall: dt.datetime, zone_name: str) -> dt.datetime:
    """A wall-clock time in `zone_name` as UTC (gaps move forward, folds take the first occurrence).

    An aware `wall` is already an instant: its own offset wins and `zone_name` is only its label.
    """
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    return wall.replace(tzinfo=zone(zone_name), fold=0).astimezone(UTC)


def date_to_utc(day: dt.date, zone_name: str) -> dt.datetime:
    """Midnight starting `day` in `zone_name`, as UTC (where midnight is skipped, the first instant of the day)."""
    return wall_time_to_utc(dt.datetime.combine(day, dt.time()), zone_name)


@dataclass(frozen=True)
class EventTime:
    """One end of an event: the instant in UTC, the zone it was written in, and the date of an all-day end."""

    utc: dt.datetime
    zone: str
    date: dt.date | None = None

    @property
    def all_day(self) -> bool:
        return self.date is not None


def parse_instant(text: str) -> dt.datetime:
    """RFC 3339 (`2026-03-08T09:00:00-08:00`, `…Z`) or Graph's offset-less form with 7 fractional
    digits (`2026-03-08T09:00:00.0000000`): Python 3.11's `fromisoformat` reads them all (a
    fraction beyond microseconds is truncated)."""
    return dt.datetime.fromisoformat(text)


def event_time(*, date_time: str | None, date: str | None, zone_name: str | None, calendar_zone: str) -> EventTime:
    """An event's start or end as providers send it: a `dateTime` (with or without offset) in
    `zone_name`, or an all-day `date`; a time with no zone anywhere floats in `calendar_zone`."""
    label = zone_name or calendar_zone
    if date is not None:
        day = dt.date.fromisoformat(date)
        return EventTime(utc=date_to_utc(day, label), zone=label, date=day)
    if date_time is None:
        raise ValueError("an event time needs a dateTime or a date")
    zone(label)  # an unknown zone is an error, not a silent UTC
    return EventTime(utc=wall_time_to_utc(parse_instant(date_time), label), zone=label)
