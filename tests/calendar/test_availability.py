"""Common free slots against a brute force: every slot of the grid checked one by one, user by user.

Five interviewers over two weeks that cross the DST changes of Paris (29 March), Sydney and
Santiago (5 April), with random busy blocks, buffers and working hours in their own zones.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from lineup_integrations.calendar.availability import Interval, WorkingHours, common_slots, free_time, subtract

START = dt.datetime(2026, 3, 23, tzinfo=dt.UTC)
END = START + dt.timedelta(days=14)
ZONES = ("Europe/Paris", "Australia/Sydney", "America/Santiago", "Europe/Paris", "Australia/Sydney")


def random_busy(draw: random.Random, count: int) -> list[Interval]:
    blocks = []
    for _ in range(count):
        start = START + dt.timedelta(minutes=15 * draw.randrange(0, 14 * 96))
        blocks.append((start, start + dt.timedelta(minutes=15 * draw.randrange(1, 12))))
    return blocks


def works_then(hours: WorkingHours | None, start: dt.datetime, end: dt.datetime) -> bool:
    """Brute force: the slot sits inside one day's hours, read on the wall clock of the user's zone."""
    if hours is None:
        return True
    local = ZoneInfo(hours.time_zone)
    for offset in (-1, 0):
        day = start.astimezone(local).date() + dt.timedelta(days=offset)
        if day.isoweekday() not in hours.weekdays:
            continue
        opens = dt.datetime.combine(day, hours.start, tzinfo=local)
        closes = dt.datetime.combine(day + dt.timedelta(days=hours.end <= hours.start), hours.end, tzinfo=local)
        if opens <= start and end <= closes:
            return True
    return False


def brute_force(
    users: list[tuple[list[Interval], WorkingHours | None]],
    duration: dt.timedelta,
    step: dt.timedelta,
    before: dt.timedelta,
    after: dt.timedelta,
    *,
    start: dt.datetime = START,
    end: dt.datetime = END,
) -> list[Interval]:
    """Every grid slot of `[start, end)` checked against every user's hours and busy time."""
    slots = []
    slot = start
    while slot + duration <= end:
        if all(
            works_then(hours, slot, slot + duration)
            and not any(b < slot + duration + after and e > slot - before for b, e in busy)
            for busy, hours in users
        ):
            slots.append((slot, slot + duration))
        slot += step
    return slots


@pytest.mark.parametrize("seed", range(4))
def test_common_slots_equal_the_brute_force_across_dst_changes(seed: int) -> None:
    draw = random.Random(seed)
    weekdays = frozenset({1, 2, 3, 4, 5})
    users: list[tuple[list[Interval], WorkingHours | None]] = [
        (random_busy(draw, 60), WorkingHours(zone, weekdays, dt.time(8, 30), dt.time(18, 0)) if i < 4 else None)
        for i, zone in enumerate(ZONES)
    ]
    duration, step = dt.timedelta(minutes=45), dt.timedelta(minutes=15)
    before, after = dt.timedelta(minutes=10 * (seed % 2)), dt.timedelta(minutes=15)

    free = [free_time(START, END, busy, hours, buffer_before=before, buffer_after=after) for busy, hours in users]
    slots = common_slots(free, start=START, end=END, duration=duration, step=step)

    assert slots == brute_force(users, duration, step, before, after)


def test_a_single_user_without_hours_or_busy_time_is_free_on_every_step() -> None:
    slots = common_slots([free_time(START, START + dt.timedelta(hours=2), [], None)], start=START,
                         end=START + dt.timedelta(hours=2), duration=dt.timedelta(hours=1), step=dt.timedelta(minutes=30))  # fmt: skip
    assert [s.strftime("%H:%M") for s, _ in slots] == ["00:00", "00:30", "01:00"]


def test_working_hours_keep_their_wall_time_across_a_dst_change() -> None:
    paris = WorkingHours("Europe/Paris", frozenset({5, 1}), dt.time(9), dt.time(17))
    intervals = paris.intervals(dt.datetime(2026, 3, 27, tzinfo=dt.UTC), dt.datetime(2026, 3, 31, tzinfo=dt.UTC))
    assert [(s.hour, e.hour) for s, e in intervals] == [(8, 16), (7, 15)]  # Friday in CET, Monday in CEST


def test_night_shift_hours_run_past_midnight() -> None:
    night = WorkingHours("UTC", frozenset(range(1, 8)), dt.time(22), dt.time(6))
    intervals = night.intervals(dt.datetime(2026, 3, 2, tzinfo=dt.UTC), dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    assert intervals == [(dt.datetime(2026, 3, 2, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC)),
                         (dt.datetime(2026, 3, 2, 22, tzinfo=dt.UTC), dt.datetime(2026, 3, 3, tzinfo=dt.UTC))]  # fmt: skip


def test_subtract_cuts_overlapping_and_unordered_blocks() -> None:
    hour = dt.timedelta(hours=1)
    free = subtract([(START, START + 10 * hour)], [(START + 5 * hour, START + 6 * hour), (START + hour, START + 3 * hour),
                                                   (START + 2 * hour, START + 4 * hour)])  # fmt: skip
    assert free == [(START, START + hour), (START + 4 * hour, START + 5 * hour), (START + 6 * hour, START + 10 * hour)]


def test_duration_and_step_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        common_slots([], start=START, end=END, duration=dt.timedelta(0), step=dt.timedelta(minutes=15))
