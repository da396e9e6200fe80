"""Graph's `patternedRecurrence` in the Microsoft sandbox: validating it and expanding a series.

A series repeats its start's **wall-clock time in the event's time zone**, so a 09:00 meeting
in "Pacific Standard Time" stays at 09:00 local across daylight-saving changes and moves by an
hour in UTC. Expansion therefore runs `dateutil.rrule` on naive local times and only then
attaches the zone (`zoneinfo`); a local time that does not exist (the spring-forward gap) is read
with the offset before the gap, as `zoneinfo` does.

Shapes (Graph `recurrencePattern` / `recurrenceRange`): pattern `type` daily | weekly |
absoluteMonthly | relativeMonthly | absoluteYearly | relativeYearly with `interval`,
`daysOfWeek`, `dayOfMonth`, `month`, `index` (first…fourth, last), `firstDayOfWeek`; range `type`
endDate | noEnd | numbered with `startDate`, `endDate` (inclusive), `numberOfOccurrences`,
`recurrenceTimeZone`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from dateutil import rrule

PATTERN_TYPES = ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly")
RANGE_TYPES = ("endDate", "noEnd", "numbered")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
INDEXES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_WEEKDAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)
_FREQUENCIES: dict[str, Literal[0, 1, 2, 3, 4, 5, 6]] = {  # rrule's YEARLY … SECONDLY
    "daily": rrule.DAILY,
    "weekly": rrule.WEEKLY,
    "absoluteMonthly": rrule.MONTHLY,
    "relativeMonthly": rrule.MONTHLY,
    "absoluteYearly": rrule.YEARLY,
    "relativeYearly": rrule.YEARLY,
}


class InvalidRecurrence(ValueError):
    """A recurrence Graph would refuse (400 `ErrorInvalidRequest` / `ErrorPropertyValidationFailure`)."""


def normalise(recurrence: Mapping[str, Any], *, start: dt.date, time_zone: str) -> dict[str, Any]:
    """The complete `patternedRecurrence` Graph stores and returns for a series starting on `start`:
    every property present (Graph's defaults filled in), or raise `InvalidRecurrence`."""
    pattern, span = recurrence.get("pattern"), recurrence.get("range")
    if not isinstance(pattern, Mapping) or not isinstance(span, Mapping):
        raise InvalidRecurrence("A recurrence needs a 'pattern' and a 'range'.")
    kind, range_type = pattern.get("type"), span.get("type")
    if kind not in PATTERN_TYPES:
        raise InvalidRecurrence(f"Recurrence pattern type '{kind}' is not valid.")
    if range_type not in RANGE_TYPES:
        raise InvalidRecurrence(f"Recurrence range type '{range_type}' is not valid.")
    interval = pattern.get("interval", 1)
    if not isinstance(interval, int) or interval < 1:
        raise InvalidRecurrence("The recurrence pattern's interval must be a positive integer.")
    days = [str(day).casefold() for day in pattern.get("daysOfWeek") or []]
    if any(day not in DAYS for day in days):
        raise InvalidRecurrence("daysOfWeek contains a value that is not a day of the week.")
    if kind in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise InvalidRecurrence(f"A {kind} recurrence pattern needs daysOfWeek.")
    day_of_month = int(pattern.get("dayOfMonth") or 0)
    if kind in ("absoluteMonthly", "absoluteYearly") and not 1 <= day_of_month <= 31:
        raise InvalidRecurrence(f"A {kind} recurrence pattern needs a dayOfMonth between 1 and 31.")
    month = int(pattern.get("month") or 0)
    if kind in ("absoluteYearly", "relativeYearly") and not 1 <= month <= 12:
        raise InvalidRecurrence(f"A {kind} recurrence pattern needs a month between 1 and 12.")
    index = pattern.get("index") or "first"
    if index not in INDEXES:
        raise InvalidRecurrence(f"Recurrence index '{index}' is not valid.")
    first_day = str(pattern.get("firstDayOfWeek") or "sunday").casefold()
    if first_day not in DAYS:
        raise InvalidRecurrence(f"firstDayOfWeek '{first_day}' is not a day of the week.")
    try:
        start_date = dt.date.fromisoformat(str(span.get("startDate") or start.isoformat()))
        end_date = dt.date.fromisoformat(str(span["endDate"])) if range_type == "endDate" else None
    except (KeyError, ValueError):
        raise InvalidRecurrence("An endDate recurrence range needs startDate and endDate as YYYY-MM-DD.") from None
    if end_date is not None and end_date < start_date:
        raise InvalidRecurrence("The recurrence range's endDate is before its startDate.")
    count = int(span.get("numberOfOccurrences") or 0)
    if range_type == "numbered" and count < 1:
        raise InvalidRecurrence("A numbered recurrence range needs numberOfOccurrences of at least 1.")
    return {
        "pattern": {
            "type": kind,
            "interval": interval,
            "month": month,
            "dayOfMonth": day_of_month,
            "daysOfWeek": days,
            "firstDayOfWeek": first_day,
            "index": index,
        },
        "range": {
            "type": range_type,
            "startDate": start_date.isoformat(),
            "endDate": end_date.isoformat() if end_date else "0001-01-01",
            "recurrenceTimeZone": span.get("recurrenceTimeZone") or time_zone,
            "numberOfOccurrences": count if range_type == "numbered" else 0,
        },
    }


def occurrence_starts(recurrence: Mapping[str, Any], first_start: dt.datetime) -> rrule.rrule:
    """The rule generating a series' occurrence starts as naive wall-clock times in the series'
    zone; `first_start` is the series start (naive, local), whose time of day every occurrence keeps."""
    pattern, span = recurrence["pattern"], recurrence["range"]
    start_date = dt.date.fromisoformat(span["startDate"])
    dtstart = dt.datetime.combine(start_date, first_start.time())
    days = [_WEEKDAYS[DAYS.index(day)] for day in pattern["daysOfWeek"]]
    options: dict[str, Any] = {
        "dtstart": dtstart,
        "interval": pattern["interval"],
        "wkst": _WEEKDAYS[DAYS.index(pattern["firstDayOfWeek"])],
    }
    kind = pattern["type"]
    if kind == "weekly":
        options["byweekday"] = days
    elif kind == "absoluteMonthly":
        options["bymonthday"] = pattern["dayOfMonth"]
    elif kind == "absoluteYearly":
        options |= {"bymonth": pattern["month"], "bymonthday": pattern["dayOfMonth"]}
    elif kind in ("relativeMonthly", "relativeYearly"):
        options |= {"byweekday": days, "bysetpos": INDEXES[pattern["index"]]}
        if kind == "relativeYearly":
            options["bymonth"] = pattern["month"]
    if span["type"] == "endDate":
        options["until"] = dt.datetime.combine(dt.date.fromisoformat(span["endDate"]), dt.time.max)
    elif span["type"] == "numbered":
        options["count"] = span["numberOfOccurrences"]
    return rrule.rrule(_FREQUENCIES[kind], **options)


def expand(
    recurrence: Mapping[str, Any],
    first_start: dt.datetime,
    duration: dt.timedelta,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> Iterator[dt.datetime]:
    """The aware starts of the occurrences overlapping [window_start, window_end) (aware times):
    `first_start` is the series' aware start, whose zone the wall-clock times are read in."""
    tz = first_start.tzinfo
    rule = occurrence_starts(recurrence, first_start.replace(tzinfo=None))
    margin = dt.timedelta(days=2)  # zone offsets are below a day; filtered exactly below
    low = (window_start.astimezone(tz) - duration - margin).replace(tzinfo=None)
    high = (window_end.astimezone(tz) + margin).replace(tzinfo=None)
    for local in rule.between(low, high, inc=True):
        start = local.replace(tzinfo=tz)
        if start < window_end and start + duration > window_start:
            yield start


def occurrence_on(recurrence: Mapping[str, Any], first_start: dt.datetime, day: dt.date) -> dt.datetime | None:
    """The aware start of the series' occurrence on local date `day`, if it has one."""
    tz = first_start.tzinfo
    rule = occurrence_starts(recurrence, first_start.replace(tzinfo=None))
    local = dt.datetime.combine(day, first_start.time())
    return local.replace(tzinfo=tz) if local in rule.between(local, local, inc=True) else None
