"""`GoogleCalendarFeed` against the Google sandbox over real HTTP: calendars, paging and positions,
incremental rounds with edits and deletions, 410 → `ResyncRequired`, and building events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from lineup_integrations.calendar.feed import CalendarRef, EventPage, FeedFactory, ResyncRequired, Window
from lineup_integrations.core.http import RateLimitTracker, RetryingClient
from lineup_integrations.google_calendar.feed import GoogleCalendarFeed, open_feed
from tests.google_calendar.conftest import LOGIN
from tests.google_calendar.sandbox.conftest import CalendarUser, timed
from tests.google_calendar.test_client import add_fault

WINDOW = Window(dt.datetime(2026, 9, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
PRIMARY = CalendarRef(calendar_id=LOGIN, time_zone="UTC")
FACTORY: FeedFactory = open_feed  # the protocol the sync opens feeds with


def make_feed(
    user: CalendarUser,
    http: RetryingClient,
    *,
    page_size: int | None = None,
    on_unauthorized: Callable[[str], str] | None = None,
) -> GoogleCalendarFeed:
    return open_feed(
        http=http, api_base_url=user.base, account_id=user.login, access_token=lambda: user.access_token,
        on_unauthorized=on_unauthorized or (lambda stale: user.access_token),
        quota=RateLimitTracker(daily_budget=10_000), page_size=page_size,
    )  # fmt: skip


def full_round(feed: GoogleCalendarFeed, calendar: CalendarRef = PRIMARY) -> list[EventPage]:
    return list(feed.pages(calendar, None, WINDOW))


def ids(pages: list[EventPage]) -> list[str]:
    return sorted(e["id"] for page in pages for e in page.events)


def weekly_series(user: CalendarUser) -> dict[str, Any]:
    """Mondays 09:00–09:30 New York from 19 October 2026, six times (across the DST change)."""
    return user.insert(timed("2026-10-19T09:00:00", "2026-10-19T09:30:00", "America/New_York", summary="Standup",
                             recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6"]))  # fmt: skip


# -- calendars ------------------------------------------------------------------------------------------


def test_calendars_are_the_owned_ones_with_their_zones(user: CalendarUser, retrying: RetryingClient) -> None:
    added = user.control("POST", "calendars", json={"summary": "Interviews", "timeZone": "Asia/Tokyo"}).json()

    calendars = make_feed(user, retrying).calendars()

    assert calendars == [
        CalendarRef(calendar_id=LOGIN, time_zone="UTC", name=LOGIN),
        CalendarRef(calendar_id=added["id"], time_zone="Asia/Tokyo", name="Interviews"),
    ]


# -- pages ------------------------------------------------------------------------------------------------


def test_a_full_round_pages_to_the_end_and_only_the_last_page_holds_the_sync_token(
    user: CalendarUser, retrying: RetryingClient
) -> None:
    seeded = user.control("POST", "seed", json={"count": 11, "anchor": "2026-12-07"}).json()["ids"]

    pages = full_round(make_feed(user, retrying, page_size=4))

    assert [len(p.events) for p in pages] == [4, 4, 3]
    assert [p.final for p in pages] == [False, False, True]
    assert [set(p.position) for p in pages] == [{"pageToken"}, {"pageToken"}, {"syncToken"}]
    assert ids(pages) == sorted(seeded)
    assert all(p.removed == [] for p in pages)


def test_a_round_resumes_after_the_page_whose_position_was_stored(user: CalendarUser, retrying: RetryingClient) -> None:
    seeded = user.control("POST", "seed", json={"count": 9, "anchor": "2026-12-07"}).json()["ids"]
    feed = make_feed(user, retrying, page_size=4)
    first = next(feed.pages(PRIMARY, None, WINDOW))

    rest = list(feed.pages(PRIMARY, first.position, WINDOW))

    assert ids([first, *rest]) == sorted(seeded)
    assert [p.final for p in rest] == [False, True]


def test_an_incremental_round_returns_changes_deletions_and_series_exceptions(
    user: CalendarUser, retrying: RetryingClient
) -> None:
    kept = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", summary="Screen"))
    gone = user.insert(timed("2026-12-09T10:00:00Z", "2026-12-09T11:00:00Z", summary="Sync"))
    series = weekly_series(user)
    feed = make_feed(user, retrying, page_size=2)
    (*_, last) = full_round(feed)
    user.control("PATCH", f"calendars/primary/events/{kept['id']}", json={"summary": "Final screen"})
    user.control("DELETE", f"calendars/primary/events/{gone['id']}")
    user.control("DELETE", f"calendars/primary/events/{series['id']}_20261026T130000Z")
    moved = user.control("PATCH", f"calendars/primary/events/{series['id']}_20261102T140000Z",
                         json={"start": {"dateTime": "2026-11-02T11:00:00-05:00"},
                               "end": {"dateTime": "2026-11-02T11:30:00-05:00"}}).json()  # fmt: skip

    pages = list(feed.pages(PRIMARY, last.position, WINDOW))

    events = {e["id"]: e for page in pages for e in page.events}
    assert set(events) == {kept["id"], f"{series['id']}_20261026T130000Z", moved["id"]}
    assert events[kept["id"]]["summary"] == "Final screen"
    cancelled = events[f"{series['id']}_20261026T130000Z"]
    assert cancelled["status"] == "cancelled" and cancelled["recurringEventId"] == series["id"]
    assert [r for page in pages for r in page.removed] == [gone["id"]]
    assert [p.final for p in pages] == [False, True]
    assert pages[0].position == {"pageToken": pages[0].position["pageToken"], "syncToken": last.position["syncToken"]}
    assert set(pages[-1].position) == {"syncToken"} and pages[-1].position != last.position


def test_an_incremental_round_resumes_mid_round_with_its_sync_token(
    user: CalendarUser, retrying: RetryingClient
) -> None:
    feed = make_feed(user, retrying, page_size=1)
    (*_, last) = full_round(feed)
    added = [user.insert(timed(f"2026-12-0{day}T10:00:00Z", f"2026-12-0{day}T11:00:00Z"))["id"] for day in (1, 2, 3)]
    first = next(feed.pages(PRIMARY, last.position, WINDOW))

    rest = list(feed.pages(PRIMARY, first.position, WINDOW))

    assert ids([first, *rest]) == sorted(added)
    assert [p.final for p in rest] == [False, True]


def test_an_expired_sync_token_raises_resync_required(user: CalendarUser, retrying: RetryingClient) -> None:
    feed = make_feed(user, retrying)
    (last,) = full_round(feed)
    user.control("POST", "sync-tokens/expire").raise_for_status()

    with pytest.raises(ResyncRequired):
        list(feed.pages(PRIMARY, last.position, WINDOW))


def test_a_401_mid_round_refreshes_once_and_the_round_goes_on(user: CalendarUser, retrying: RetryingClient) -> None:
    seeded = user.control("POST", "seed", json={"count": 5, "anchor": "2026-12-07"}).json()["ids"]
    refreshed: list[str] = []
    feed = make_feed(user, retrying, page_size=2, on_unauthorized=lambda stale: refreshed.append(stale) or stale)
    add_fault(user, status=401)

    assert ids(full_round(feed)) == sorted(seeded)
    assert refreshed == [user.access_token]


# -- series keys and events -----------------------------------------------------------------------------


def test_series_key_groups_exceptions_with_their_master(user: CalendarUser, retrying: RetryingClient) -> None:
    feed = make_feed(user, retrying)

    assert feed.series_key({"id": "abc"}) == "abc"
    assert feed.series_key({"id": "abc_20261102T140000Z", "recurringEventId": "abc"}) == "abc"


def test_a_single_event_is_built_when_it_overlaps_the_window(user: CalendarUser, retrying: RetryingClient) -> None:
    inside = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", summary="Screen"))
    outside = user.insert(timed("2027-02-08T10:00:00Z", "2027-02-08T11:00:00Z", summary="Later"))
    feed = make_feed(user, retrying)

    built = feed.build_events(PRIMARY, [inside], WINDOW, integration_id="i-1")

    ((event, payload),) = built
    assert (event.event_id, event.integration_id, event.calendar_id) == (inside["id"], "i-1", LOGIN)
    assert event.start_utc == dt.datetime(2026, 12, 8, 10, tzinfo=dt.UTC) and payload == inside
    assert feed.build_events(PRIMARY, [outside], WINDOW, integration_id="i-1") == []


def test_a_series_is_expanded_with_its_exceptions_applied(user: CalendarUser, retrying: RetryingClient) -> None:
    series = weekly_series(user)
    user.control("DELETE", f"calendars/primary/events/{series['id']}_20261026T130000Z")
    user.control("PATCH", f"calendars/primary/events/{series['id']}_20261109T140000Z",
                 json={"summary": "Standup (moved)", "start": {"dateTime": "2026-11-10T09:00:00-05:00"},
                       "end": {"dateTime": "2026-11-10T09:30:00-05:00"}})  # fmt: skip
    feed = make_feed(user, retrying)
    stored = [e for page in full_round(feed) for e in page.events]

    built = feed.build_events(PRIMARY, stored, WINDOW, integration_id="i-1")

    by_id = {event.event_id: (event, payload) for event, payload in built}
    expected_slots = ("20261019T130000Z", "20261102T140000Z", "20261109T140000Z", "20261116T140000Z",
                      "20261123T140000Z")  # fmt: skip
    assert sorted(by_id) == sorted(f"{series['id']}_{slot}" for slot in expected_slots)
    moved, moved_payload = by_id[f"{series['id']}_20261109T140000Z"]
    assert moved.start_utc == dt.datetime(2026, 11, 10, 14, tzinfo=dt.UTC) and moved_payload["summary"].endswith("d)")
    assert moved.original_start_utc == dt.datetime(2026, 11, 9, 14, tzinfo=dt.UTC)
    plain, payload = by_id[f"{series['id']}_20261116T140000Z"]
    assert plain.series_id == series["id"] and payload["summary"] == "Standup" and "recurrence" not in payload


def test_an_exception_without_its_master_is_still_built(user: CalendarUser, retrying: RetryingClient) -> None:
    series = weekly_series(user)
    exception = user.control("PATCH", f"calendars/primary/events/{series['id']}_20261102T140000Z",
                             json={"summary": "Guest standup"}).json()  # fmt: skip

    built = make_feed(user, retrying).build_events(PRIMARY, [exception], WINDOW, integration_id="i-1")

    assert [(event.event_id, payload["summary"]) for event, payload in built] == [(exception["id"], "Guest standup")]


def test_an_exception_replaces_the_occurrence_with_its_original_start_whatever_its_id(
    user: CalendarUser, retrying: RetryingClient
) -> None:
    series = weekly_series(user)
    feed = make_feed(user, retrying)
    slot = {"dateTime": "2026-11-02T09:00:00-05:00", "timeZone": "America/New_York"}
    exception = {"id": "imported1", "status": "confirmed", "summary": "Imported", "recurringEventId": series["id"],
                 "originalStartTime": slot, "start": slot, "end": slot | {"dateTime": "2026-11-02T10:00:00-05:00"}}  # fmt: skip

    built = feed.build_events(PRIMARY, [series, exception], WINDOW, integration_id="i-1")

    ids_built = sorted(event.event_id for event, _ in built)
    assert "imported1" in ids_built and f"{series['id']}_20261102T140000Z" not in ids_built
    assert len(ids_built) == 6
