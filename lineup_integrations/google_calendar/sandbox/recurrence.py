"""Expanding a Google event's `recurrence` (RFC 5545 RRULE/EXRULE/RDATE/EXDATE lines) into occurrences.

Why dateutil: its `rrule` implements the whole RFC 5545 rule grammar (FREQ, INTERVAL, COUNT,
UNTIL, BYDAY, BYMONTHDAY…). It builds each occurrence from wall-clock fields with the start's
`tzinfo`, so with a `zoneinfo` zone a 09:00 weekly meeting stays at 09:00 local across a DST
change (its UTC offset moves), which is how Google expands a series in the event's `timeZone`.

All-day series are expanded on naive midnights (dates); timed series on aware datetimes in the
event's zone. Google's instance ids are `{seriesId}_{YYYYMMDDTHHMMSSZ}` (UTC start) for timed
series and `{seriesId}_{YYYYMMDD}` for all-day ones.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr

_UNTIL = re.compile(r"UNTIL=([0-9]{8})(T[0-9]{6})?(Z)?", re.IGNORECASE)
_BOUNDED = re.compile(r"(?:^|;)(?:COUNT|UNTIL)=", re.IGNORECASE)
_LINE = re.compile(r"^(RRULE|EXRULE|RDATE|EXDATE)((?:;[^:]*)?):(.+)$", re.IGNORECASE)
_TIMED_SUFFIX = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
_DATE_SUFFIX = re.compile(r"^[0-9]{8}$")
HORIZON = dt.timedelta(days=730)
"""How far past "now" an unbounded series is expanded when no `timeMax` bounds it (a sandbox choice)."""

Start = dt.datetime | dt.date


class RecurrenceError(ValueError):
    """A recurrence Google would refuse ("Invalid recurrence rule.")."""


@dataclass(frozen=True)
class Series:
    """A parsed recurrence anchored at the series' first start.

    `all_day` series yield `dt.date`s; timed series yield aware datetimes in `zone`.
    """

    rules: rruleset
    all_day: bool
    zone: ZoneInfo
    bounded: bool

    def between(self, after: dt.datetime, before: dt.datetime) -> Iterator[Start]:
        """Occurrence starts `s` with `after <= s < before` (instants; all-day starts are midnight in `zone`)."""
        if self.all_day:
            low = after.astimezone(self.zone).replace(tzinfo=None)
            high = before.astimezone(self.zone).replace(tzinfo=None)
        else:
            low, high = after, before
        for moment in self.rules.xafter(low, inc=True):
            if moment >= high:
                return
            yield moment.date() if self.all_day else moment

    def starts(self, until: dt.datetime, limit: int = 10_000) -> Iterator[Start]:
        """Occurrence starts from the first up to `until` (exclusive), at most `limit` of them."""
        high = until.astimezone(self.zone).replace(tzinfo=None) if self.all_day else until
        for index, moment in enumerate(self.rules):
            if moment >= high or index >= limit:
                return
            yield moment.date() if self.all_day else moment

    def occurs_at(self, start: Start) -> bool:
        """Whether `start` is one of the series' occurrence starts."""
        if self.all_day:
            if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
                return False
            moment = dt.datetime.combine(start, dt.time())
            return moment in self.rules.between(moment - dt.timedelta(seconds=1), moment + dt.timedelta(seconds=1))
        if not isinstance(start, dt.datetime):
            return False
        window = self.rules.between(start - dt.timedelta(seconds=1), start + dt.timedelta(seconds=1), inc=True)
        return any(candidate == start for candidate in window)

    def last_start(self) -> Start | None:
        """The last occurrence start of a bounded series (COUNT/UNTIL), None for an unbounded one."""
        if not self.bounded:
            return None
        last = None
        for moment in self.rules:
            last = moment
        if last is None:
            return None
        return last.date() if self.all_day else last


def parse_series(lines: Sequence[str], first: Start, zone: ZoneInfo) -> Series:
    """The series of a `recurrence` list starting at `first` (a date for all-day events, else an
    aware datetime), expanded in `zone`. Raises `RecurrenceError` for anything Google would refuse."""
    all_day = not isinstance(first, dt.datetime)
    dtstart = first.astimezone(zone) if isinstance(first, dt.datetime) else dt.datetime.combine(first, dt.time())
    rules = rruleset()
    has_rule = False
    bounded = True
    for raw in lines:
        match = _LINE.match(raw.strip()) if isinstance(raw, str) else None
        if match is None:
            raise RecurrenceError(f"unsupported recurrence line {raw!r}")
        name, params, value = match.group(1).upper(), match.group(2), match.group(3)
        try:
            if name in ("RRULE", "EXRULE"):
                rule = rrulestr(_normalise_until(value, all_day=all_day, zone=zone), dtstart=dtstart)
                if not isinstance(rule, rrule):
                    raise RecurrenceError(f"unsupported rule {value!r}")
                if name == "RRULE":
                    has_rule = True
                    bounded = bounded and _BOUNDED.search(value) is not None
                    rules.rrule(rule)
                else:
                    rules.exrule(rule)
            else:
                for moment in _parse_dates(value, params, all_day=all_day, zone=zone):
                    (rules.rdate if name == "RDATE" else rules.exdate)(moment)
        except RecurrenceError:
            raise
        except (ValueError, TypeError, KeyError) as error:
            raise RecurrenceError(str(error)) from None
    if not has_rule and not lines:
        raise RecurrenceError("empty recurrence")
    if not has_rule:
        bounded = True
    return Series(rules=rules, all_day=all_day, zone=zone, bounded=bounded)


def instance_id(series_id: str, start: Start) -> str:
    """Google's id of the instance of `series_id` originally starting at `start`."""
    if isinstance(start, dt.datetime):
        return f"{series_id}_{start.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"
    return f"{series_id}_{start.strftime('%Y%m%d')}"


def split_instance_id(event_id: str) -> tuple[str, Start] | None:
    """(series id, original start) of an instance id, or None when `event_id` is not shaped like one."""
    series_id, sep, suffix = event_id.rpartition("_")
    if not sep or not series_id:
        return None
    if _TIMED_SUFFIX.match(suffix):
        return series_id, dt.datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    if _DATE_SUFFIX.match(suffix):
        try:
            return series_id, dt.datetime.strptime(suffix, "%Y%m%d").date()
        except ValueError:
            return None
    return None


def _normalise_until(rule: str, *, all_day: bool, zone: ZoneInfo) -> str:
    """RFC 5545 wants UNTIL in UTC for a zoned start; Google also takes a date or a local time
    (a date means "through that day"). dateutil is strict, so bring UNTIL to the form it needs."""
    match = _UNTIL.search(rule)
    if match is None:
        return rule
    day, time_part, utc = match.group(1), match.group(2), match.group(3)
    if all_day:
        if utc and time_part:
            moment = dt.datetime.strptime(day + time_part, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC).astimezone(zone)
            fixed = moment.strftime("%Y%m%dT%H%M%S")
        else:
            fixed = day + (time_part or "T235959")
    else:
        if time_part is None:
            local = dt.datetime.strptime(day, "%Y%m%d").replace(hour=23, minute=59, second=59, tzinfo=zone)
        elif utc:
            local = dt.datetime.strptime(day + time_part, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
        else:
            local = dt.datetime.strptime(day + time_part, "%Y%m%dT%H%M%S").replace(tzinfo=zone)
        fixed = local.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return rule[: match.start()] + f"UNTIL={fixed}" + rule[match.end() :]


def _parse_dates(value: str, params: str, *, all_day: bool, zone: ZoneInfo) -> list[dt.datetime]:
    """The moments of an RDATE/EXDATE value list (`;TZID=…`, `;VALUE=DATE`, `…Z` or floating local times)."""
    options = dict(part.split("=", 1) for part in params.strip(";").split(";") if "=" in part)
    own_zone = ZoneInfo(options["TZID"]) if "TZID" in options else zone
    moments: list[dt.datetime] = []
    for item in value.split(","):
        text = item.strip()
        if _DATE_SUFFIX.match(text):
            day = dt.datetime.strptime(text, "%Y%m%d")
            moments.append(day if all_day else day.replace(tzinfo=own_zone))
            continue
        utc = text.endswith("Z")
        moment = dt.datetime.strptime(text.rstrip("Z"), "%Y%m%dT%H%M%S")
        aware = moment.replace(tzinfo=dt.UTC if utc else own_zone)
        moments.append(aware.astimezone(zone).replace(tzinfo=None) if all_day else aware)
    return moments
