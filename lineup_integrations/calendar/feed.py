"""The calendar provider contract: what a calendar sync needs from Google Calendar or Microsoft Graph.

A provider package implements `CalendarFeed` for one connected account (its own API client
inside); `calendar.sync.CalendarSync` does the rest the same way for both — checkpoints per
account and calendar, full rounds and deletion by difference, rebuilding Lineup's events,
mapping, the store. The feed decides only what is provider-specific:

- which calendars of the account are synced (`calendars`);
- how to page its change feed from a stored position (`pages`): Google's `pageToken` /
  `nextSyncToken`, Graph's `@odata.nextLink` / `@odata.deltaLink`; `ResyncRequired` when the
  provider no longer knows the position (410);
- which stored events are rebuilt together (`series_key`): a recurring series, or one event;
- how a series' stored payloads become Lineup events inside the window (`build_events`): Google
  sends masters and exceptions (the feed expands the series); Graph sends occurrences (bare stubs
  that the feed completes from their series master).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lineup_integrations.calendar.events import CalendarEvent
from lineup_integrations.core.http import RateLimitTracker, RetryingClient

Payload = dict[str, Any]


@dataclass(frozen=True)
class Window:
    """The span of time Lineup keeps events for: recurring series are expanded inside it, and Graph's
    change tracking is bound to it. Starts and ends at midnight UTC, so it moves once a day."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def around(cls, now: dt.datetime, *, days_back: int, days_ahead: int) -> Window:
        midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(midnight - dt.timedelta(days=days_back), midnight + dt.timedelta(days=days_ahead + 1))

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        """An event is in the window when any of it is (a zero-length event at the start counts)."""
        return start < self.end and (end > self.start or start >= self.start)

    def to_json(self) -> list[str]:
        return [self.start.isoformat(), self.end.isoformat()]


@dataclass(frozen=True)
class CalendarRef:
    """One calendar of an account: its provider id and the zone its all-day dates and floating times are read in."""

    calendar_id: str
    time_zone: str
    name: str | None = None


@dataclass
class EventPage:
    """One page of a calendar's change feed.

    `events`: the events as the API returned them (new, changed, or — Google — a cancelled
    exception of a series, which the series keeps). `removed`: ids the provider says are gone.
    `position`: what to store once this page is committed; resuming from it continues after this
    page. `final`: the last page of the round, whose position is the next round's start (a sync
    token, a delta link)."""

    events: list[Payload]
    removed: list[str]
    position: dict[str, Any]
    final: bool


class ResyncRequired(Exception):
    """The provider no longer knows the stored position (Google 410 `fullSyncRequired`, Graph 410
    `syncStateNotFound`): start a full round, and delete what it no longer lists."""


class CalendarFeed(Protocol):
    """One connected account's calendars, as one provider serves them (see the module docstring)."""

    provider: str
    window_bound: bool
    """True when the provider's change feed is bound to the window it started with (Graph's
    calendarView delta): a window that moved then needs a new full round. False when the feed
    covers the whole calendar (Google) and only the expansion depends on the window."""

    def calendars(self) -> list[CalendarRef]:
        """The account's calendars to sync (one API call, or none)."""
        ...

    def pages(self, calendar: CalendarRef, position: Mapping[str, Any] | None, window: Window) -> Iterator[EventPage]:
        """The feed from `position` (None: a full round from the start) to the end of its round.
        Raises `ResyncRequired` when the provider refuses the position."""
        ...

    def series_key(self, event: Payload) -> str:
        """The key of what `event` is rebuilt with: its series' id, or its own id."""
        ...

    def build_events(
        self, calendar: CalendarRef, payloads: Sequence[Payload], window: Window, *, integration_id: str
    ) -> list[tuple[CalendarEvent, Payload]]:
        """One series key's stored payloads → Lineup's events inside `window`, each with the payload
        its descriptive fields are mapped from (an occurrence: its series' fields with its own
        overriding). Cancelled events and occurrences are left out."""
        ...


class FeedFactory(Protocol):
    """How the sync opens a provider's feed for one account (each calendar package exports one as
    `open_feed`). `account_id` is the provider's id of the account (Graph's concurrency limit is
    per mailbox); `access_token` is called for every request; `on_unauthorized(stale)` returns a
    fresh token after a 401, and the request is retried once with it; `quota` counts the calls."""

    def __call__(
        self,
        *,
        http: RetryingClient,
        api_base_url: str,
        account_id: str,
        access_token: Callable[[], str],
        on_unauthorized: Callable[[str], str],
        quota: RateLimitTracker,
        page_size: int | None = None,
    ) -> CalendarFeed: ...
