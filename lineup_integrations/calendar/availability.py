"""When a panel of interviewers is free: common slots from their stored busy blocks (no provider call).

A slot `[s, s + duration)` suits a user when it lies inside one of the user's working-hours
intervals (none given: any time) and none of the user's busy blocks overlaps
`[s - buffer_before, s + duration + buffer_after)`. Each user's free time is computed as intervals
— working hours minus busy blocks widened by the buffers — the panel's as their intersection, and
slot starts are laid on the step grid that starts at the requested start. Working hours are wall
times in the user's own zone, converted day by day, so a 09:00 start stays 09:00 across DST.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lineup_integrations.calendar.times import wall_time_to_utc, zone

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class WorkingHours:
    """Working hours of one user: the same hours on each of `weekdays` (ISO: 1 Monday … 7 Sunday),
    wall times in `time_zone`. An `end` at or before `start` runs past midnight into the next day."""

    time_zone: str
    weekdays: frozenset[int]
    start: dt.time
    end: dt.time

    def intervals(self, start: dt.datetime, end: dt.datetime) -> list[Interval]:
        """The working intervals (UTC) that overlap `[start, end)`, clipped to it."""
        local = zone(self.time_zone)
        first, last = start.astimezone(local).date() - dt.timedelta(days=1), end.astimezone(local).date()
        intervals = []
        day = first
        while day <= last:
            if day.isoweekday() in self.weekdays:
                opens = wall_time_to_utc(dt.datetime.combine(day, self.start), self.time_zone)
                close_day = day if self.end > self.start else day + dt.timedelta(days=1)
                closes = wall_time_to_utc(dt.datetime.combine(close_day, self.end), self.time_zone)
                if opens < end and closes > start:
                    intervals.append((max(opens, start), min(closes, end)))
            day += dt.timedelta(days=1)
        return intervals


def subtract(intervals: Sequence[Interval], taken: Iterable[Interval]) -> list[Interval]:
    """`intervals` (sorted, disjoint) minus every interval of `taken` (any order, may overlap)."""
    free = list(intervals)
    for cut_start, cut_end in sorted(taken):
        remaining = []
        for start, end in free:
            if cut_end <= start or cut_start >= end:
                remaining.append((start, end))
                continue
            if start < cut_start:
                remaining.append((start, cut_start))
            if cut_end < end:
                remaining.append((cut_end, end))
        free = remaining
    return free


def intersect(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    """The intersection of two sorted lists of disjoint intervals."""
    result, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        start, end = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if start < end:
            result.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result


def free_time(
    start: dt.datetime,
    end: dt.datetime,
    busy: Iterable[Interval],
    working: WorkingHours | None,
    *,
    buffer_before: dt.timedelta = dt.timedelta(0),
    buffer_after: dt.timedelta = dt.timedelta(0),
) -> list[Interval]:
    """Where a slot of this user may lie. The user needs `buffer_before` free before a slot and
    `buffer_after` free after it, so a busy block `[b, e)` rules out every slot overlapping
    `[b - buffer_after, e + buffer_before)`."""
    open_time = working.intervals(start, end) if working is not None else [(start, end)]
    return subtract(open_time, ((b - buffer_after, e + buffer_before) for b, e in busy))


def common_slots(
    free_by_user: Sequence[Sequence[Interval]],
    *,
    start: dt.datetime,
    end: dt.datetime,
    duration: dt.timedelta,
    step: dt.timedelta,
) -> list[Interval]:
    """Slots `[s, s + duration)` with `s` on the grid `start + k·step`, inside `[start, end)` and
    inside every user's free time."""
    if duration <= dt.timedelta(0) or step <= dt.timedelta(0):
        raise ValueError("duration and step must be positive")
    common: list[Interval] = [(start, end)]
    for free in free_by_user:
        common = intersect(common, free)
    slots = []
    for free_start, free_end in common:
        steps = -((start - free_start) // step)  # ceil((free_start - start) / step), in whole steps
        slot = start + steps * step
        while slot + duration <= free_end:
            slots.append((slot, slot + duration))
            slot += step
    return slots
