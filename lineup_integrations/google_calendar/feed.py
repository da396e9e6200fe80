"""Google Calendar as a `CalendarFeed` (the contract and its vocabulary: `calendar.feed`).

What is Google-specific here:
- the synced calendars are the account's own ones (calendarList `accessRole == "owner"`, the
  primary included): a calendar the user only reads is someone else's time;
- the change feed is `events.list` with `singleEvents=false`, paged with `pageToken` and resumed
  with the `nextSyncToken` of a round's last page. It covers the whole calendar, not the window
  (`window_bound = False`); the window only bounds the expansion of series;
- a series arrives as its master plus its exceptions (edited or cancelled occurrences, each with
  `recurringEventId` and `originalStartTime`); `build_events` expands the master inside the window
  and lets the exceptions replace or remove their occurrences.

Positions (what the sync stores after each page and hands back to `pages`):
- `None`: a full round from the first page;
- `{"syncToken": s}`: an incremental round from the token of the previous round's last page (this
  is the `position` of every `final` page);
- `{"pageToken": p}`: the middle of a full round;
- `{"pageToken": p, "syncToken": s}`: the middle of an incremental round that started from `s` (a
  page token is bound to its query, so later pages are requested with the same `syncToken`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from lineup_integrations.calendar.events import CalendarEvent, EventStatus
from lineup_integrations.calendar.feed import CalendarRef, EventPage, Payload, ResyncRequired, Window
from lineup_integrations.core.http import ApiError, AuthorizedApi, RateLimitTracker, RetryingClient
from lineup_integrations.google_calendar.client import (
    MAX_EVENTS_PAGE,
    PROVIDER,
    EventListPage,
    GoogleCalendarClient,
    SyncTokenExpiredError,
    classify_google_error,
)
from lineup_integrations.google_calendar.events import normalize_event
from lineup_integrations.google_calendar.recurrence import expand_series, original_start_utc

CANCELLED = EventStatus.CANCELLED.value


class GoogleCalendarFeed:
    """One Google account's owned calendars as a `CalendarFeed`."""

    provider = PROVIDER
    window_bound = False

    def __init__(self, client: GoogleCalendarClient, *, page_size: int = MAX_EVENTS_PAGE) -> None:
        self.client = client
        self.page_size = page_size

    def calendars(self) -> list[CalendarRef]:
        """The calendars the user owns (one calendarList listing)."""
        return [
            CalendarRef(calendar_id=entry["id"], time_zone=entry["timeZone"], name=entry.get("summary"))
            for entry in self.client.calendar_list()
            if entry.get("accessRole") == "owner"
        ]

    def pages(self, calendar: CalendarRef, position: Mapping[str, Any] | None, window: Window) -> Iterator[EventPage]:
        """The change feed from `position` (see the module docstring) to the end of its round;
        `window` is not used (Google's feed covers the whole calendar). A sync token Google no
        longer knows (410) raises `ResyncRequired`."""
        sync_token = position.get("syncToken") if position else None
        page_token = position.get("pageToken") if position else None
        while True:
            try:
                page = self.client.events_page(
                    calendar.calendar_id, sync_token=sync_token, page_token=page_token, max_results=self.page_size
                )
            except SyncTokenExpiredError as expired:
                raise ResyncRequired(str(expired)) from expired
            yield _event_page(page, sync_token)
            if page.next_page_token is None:
                return
            page_token = page.next_page_token

    def series_key(self, event: Payload) -> str:
        return str(event.get("recurringEventId") or event["id"])

    def build_events(
        self, calendar: CalendarRef, payloads: Sequence[Payload], window: Window, *, integration_id: str
    ) -> list[tuple[CalendarEvent, Payload]]:
        """One series key's stored payloads → events inside `window` (see `calendar.feed`): a single
        event as it is; a master expanded, each occurrence replaced by the exception made from it
        (same instance id or original start), a cancelled exception removing it; exceptions that
        moved are emitted where they are now, and so are exceptions whose master is not stored."""
        masters = [p for p in payloads if _is_master(p)]
        others = [p for p in payloads if not _is_master(p)]
        effective = list(others)
        for master in masters:
            if master.get("status") != CANCELLED:
                effective += _unreplaced_occurrences(master, others, window, calendar.time_zone)
        built: list[tuple[CalendarEvent, Payload]] = []
        for payload in effective:
            if payload.get("status") == CANCELLED:
                continue
            event = normalize_event(
                payload, integration_id=integration_id, calendar_id=calendar.calendar_id,
                calendar_zone=calendar.time_zone,
            )  # fmt: skip
            if window.overlaps(event.start_utc, event.end_utc):
                built.append((event, payload))
        return built


def _event_page(page: EventListPage, sync_token: str | None) -> EventPage:
    """A Google page as the contract's page: deletions apart, cancelled exceptions kept as events
    (they remove an occurrence of a series that stays), the position to resume after it."""
    events = [item for item in page.items if not _is_deletion(item)]
    removed = [str(item["id"]) for item in page.items if _is_deletion(item)]
    if page.next_page_token is not None:
        position: dict[str, Any] = {"pageToken": page.next_page_token}
        if sync_token is not None:
            position["syncToken"] = sync_token
        return EventPage(events=events, removed=removed, position=position, final=False)
    if page.next_sync_token is None:
        raise ApiError(200, "UNEXPECTED_RESPONSE", "the last page has no nextSyncToken", provider=PROVIDER)
    return EventPage(events=events, removed=removed, position={"syncToken": page.next_sync_token}, final=True)


def _is_deletion(item: Payload) -> bool:
    """A cancelled event that is not an exception of a series: the event is gone (a cancelled
    exception is not a deletion: it is kept for the life of its series, pitfalls.md §1.5)."""
    return item.get("status") == CANCELLED and not item.get("recurringEventId")


def _is_master(payload: Payload) -> bool:
    return bool(payload.get("recurrence")) and not payload.get("recurringEventId")


def _unreplaced_occurrences(
    master: Payload, others: Sequence[Payload], window: Window, calendar_zone: str
) -> list[Payload]:
    """The master's occurrences in `window` that no stored exception replaces or cancels."""
    exception_ids = {p["id"] for p in others}
    exception_starts = {start for p in others if (start := original_start_utc(p, calendar_zone)) is not None}
    return [
        occurrence
        for occurrence in expand_series(master, window, calendar_zone=calendar_zone)
        if occurrence["id"] not in exception_ids
        and original_start_utc(occurrence, calendar_zone) not in exception_starts
    ]


def open_feed(
    *,
    http: RetryingClient,
    api_base_url: str,
    account_id: str,
    access_token: Callable[[], str],
    on_unauthorized: Callable[[str], str],
    quota: RateLimitTracker,
    page_size: int | None = None,
) -> GoogleCalendarFeed:
    """The `FeedFactory` of Google Calendar. `api_base_url` stands for `https://www.googleapis.com`;
    `account_id` is not needed (Google's limits are per user and project, counted by `quota`)."""
    del account_id
    api = AuthorizedApi(
        http, base_url=api_base_url, access_token=access_token, on_unauthorized=on_unauthorized, quota=quota,
        classify=classify_google_error,
    )  # fmt: skip
    return GoogleCalendarFeed(GoogleCalendarClient(api), page_size=page_size or MAX_EVENTS_PAGE)
