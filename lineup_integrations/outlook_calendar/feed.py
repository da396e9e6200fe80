"""Outlook's `CalendarFeed`: Microsoft Graph `calendarView/delta` over the mailbox's default calendar.

What is Graph-specific here (pitfalls.md §2, provider-apis.md §C2):

- Only the default calendar is synced: `/me/calendarView/delta` tracks it (and Graph's free/busy
  reflects it). Times are requested in UTC, so the calendar's zone is "UTC"; all-day events are
  read in their own `originalStartTimeZone` by `normalize_event`.
- The feed is bound to the window of its first call (`window_bound`): the window goes on the
  first call only, and Graph keeps it inside its tokens.
- Positions (what the sync stores after committing a page):
  `{"nextLink": url}` — mid-round, the `@odata.nextLink` of the committed page;
  `{"deltaLink": url}` — after the round's last page, the `@odata.deltaLink` that starts the next.
  Both are resumed by following the URL as given. None starts a full round with the window.
- A page's `removed` are the ids Graph sends as `@removed` (deleted, or no longer in the window)
  and the ids of cancelled events; everything else is in `events`. An id sent twice in one page
  counts once, as its last appearance says.
- Occurrences come as bare stubs (id, type, seriesMasterId, start, end): the page also carries
  each series master they name, fetched once per round (`GET /me/events/{id}`), so the stored
  payloads of a series are enough to complete its stubs in `build_events`. Masters are stored, never
  events themselves.
- 410 (`syncStateNotFound`) → `ResyncRequired`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from lineup_integrations.calendar.events import CalendarEvent
from lineup_integrations.calendar.feed import CalendarFeed, CalendarRef, EventPage, Payload, ResyncRequired, Window
from lineup_integrations.core.http import ApiError, AuthorizedApi, RateLimitTracker, RetryingClient
from lineup_integrations.outlook_calendar.client import (
    PROVIDER,
    GraphCalendarClient,
    SyncStateNotFoundError,
    classify_graph_error,
)
from lineup_integrations.outlook_calendar.events import normalize_event

# Graph documents no maximum for calendarView delta pages; 200 is the cap it applies to other
# objects' delta pages (users, contacts), so a larger ask would not be honoured anyway.
DEFAULT_PAGE_SIZE = 200
CALENDAR_ZONE = "UTC"
NEXT_LINK = "nextLink"
DELTA_LINK = "deltaLink"
_MASTER_ONLY = frozenset({"recurrence", "iCalUId", "originalStart"})
"""A master's fields an occurrence does not inherit: the series pattern, the series' own iCalUId
(each occurrence has its own) and slot."""


class OutlookCalendarFeed:
    """One Microsoft account's default calendar as a `CalendarFeed` (see the module docstring)."""

    provider = PROVIDER
    window_bound = True

    def __init__(self, client: GraphCalendarClient, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._client = client
        self._page_size = page_size

    def calendars(self) -> list[CalendarRef]:
        calendar = self._client.default_calendar()
        return [CalendarRef(calendar_id=calendar["id"], time_zone=CALENDAR_ZONE, name=calendar.get("name"))]

    def pages(self, calendar: CalendarRef, position: Mapping[str, Any] | None, window: Window) -> Iterator[EventPage]:
        link = _link(position)
        masters_fetched: set[str] = set()
        while True:
            try:
                body = self._client.delta_page(
                    link=link, window=window if link is None else None, page_size=self._page_size
                )
            except SyncStateNotFoundError as error:
                raise ResyncRequired(str(error)) from error
            page = self._page(body, masters_fetched)
            yield page
            if page.final:
                return
            link = page.position[NEXT_LINK]

    def series_key(self, event: Payload) -> str:
        return str(event.get("seriesMasterId") or event["id"])

    def build_events(
        self, calendar: CalendarRef, payloads: Sequence[Payload], window: Window, *, integration_id: str
    ) -> list[tuple[CalendarEvent, Payload]]:
        master = next((payload for payload in payloads if payload.get("type") == "seriesMaster"), None)
        built: list[tuple[CalendarEvent, Payload]] = []
        for payload in payloads:
            if payload.get("type") == "seriesMaster":
                continue
            effective = complete_occurrence(payload, master) if payload.get("type") == "occurrence" else payload
            if effective.get("isCancelled"):
                continue
            event = normalize_event(
                effective, integration_id=integration_id, calendar_id=calendar.calendar_id,
                calendar_zone=calendar.time_zone,
            )  # fmt: skip
            if window.overlaps(event.start_utc, event.end_utc):
                built.append((event, effective))
        return built

    def _page(self, body: Mapping[str, Any], masters_fetched: set[str]) -> EventPage:
        """One delta response as an `EventPage`, with the masters of the series it names."""
        latest: dict[str, Payload | None] = {}  # id → its last appearance (None: removed)
        for item in body.get("value") or []:
            latest.pop(item["id"], None)
            latest[item["id"]] = None if "@removed" in item or item.get("isCancelled") else item
        events = [item for item in latest.values() if item is not None]
        removed = [item_id for item_id, item in latest.items() if item is None]
        events += self._masters(events, masters_fetched)
        if isinstance(body.get("@odata.deltaLink"), str):
            return EventPage(events, removed, {DELTA_LINK: body["@odata.deltaLink"]}, final=True)
        if isinstance(body.get("@odata.nextLink"), str):
            return EventPage(events, removed, {NEXT_LINK: body["@odata.nextLink"]}, final=False)
        raise ApiError(
            200, "UNEXPECTED_RESPONSE", "a delta page with neither a nextLink nor a deltaLink", provider=PROVIDER
        )

    def _masters(self, events: Sequence[Payload], masters_fetched: set[str]) -> list[Payload]:
        """The masters of the series `events` name that this round has not fetched yet (gone ones skipped)."""
        wanted = dict.fromkeys(item["seriesMasterId"] for item in events if item.get("seriesMasterId"))
        masters: list[Payload] = []
        for master_id in wanted:
            if master_id in masters_fetched:
                continue
            masters_fetched.add(master_id)
            master = self._client.event(master_id)
            if master is not None:
                masters.append(master)
        return masters


def complete_occurrence(stub: Payload, master: Payload | None) -> Payload:
    """An occurrence as a full event: its series master's fields (minus `_MASTER_ONLY`) with the
    stub's own (id, type, seriesMasterId, start, end, …) overriding. Without its master a stub stays
    as it is: a busy block with no title rather than a hole in the calendar."""
    if master is None:
        return dict(stub)
    inherited = {key: value for key, value in master.items() if key not in _MASTER_ONLY}
    return inherited | {"type": "occurrence"} | stub


def _link(position: Mapping[str, Any] | None) -> str | None:
    """The URL to resume from (None: a full round), from a position this feed produced."""
    if position is None:
        return None
    link = position.get(NEXT_LINK) or position.get(DELTA_LINK)
    if not isinstance(link, str):
        raise ValueError(f"not an Outlook feed position: expected a {NEXT_LINK!r} or {DELTA_LINK!r} URL")
    return link


def open_feed(
    *,
    http: RetryingClient,
    api_base_url: str,
    account_id: str,
    access_token: Callable[[], str],
    on_unauthorized: Callable[[str], str],
    quota: RateLimitTracker,
    page_size: int | None = None,
) -> CalendarFeed:
    """The `FeedFactory` of Outlook: Graph under `api_base_url` (paths start with `/v1.0`), with
    requests of `account_id`'s mailbox limited by the process-wide `MAILBOX_SLOTS`."""
    api = AuthorizedApi(
        http, base_url=api_base_url, access_token=access_token, on_unauthorized=on_unauthorized, quota=quota,
        classify=classify_graph_error,
    )  # fmt: skip
    return OutlookCalendarFeed(GraphCalendarClient(api, mailbox=account_id), page_size=page_size or DEFAULT_PAGE_SIZE)
