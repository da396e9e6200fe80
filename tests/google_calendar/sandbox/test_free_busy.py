"""`POST /calendar/v3/freeBusy` on the Google sandbox: busy blocks from opaque, live events as Google
computes them (provider-apis.md §B6, pitfalls.md §1.11)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.google_calendar.sandbox.conftest import CalendarUser, google_error, timed

DAY = {"timeMin": "2026-12-08T00:00:00Z", "timeMax": "2026-12-09T00:00:00Z"}


def free_busy(user: CalendarUser, **body: Any) -> dict[str, Any]:
    response = user.api("POST", "freeBusy", json=DAY | {"items": [{"id": "primary"}]} | body)
    assert response.status_code == 200, response.text
    return response.json()


def test_busy_blocks_come_from_opaque_live_undeclined_events_merged_and_clipped(user: CalendarUser) -> None:
    user.insert(timed("2026-12-08T09:00:00Z", "2026-12-08T10:00:00Z"))
    user.insert(timed("2026-12-08T09:30:00Z", "2026-12-08T11:00:00Z"))  # overlaps: merged
    user.insert(timed("2026-12-08T12:00:00Z", "2026-12-08T13:00:00Z", transparency="transparent"))
    user.insert(timed("2026-12-08T14:00:00Z", "2026-12-08T15:00:00Z",
                      attendees=[{"email": user.login, "responseStatus": "declined"}]))  # fmt: skip
    cancelled = user.insert(timed("2026-12-08T16:00:00Z", "2026-12-08T17:00:00Z"))
    user.api("DELETE", f"calendars/primary/events/{cancelled['id']}")
    user.insert(timed("2026-12-08T23:00:00Z", "2026-12-09T01:00:00Z"))  # clipped to the window

    body = free_busy(user)

    assert body["kind"] == "calendar#freeBusy"
    assert body["timeMin"] == "2026-12-08T00:00:00.000Z" and body["timeMax"] == "2026-12-09T00:00:00.000Z"
    assert body["calendars"] == {"primary": {"busy": [
        {"start": "2026-12-08T09:00:00Z", "end": "2026-12-08T11:00:00Z"},
        {"start": "2026-12-08T23:00:00Z", "end": "2026-12-09T00:00:00Z"},
    ]}}  # fmt: skip


def test_series_instances_and_all_day_events_are_busy_in_the_requested_zone(user: CalendarUser) -> None:
    series = user.insert(timed("2026-12-07T08:00:00", "2026-12-07T08:30:00", "Europe/Berlin",
                               recurrence=["RRULE:FREQ=DAILY;COUNT=5"]))  # fmt: skip
    moved = f"{series['id']}_20261208T070000Z"
    user.api("PATCH", f"calendars/primary/events/{moved}", json={
        "start": {"dateTime": "2026-12-08T15:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-12-08T15:30:00+01:00", "timeZone": "Europe/Berlin"},
    }).raise_for_status()  # fmt: skip
    user.insert({"start": {"date": "2026-12-09"}, "end": {"date": "2026-12-10"}})

    body = free_busy(user, timeMax="2026-12-10T00:00:00Z", timeZone="Europe/Berlin")

    assert body["calendars"]["primary"]["busy"] == [
        {"start": "2026-12-08T15:00:00+01:00", "end": "2026-12-08T15:30:00+01:00"},  # the exception, not 08:00
        {"start": "2026-12-09T01:00:00+01:00", "end": "2026-12-10T01:00:00+01:00"},  # all-day (UTC calendar)
    ]


def test_unknown_calendars_come_back_with_errors_and_colleagues_with_their_busy_time(
    user: CalendarUser, user_factory: Callable[..., CalendarUser]
) -> None:
    colleague = user_factory("hiring.manager@acme.example")
    colleague.insert(timed("2026-12-08T09:00:00Z", "2026-12-08T10:00:00Z"))

    body = free_busy(user, items=[{"id": "primary"}, {"id": colleague.login}, {"id": "stranger@elsewhere.example"}])

    assert body["calendars"] == {
        "primary": {"busy": []},
        colleague.login: {"busy": [{"start": "2026-12-08T09:00:00Z", "end": "2026-12-08T10:00:00Z"}]},
        "stranger@elsewhere.example": {"busy": [], "errors": [{"domain": "global", "reason": "notFound"}]},
    }


def test_calendars_beyond_the_expansion_limit_get_too_many_calendars_requested(user: CalendarUser) -> None:
    body = free_busy(user, calendarExpansionMax=1, items=[{"id": "primary"}, {"id": user.login}])

    assert body["calendars"][user.login]["errors"] == [{"domain": "calendar", "reason": "tooManyCalendarsRequested"}]


def test_free_busy_refuses_a_missing_or_empty_range_and_a_limit_above_50(user: CalendarUser) -> None:
    missing = user.api("POST", "freeBusy", json={"timeMax": DAY["timeMax"], "items": [{"id": "primary"}]})
    empty = user.api("POST", "freeBusy", json={"timeMin": DAY["timeMax"], "timeMax": DAY["timeMin"], "items": []})
    too_many = user.api("POST", "freeBusy", json=DAY | {"calendarExpansionMax": 51, "items": []})

    assert google_error(missing) == (400, "global", "required")
    assert google_error(empty) == (400, "calendar", "timeRangeEmpty")
    assert google_error(too_many) == (400, "global", "invalid")
