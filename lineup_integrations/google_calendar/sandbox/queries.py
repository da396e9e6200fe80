"""Reading a sandbox calendar as Google does: which events a list returns, how a series expands
into instances, and free/busy. Pure functions over a `Calendar` (the caller holds the lock).

Rules (the `events.list` parameter docs in the discovery document, pitfalls.md §1.5):
- `timeMin` is an exclusive bound on an event's end, `timeMax` on its start; an all-day date
  starts at midnight in the calendar's zone. A series matches when any instance does.
- Cancelled events list with `showDeleted`, with `updatedMin`, and — for cancelled instances of a
  series — whenever `singleEvents` and `showDeleted` are both false.
- `singleEvents` replaces each live series by its instances; stored exceptions replace the
  instance they were made from and list as events of their own.
- Free/busy counts opaque, live events and instances the owner has not declined, clipped to the
  window and merged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from lineup_integrations.google_calendar.sandbox.calendars import Calendar
from lineup_integrations.google_calendar.sandbox.events import (
    StoredEvent,
    When,
    format_time,
    instance_of,
    matches_properties,
    matches_text,
)
from lineup_integrations.google_calendar.sandbox.recurrence import HORIZON, instance_id

Span = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class EventQuery:
    """The filters of an `events.list` (already validated by the API layer)."""

    single_events: bool = False
    show_deleted: bool = False
    order_by: str | None = None
    time_min: dt.datetime | None = None
    time_max: dt.datetime | None = None
    updated_min: dt.datetime | None = None
    ical_uid: str | None = None
    private: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    q: str | None = None
    event_types: tuple[str, ...] = ()
    response_zone: str | None = None
    sync_token: str | None = None

    @property
    def syncable(self) -> bool:
        """Whether the list ends with a `nextSyncToken` (see `store.py`'s docstring)."""
        narrowing = (self.order_by, self.q, self.ical_uid, self.updated_min)
        return all(value is None for value in narrowing) and not self.private and not self.shared


def full_list(calendar: Calendar, query: EventQuery, now: dt.datetime) -> list[StoredEvent]:
    """The events (and instances) a full `events.list` returns, in its order."""
    chosen: list[StoredEvent] = []
    for event in sorted(calendar.events.values(), key=lambda e: e.order):
        if not _passes_filters(event, query):
            continue
        if event.is_series and query.single_events:
            if not event.cancelled:  # a deleted series' instances are gone with it
                chosen += series_instances(calendar, event, query.time_min, query.time_max, now=now,
                                           show_deleted=False, exceptions=False)  # fmt: skip
            continue
        if event.cancelled and not _shows_cancelled(event, query):
            continue
        if overlaps(calendar, event, query.time_min, query.time_max, now=now):
            chosen.append(event)
    if query.order_by == "startTime":
        chosen.sort(key=lambda e: (e.start.instant(calendar.zone), e.id))
    elif query.order_by == "updated":
        chosen.sort(key=lambda e: (e.updated, e.order))
    elif query.single_events:
        chosen.sort(key=lambda e: (e.order if e.recurring_event_id is None else _series_order(calendar, e),
                                   e.start.instant(calendar.zone)))  # fmt: skip
    return chosen


def changed_events(calendar: Calendar, query: EventQuery, watermark: int, now: dt.datetime) -> list[StoredEvent]:
    """What an incremental list returns: every event written after `watermark`, deleted ones
    included; with `singleEvents` a changed live series as all its instances."""
    found: list[StoredEvent] = []
    changed = sorted((e for e in calendar.events.values() if e.change > watermark), key=lambda e: e.change)
    for event in changed:
        if query.event_types and event.fields.get("eventType", "default") not in query.event_types:
            continue
        if event.is_series and query.single_events and not event.cancelled:
            found += series_instances(calendar, event, None, None, now=now, show_deleted=False, exceptions=False)
        else:
            found.append(event)
    return found


def series_instances(
    calendar: Calendar,
    series: StoredEvent,
    time_min: dt.datetime | None,
    time_max: dt.datetime | None,
    *,
    now: dt.datetime,
    show_deleted: bool,
    exceptions: bool = True,
) -> list[StoredEvent]:
    """A series' instances overlapping (time_min, time_max), by original start. Stored exceptions
    replace their generated instance; with `exceptions` they are included (cancelled ones only
    with `show_deleted`), else left to the caller, which lists them as events of their own.
    Without `time_max`, an unbounded series is expanded up to `HORIZON` past now."""
    assert series.series is not None
    zone, duration = calendar.zone, series.duration()
    first = series.start.instant(zone)
    high = time_max or max(first, now) + HORIZON
    low = (time_min - duration) if time_min is not None else first
    found: list[StoredEvent] = []
    for start in series.series.between(low, high):
        event_id = instance_id(series.id, start)
        if event_id in calendar.events:
            continue
        instance = instance_of(series, start, event_id)
        if time_min is None or instance.end.instant(zone) > time_min:
            found.append(instance)
    if exceptions:
        for exception in calendar.exceptions_of(series):
            if exception.cancelled and not show_deleted:
                continue
            if overlaps(calendar, exception, time_min, time_max, now=now):
                found.append(exception)
    found.sort(key=lambda e: (e.original_start or e.start).instant(zone))
    return found


def overlaps(
    calendar: Calendar, event: StoredEvent, time_min: dt.datetime | None, time_max: dt.datetime | None, *,
    now: dt.datetime,
) -> bool:  # fmt: skip
    """Whether the event (any instance of a series) ends after `time_min` and starts before `time_max`."""
    if time_min is None and time_max is None:
        return True
    if event.is_series:
        return bool(series_instances(calendar, event, time_min, time_max, now=now, show_deleted=False,
                                     exceptions=False))  # fmt: skip
    zone = calendar.zone
    start, end = event.start.instant(zone), event.end.instant(zone)
    return (time_min is None or end > time_min) and (time_max is None or start < time_max)


def busy(calendar: Calendar, low: dt.datetime, high: dt.datetime, now: dt.datetime) -> list[Span]:
    """Busy intervals of a calendar within [low, high): opaque, non-cancelled events and instances
    the owner has not declined, clipped to the window and merged."""
    spans: list[Span] = []
    for event in calendar.events.values():
        if event.cancelled:
            continue
        found = (
            series_instances(calendar, event, low, high, now=now, show_deleted=False, exceptions=False)
            if event.is_series
            else [event]
        )
        for one in found:
            if one.cancelled or not one.opaque or _declined_by(one, calendar.owners):
                continue
            start, end = one.start.instant(calendar.zone), one.end.instant(calendar.zone)
            if end > low and start < high:
                spans.append((max(start, low), min(end, high)))
    return _merge(spans)


def render_busy(spans: Sequence[Span], zone: ZoneInfo) -> list[dict[str, str]]:
    return [{"start": format_time(start, zone), "end": format_time(end, zone)} for start, end in spans]


def same_start(when: When, start: dt.datetime | dt.date) -> bool:
    """Whether an `originalStartTime` is `start` (the `originalStart` parameter of `instances`)."""
    if isinstance(start, dt.datetime):
        return when.moment is not None and when.moment == start
    return when.day == start


def _passes_filters(event: StoredEvent, query: EventQuery) -> bool:
    if query.ical_uid is not None and event.ical_uid != query.ical_uid:
        return False
    if query.updated_min is not None and event.updated < query.updated_min:
        return False
    if query.private and not matches_properties(event, "private", query.private):
        return False
    if query.shared and not matches_properties(event, "shared", query.shared):
        return False
    if query.q and not matches_text(event, query.q):
        return False
    return not query.event_types or event.fields.get("eventType", "default") in query.event_types


def _shows_cancelled(event: StoredEvent, query: EventQuery) -> bool:
    if query.show_deleted or query.updated_min is not None:
        return True
    return event.recurring_event_id is not None and not query.single_events


def _series_order(calendar: Calendar, event: StoredEvent) -> int:
    series = calendar.events.get(event.recurring_event_id or "")
    return series.order if series is not None else event.order


def _declined_by(event: StoredEvent, owners: frozenset[str]) -> bool:
    return any(a.get("email") in owners and a.get("responseStatus") == "declined"
               for a in event.fields.get("attendees", []))  # fmt: skip


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
