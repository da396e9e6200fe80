"""An account's calendars in the Google sandbox, and how Google renders one in the calendar list.

No HTTP and no locking (the `store.CalendarWorld` owning them locks). A primary calendar's id is
the account's login; secondary ones are `…@group.calendar.google.com`. Every write to a calendar
or its events takes the next value of the account's change counter, which sync tokens mark.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from lineup_integrations.google_calendar.sandbox.events import StoredEvent
from lineup_integrations.sandbox.kit import SandboxAccount

DEFAULT_REMINDERS: tuple[dict[str, Any], ...] = ({"method": "popup", "minutes": 10},)


@dataclass
class Calendar:
    """One calendar of an account; `owner` is the account's login (a primary calendar's id too)."""

    id: str
    summary: str
    time_zone: str
    owner: str
    primary: bool
    order: int
    change: int
    etag: str
    created: dt.datetime
    description: str | None = None
    events: dict[str, StoredEvent] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def owners(self) -> frozenset[str]:
        """Who is `self` on this calendar's events: the user, and the calendar itself."""
        return frozenset({self.id, self.owner})

    @property
    def organizer(self) -> dict[str, Any]:
        """The organizer of events created on this calendar."""
        if self.primary:
            return {"email": self.owner}
        return {"email": self.id, "displayName": self.summary}

    def updated(self) -> dt.datetime:
        """When the calendar last changed: its latest event write, else its creation."""
        return max((event.updated for event in self.events.values()), default=self.created)

    def exceptions_of(self, series: StoredEvent) -> list[StoredEvent]:
        return [event for event in self.events.values() if event.recurring_event_id == series.id]


@dataclass
class AccountCalendars:
    """An account's calendars, its change counter (what sync tokens mark) and its token generation."""

    account: SandboxAccount
    calendars: dict[str, Calendar] = field(default_factory=dict)
    changes: int = 0
    generation: int = 0
    _order: Iterator[int] = field(default_factory=itertools.count)

    def next_change(self) -> int:
        self.changes += 1
        return self.changes

    def next_order(self) -> int:
        return next(self._order)

    @property
    def primary(self) -> Calendar:
        return self.calendars[self.account.login]


def calendar_entry(calendar: Calendar) -> dict[str, Any]:
    """The `calendar#calendarListEntry` of a calendar (the user owns all of theirs)."""
    entry: dict[str, Any] = {
        "kind": "calendar#calendarListEntry",
        "etag": calendar.etag,
        "id": calendar.id,
        "summary": calendar.summary,
    }
    if calendar.description:
        entry["description"] = calendar.description
    entry |= {
        "timeZone": calendar.time_zone,
        "colorId": "14" if calendar.primary else "7",
        "backgroundColor": "#9fe1e7" if calendar.primary else "#42d692",
        "foregroundColor": "#000000",
        "selected": True,
        "accessRole": "owner",
        "defaultReminders": [dict(r) for r in DEFAULT_REMINDERS] if calendar.primary else [],
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }
    if calendar.primary:
        entry["notificationSettings"] = {
            "notifications": [
                {"type": kind, "method": "email"}
                for kind in ("eventCreation", "eventChange", "eventCancellation", "eventResponse")
            ]
        }
        entry["primary"] = True
    return entry
