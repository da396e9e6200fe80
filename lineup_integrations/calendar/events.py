"""Lineup's calendar event: one row per event or occurrence, whichever calendar it came from.

Both providers' events are normalised into this shape (each provider package owns its own
normaliser) before they reach the store, so scheduling reads one table. Times are UTC with the
zone they were written in kept beside them (see `times`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

_ZERO = dt.timedelta(0)


class EventStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Response(StrEnum):
    """An attendee's answer, in one vocabulary (Google's `responseStatus`, Graph's `status.response`)."""

    NEEDS_ACTION = "needs_action"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    response: Response = Response.NEEDS_ACTION
    optional: bool = False
    organizer: bool = False


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """An event (or one occurrence of a recurring series) on one calendar of one connected account.

    `busy` says whether it blocks the user's time (Google `transparency`, Graph `showAs`); a
    cancelled event never does. `series_id` names the recurring series an occurrence or exception
    belongs to, and `original_start_utc` the slot it had in the series. Descriptive fields (title,
    organizer, location) are not here: the tenant's calendar mapping reads them from the payload.

    A plain dataclass, not a pydantic model: the normalisers build it from payload values they
    have already read and typed (the provider's JSON is kept as it came, raw), and a first sync
    builds tens of thousands a page, where pydantic's validation was a fifth of the sync's time.
    """

    integration_id: str
    calendar_id: str
    event_id: str
    start_utc: dt.datetime
    end_utc: dt.datetime
    start_zone: str
    end_zone: str
    ical_uid: str | None = None
    all_day: bool = False
    status: EventStatus = EventStatus.CONFIRMED
    busy: bool = True
    series_id: str | None = None
    original_start_utc: dt.datetime | None = None
    attendees: tuple[Attendee, ...] = ()
    updated_at: dt.datetime | None = None
    etag: str | None = None

    def __post_init__(self) -> None:
        """Times are compared and stored as UTC. An end before the start is kept as the provider sent
        it: the `calendar_events` asset check reports it rather than the sync dropping the event."""
        for name in ("start_utc", "end_utc", "original_start_utc", "updated_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is not dt.UTC and value.utcoffset() != _ZERO:
                raise ValueError(f"{name} must be in UTC")
