"""Production expansion of recurring series (`google_calendar.recurrence`, through the feed's
`build_events`) against the sandbox's own truth: for each series, the events built from what a
full round listed (master and exceptions) equal the sandbox's `events.instances` over the same
window — across DST changes in several zones, all-day series, COUNT, UNTIL (UTC, date), EXDATE,
RDATE, and edited, moved and cancelled exceptions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import pytest

from lineup_integrations.calendar.feed import CalendarRef, Window
from lineup_integrations.calendar.times import parse_instant
from lineup_integrations.core.http import RetryingClient
from lineup_integrations.google_calendar.events import normalize_event
from lineup_integrations.google_calendar.recurrence import expand_series, instance_id
from tests.google_calendar.sandbox.conftest import CalendarUser
from tests.google_calendar.test_feed import make_feed

Action = Literal["cancel", "rename", "move_later", "move_out"]


@dataclass(frozen=True)
class Case:
    """A series on a calendar in `calendar_zone`, exceptions made from its instances (by index in
    the window), and the window the expansion is compared over."""

    body: dict[str, Any]
    window: tuple[str, str]
    calendar_zone: str = "UTC"
    exceptions: tuple[tuple[int, Action], ...] = ()


def timed_series(start: str, end: str, zone: str, *rules: str) -> dict[str, Any]:
    return {"summary": "Series", "start": {"dateTime": start, "timeZone": zone},
            "end": {"dateTime": end, "timeZone": zone}, "recurrence": list(rules)}  # fmt: skip


def all_day_series(start: str, end: str, *rules: str) -> dict[str, Any]:
    return {"summary": "Series", "start": {"date": start}, "end": {"date": end}, "recurrence": list(rules)}


CASES = {
    "weekly New York across the fall-back, with exceptions": Case(
        timed_series("2026-10-05T09:00:00", "2026-10-05T09:30:00", "America/New_York", "RRULE:FREQ=WEEKLY;BYDAY=MO"),
        ("2026-10-01", "2026-12-01"),
        exceptions=((2, "cancel"), (4, "move_later"), (5, "rename"), (6, "move_out")),
    ),
    "daily Berlin across the fall-back, COUNT": Case(
        timed_series("2026-10-20T08:30:00", "2026-10-20T09:15:00", "Europe/Berlin", "RRULE:FREQ=DAILY;COUNT=12"),
        ("2026-10-01", "2026-11-15"),
        calendar_zone="Europe/Berlin",
    ),
    "Sydney twice a week across the spring-forward, UNTIL in UTC": Case(
        timed_series(
            "2026-09-22T18:00:00",
            "2026-09-22T19:00:00",
            "Australia/Sydney",
            "RRULE:FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20261020T000000Z",
        ),
        ("2026-09-01", "2026-11-01"),
        calendar_zone="Australia/Sydney",
        exceptions=((3, "cancel"),),
    ),
    "daily Los Angeles across the spring-forward, UNTIL as a date": Case(
        timed_series(
            "2026-03-05T07:00:00", "2026-03-05T08:00:00", "America/Los_Angeles", "RRULE:FREQ=DAILY;UNTIL=20260312"
        ),
        ("2026-03-01", "2026-04-01"),
        calendar_zone="America/Chicago",
    ),
    "weekly London since 2025, the window cutting in": Case(
        timed_series("2025-01-01T16:00:00", "2025-01-01T17:00:00", "Europe/London", "RRULE:FREQ=WEEKLY;BYDAY=WE"),
        ("2026-10-01", "2026-11-15"),
        exceptions=((1, "move_later"),),
    ),
    "daily Berlin with EXDATE and RDATE": Case(
        timed_series(
            "2026-12-01T10:00:00",
            "2026-12-01T11:00:00",
            "Europe/Berlin",
            "RRULE:FREQ=DAILY;COUNT=6",
            "EXDATE;TZID=Europe/Berlin:20261203T100000",
            "RDATE;TZID=Europe/Berlin:20261220T100000",
        ),
        ("2026-11-20", "2026-12-31"),
    ),
    "weekly New York with a UTC EXDATE after the change": Case(
        timed_series(
            "2026-10-19T09:00:00",
            "2026-10-19T09:30:00",
            "America/New_York",
            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
            "EXDATE:20261102T140000Z",
        ),
        ("2026-10-01", "2026-12-31"),
    ),
    "monthly last Friday in São Paulo": Case(
        timed_series(
            "2026-09-25T14:00:00",
            "2026-09-25T15:00:00",
            "America/Sao_Paulo",
            "RRULE:FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270301T000000Z",
        ),
        ("2026-09-01", "2027-06-01"),
    ),
    "all-day weekly in New York, with exceptions": Case(
        all_day_series("2026-12-04", "2026-12-05", "RRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=5"),
        ("2026-12-01", "2027-01-15"),
        calendar_zone="America/New_York",
        exceptions=((1, "cancel"), (3, "rename")),
    ),
    "two-day all-day monthly in Tokyo, the window cutting the first": Case(
        all_day_series("2026-11-15", "2026-11-17", "RRULE:FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20270315"),
        ("2026-11-16", "2027-02-01"),
        calendar_zone="Asia/Tokyo",
    ),
}


def window_of(case: Case) -> Window:
    low, high = (dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) for day in case.window)
    return Window(low, high)


def sandbox_instances(user: CalendarUser, calendar_id: str, series_id: str, window: Window) -> list[dict[str, Any]]:
    """The sandbox's truth: `events.instances` over the window (exceptions applied, cancelled left out)."""
    response = user.api("GET", f"calendars/{quote(calendar_id, safe='')}/events/{series_id}/instances",
                        params={"timeMin": window.start.isoformat(), "timeMax": window.end.isoformat(),
                                "maxResults": 2500})  # fmt: skip
    assert response.status_code == 200, response.text
    assert "nextPageToken" not in response.json()
    return list(response.json()["items"])


def make_exception(user: CalendarUser, calendar_id: str, instance: dict[str, Any], action: Action) -> None:
    path = f"calendars/{quote(calendar_id, safe='')}/events/{instance['id']}"
    if action == "cancel":
        user.control("DELETE", path).raise_for_status()
        return
    patch: dict[str, Any] = {"summary": "Exception"}
    if action in ("move_later", "move_out"):
        shift = dt.timedelta(hours=2) if action == "move_later" else dt.timedelta(days=400)
        for end in ("start", "end"):
            moved = parse_instant(instance[end]["dateTime"]) + shift
            patch[end] = {"dateTime": moved.isoformat(), "timeZone": instance[end]["timeZone"]}
    user.control("PATCH", path, json=patch).raise_for_status()


def shape(events: list[tuple[Any, dict[str, Any]]]) -> list[tuple[Any, ...]]:
    return sorted(
        (e.event_id, e.start_utc, e.end_utc, e.start_zone, e.all_day, e.original_start_utc, e.series_id,
         payload.get("summary"))
        for e, payload in events
    )  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_built_occurrences_equal_the_sandbox_instances(
    user: CalendarUser, retrying: RetryingClient, case: Case
) -> None:
    added = user.control("POST", "calendars", json={"summary": "Cal", "timeZone": case.calendar_zone}).json()
    calendar = CalendarRef(calendar_id=added["id"], time_zone=case.calendar_zone)
    window = window_of(case)
    master = user.control("POST", f"calendars/{quote(calendar.calendar_id, safe='')}/events", json=case.body).json()
    before = sandbox_instances(user, calendar.calendar_id, master["id"], window)
    for index, action in case.exceptions:
        make_exception(user, calendar.calendar_id, before[index], action)
    feed = make_feed(user, retrying)
    listed = [e for page in feed.pages(calendar, None, window) for e in page.events]
    series = [e for e in listed if feed.series_key(e) == master["id"]]

    built = feed.build_events(calendar, series, window, integration_id="i-1")

    truth = [
        (normalize_event(item, integration_id="i-1", calendar_id=calendar.calendar_id,
                         calendar_zone=calendar.time_zone), item)
        for item in sandbox_instances(user, calendar.calendar_id, master["id"], window)
    ]  # fmt: skip
    assert len(before) >= 3 and truth
    assert shape(built) == shape(truth)
    cancelled = {before[index]["id"] for index, action in case.exceptions if action in ("cancel", "move_out")}
    assert not cancelled & {event.event_id for event, _ in built}


def test_an_occurrence_payload_is_the_master_moved_to_its_slot() -> None:
    master = timed_series("2026-10-19T09:00:00-04:00", "2026-10-19T09:30:00-04:00", "America/New_York",
                          "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3") | {"id": "abc123", "location": "Room 1"}  # fmt: skip
    window = Window(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))

    (occurrence,) = expand_series(master, window, calendar_zone="UTC")

    assert occurrence == {
        "id": "abc123_20261102T140000Z", "summary": "Series", "location": "Room 1", "recurringEventId": "abc123",
        "start": {"dateTime": "2026-11-02T09:00:00-05:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-11-02T09:30:00-05:00", "timeZone": "America/New_York"},
        "originalStartTime": {"dateTime": "2026-11-02T09:00:00-05:00", "timeZone": "America/New_York"},
    }  # fmt: skip


def test_instance_ids_name_the_utc_start_or_the_date() -> None:
    start = dt.datetime(2026, 11, 2, 9, tzinfo=dt.timezone(dt.timedelta(hours=-5)))

    assert instance_id("abc123", start) == "abc123_20261102T140000Z"
    assert instance_id("abc123", dt.date(2026, 12, 4)) == "abc123_20261204"
