"""Expanding a Google recurring event (a series master) into its occurrences inside a window.

Google stores a series once: the master holds `recurrence` (RFC 5545 `RRULE`, `EXRULE`, `RDATE`,
`EXDATE` lines) and the first occurrence's `start`/`end`. With `singleEvents=false` (what the sync
lists, since it must page the whole calendar with sync tokens) the occurrences are ours to compute.
The rules this follows, Google's and RFC 5545's:
- a timed series repeats on wall-clock time in the master's `start.timeZone` (Google requires one
  for a recurring event; the calendar's zone is the fallback): a 09:00 meeting stays at 09:00 local
  across a DST change and its UTC time moves. dateutil's `rrule` builds each occurrence from
  wall-clock fields with the start's `tzinfo`, which with a `zoneinfo` zone does exactly this;
- an all-day series repeats on dates (expanded on naive midnights, read in the calendar's zone);
- every occurrence lasts as long as the master (an exact duration for a timed series, days for an
  all-day one);
- `UNTIL` is inclusive. RFC 5545 wants it in UTC for a zoned start, but Google also accepts a date
  ("through that day", local) or a local time; dateutil accepts only the form matching `DTSTART`
  (UTC for aware, naive for all-day), so UNTIL is brought to that form first;
- an occurrence's id is `{masterId}_{YYYYMMDDTHHMMSSZ}` (its original start in UTC) for a timed
  series and `{masterId}_{YYYYMMDD}` for an all-day one: the id of the exception that edits or
  cancels it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr

from lineup_integrations.calendar.feed import Payload, Window
from lineup_integrations.calendar.times import date_to_utc, event_time, parse_instant, zone

_LINE = re.compile(r"^(?P<name>RRULE|EXRULE|RDATE|EXDATE)(?P<params>;[^:]*)?:(?P<value>.+)$", re.IGNORECASE)
_UNTIL = re.compile(r"UNTIL=(?P<day>\d{8})(?:T(?P<time>\d{6})(?P<utc>Z)?)?", re.IGNORECASE)

Start = dt.datetime | dt.date


class RecurrenceError(ValueError):
    """A `recurrence` this module cannot read (Google would have refused it)."""


@dataclass(frozen=True)
class _Series:
    """A master's recurrence anchored at its first start: aware datetimes in `tz` for a timed
    series, naive midnights (dates in `tz`, the calendar's zone) for an all-day one."""

    rules: rruleset
    tz: ZoneInfo

    def starts_between(self, low: dt.datetime, high: dt.datetime) -> Iterator[dt.datetime]:
        """Occurrence starts `s` with `low <= s < high` (naive local wall times for an all-day series)."""
        for moment in self.rules.xafter(low, inc=True):
            if moment >= high:
                return
            yield moment


def instance_id(master_id: str, start: Start) -> str:
    """Google's id of the occurrence of `master_id` originally starting at `start`."""
    if isinstance(start, dt.datetime):
        return f"{master_id}_{start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
    return f"{master_id}_{start:%Y%m%d}"


def original_start_utc(event: Mapping[str, Any], calendar_zone: str) -> dt.datetime | None:
    """The instant an occurrence or exception originally started (its `originalStartTime`), or None."""
    original = event.get("originalStartTime")
    if not original:
        return None
    return event_time(
        date_time=original.get("dateTime"), date=original.get("date"), zone_name=original.get("timeZone"),
        calendar_zone=calendar_zone,
    ).utc  # fmt: skip


def expand_series(master: Mapping[str, Any], window: Window, *, calendar_zone: str) -> list[Payload]:
    """The occurrences of `master` that overlap `window`, by start: each the master's payload with
    its own `id`, `start`/`end` (same duration and zone), `recurringEventId` (the master's id) and
    `originalStartTime`, without `recurrence`. Exceptions are not applied here (the caller has them)."""
    start, end = master["start"], master["end"]
    if "date" in start:
        first_day = dt.date.fromisoformat(start["date"])
        length = dt.date.fromisoformat(end["date"]) - first_day
        series = _parse(master["recurrence"], dt.datetime.combine(first_day, dt.time()), zone(calendar_zone))
        return [_all_day_occurrence(master, moment.date(), length)
                for moment in _all_day_starts(series, window, length, calendar_zone)]  # fmt: skip
    zone_name = start.get("timeZone") or calendar_zone
    tz = zone(zone_name)
    first = parse_instant(start["dateTime"]).astimezone(tz)
    duration = parse_instant(end["dateTime"]) - first
    series = _parse(master["recurrence"], first, tz)
    return [
        _timed_occurrence(master, moment, duration)
        for moment in series.starts_between(window.start - duration, window.end)
        if window.overlaps(moment, _exact_end(moment, duration))
    ]


def _all_day_starts(series: _Series, window: Window, length: dt.timedelta, calendar_zone: str) -> list[dt.datetime]:
    """All-day starts (naive midnights) whose days, read in the calendar's zone, overlap the window."""
    low = window.start.astimezone(series.tz).replace(tzinfo=None) - length - dt.timedelta(days=1)
    high = window.end.astimezone(series.tz).replace(tzinfo=None) + dt.timedelta(days=1)
    return [
        moment
        for moment in series.starts_between(low, high)
        if window.overlaps(
            date_to_utc(moment.date(), calendar_zone), date_to_utc(moment.date() + length, calendar_zone)
        )
    ]


def _timed_occurrence(master: Mapping[str, Any], start: dt.datetime, duration: dt.timedelta) -> Payload:
    end_zone = zone(master["end"]["timeZone"]) if master["end"].get("timeZone") else start.tzinfo
    start_time = {**master["start"], "dateTime": start.isoformat()}
    end_time = {**master["end"], "dateTime": _exact_end(start, duration).astimezone(end_zone).isoformat()}
    return _occurrence(master, instance_id(master["id"], start), start_time, end_time)


def _exact_end(start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
    """The end of a timed occurrence: its start plus the master's exact duration (RFC 5545 3.3.6;
    adding to an aware datetime would add wall-clock time, an hour off across a DST change)."""
    return start.astimezone(dt.UTC) + duration


def _all_day_occurrence(master: Mapping[str, Any], day: dt.date, length: dt.timedelta) -> Payload:
    start_time = {**master["start"], "date": day.isoformat()}
    end_time = {**master["end"], "date": (day + length).isoformat()}
    return _occurrence(master, instance_id(master["id"], day), start_time, end_time)


def _occurrence(master: Mapping[str, Any], event_id: str, start: dict[str, Any], end: dict[str, Any]) -> Payload:
    payload = {key: value for key, value in master.items() if key != "recurrence"}  # read only: no copies
    payload |= {"id": event_id, "start": start, "end": end, "recurringEventId": master["id"],
                "originalStartTime": dict(start)}  # fmt: skip
    return payload


def _parse(lines: list[str], dtstart: dt.datetime, tz: ZoneInfo) -> _Series:
    """The rule set of a `recurrence` list. `dtstart` is aware (timed) or a naive midnight (all-day)."""
    all_day = dtstart.tzinfo is None
    rules = rruleset()
    for raw in lines:
        match = _LINE.match(raw.strip())
        if match is None:
            raise RecurrenceError(f"unsupported recurrence line {raw!r}")
        name, params, value = match["name"].upper(), match["params"] or "", match["value"]
        try:
            if name in ("RRULE", "EXRULE"):
                rule = rrulestr(_until_as_dateutil_wants(value, all_day=all_day, tz=tz), dtstart=dtstart)
                if not isinstance(rule, rrule):
                    raise RecurrenceError(f"unsupported rule {value!r}")
                (rules.rrule if name == "RRULE" else rules.exrule)(rule)
            else:
                for moment in _dates(value, params, dtstart=dtstart, tz=tz):
                    (rules.rdate if name == "RDATE" else rules.exdate)(moment)
        except ValueError as error:  # dateutil's own complaints
            raise RecurrenceError(f"unreadable recurrence line {raw!r}: {error}") from None
    return _Series(rules=rules, tz=tz)


def _until_as_dateutil_wants(rule: str, *, all_day: bool, tz: ZoneInfo) -> str:
    """UNTIL in the form dateutil accepts for this series: a UTC time for a timed series, a naive
    local time for an all-day one. A bare date means the end of that local day."""
    match = _UNTIL.search(rule)
    if match is None:
        return rule
    day = dt.datetime.strptime(match["day"], "%Y%m%d")
    if match["time"] is None:
        local: dt.datetime = day.replace(hour=23, minute=59, second=59, tzinfo=tz)
    else:
        moment = dt.datetime.strptime(match["day"] + match["time"], "%Y%m%d%H%M%S")
        local = moment.replace(tzinfo=dt.UTC) if match["utc"] else moment.replace(tzinfo=tz)
    text = f"{local.astimezone(tz):%Y%m%dT%H%M%S}" if all_day else f"{local.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
    return f"{rule[: match.start()]}UNTIL={text}{rule[match.end() :]}"


def _dates(value: str, params: str, *, dtstart: dt.datetime, tz: ZoneInfo) -> list[dt.datetime]:
    """An RDATE/EXDATE value list as moments comparable with the series' starts. Forms: `…Z` (UTC),
    a local time in `;TZID=` (else the series' zone), or a date (`;VALUE=DATE`), which names the
    occurrence on that day at the series' start time."""
    options = dict(part.split("=", 1) for part in params.strip(";").split(";") if "=" in part)
    own_tz = zone(options["TZID"]) if "TZID" in options else tz
    moments: list[dt.datetime] = []
    for text in (item.strip() for item in value.split(",")):
        if "T" not in text:
            day = dt.datetime.strptime(text, "%Y%m%d")
            moment = dt.datetime.combine(day.date(), dtstart.timetz()) if dtstart.tzinfo else day
            moments.append(moment)
            continue
        parsed = dt.datetime.strptime(text.rstrip("Zz"), "%Y%m%dT%H%M%S")
        aware = parsed.replace(tzinfo=dt.UTC if text[-1] in "Zz" else own_tz)
        moments.append(aware.astimezone(tz).replace(tzinfo=None) if dtstart.tzinfo is None else aware)
    return moments
