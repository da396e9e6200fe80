"""Google events (as the Calendar v3 API sends them) → Lineup's calendar events."""

from __future__ import annotations

import datetime as dt

import pytest

from lineup_integrations.calendar.events import EventStatus, Response
from lineup_integrations.google_calendar.events import normalize_event

UTC = dt.UTC


def google_event(**fields: object) -> dict[str, object]:
    return {
        "kind": "calendar#event", "etag": '"3181161784712000"', "id": "evt1", "status": "confirmed",
        "updated": "2026-03-01T10:00:00.000Z", "summary": "Panel", "iCalUID": "evt1@google.com",
        "organizer": {"email": "ana@acme.test"},
        "start": {"dateTime": "2026-03-08T09:00:00-05:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-08T10:00:00-04:00", "timeZone": "America/New_York"},
        **fields,
    }  # fmt: skip


def normalize(item: dict[str, object]) -> object:
    return normalize_event(item, integration_id="int-1", calendar_id="primary", calendar_zone="Europe/Paris")


def test_a_timed_event_keeps_its_instant_and_its_zone() -> None:
    event = normalize(google_event())

    assert (event.start_utc, event.end_utc) == (
        dt.datetime(2026, 3, 8, 14, tzinfo=UTC),
        dt.datetime(2026, 3, 8, 14, tzinfo=UTC),
    )
    assert (event.start_zone, event.all_day, event.busy, event.status) == (
        "America/New_York",
        False,
        True,
        EventStatus.CONFIRMED,
    )
    assert (event.ical_uid, event.etag) == ("evt1@google.com", '"3181161784712000"')
    assert event.updated_at == dt.datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_an_all_day_event_is_read_in_the_calendar_zone() -> None:
    event = normalize(google_event(start={"date": "2026-03-29"}, end={"date": "2026-03-30"}))

    assert event.all_day and event.start_zone == "Europe/Paris"
    assert (event.start_utc, event.end_utc) == (
        dt.datetime(2026, 3, 28, 23, tzinfo=UTC),
        dt.datetime(2026, 3, 29, 22, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("fields", "busy"),
    [
        ({"transparency": "transparent"}, False),
        ({"transparency": "opaque"}, True),
        ({"attendees": [{"email": "me@acme.test", "self": True, "responseStatus": "declined"}]}, False),
        ({"attendees": [{"email": "me@acme.test", "self": True, "responseStatus": "tentative"}]}, True),
    ],
)
def test_busy_follows_transparency_and_the_owners_answer(fields: dict[str, object], busy: bool) -> None:
    assert normalize(google_event(**fields)).busy is busy


def test_an_instance_names_its_series_and_slot_and_attendees_their_answers() -> None:
    event = normalize(google_event(
        id="evt1_20260308T140000Z", recurringEventId="evt1",
        originalStartTime={"dateTime": "2026-03-08T09:00:00-05:00", "timeZone": "America/New_York"},
        attendees=[{"email": "bo@acme.test", "responseStatus": "accepted"},
                   {"email": "cy@acme.test", "responseStatus": "needsAction", "optional": True}],
    ))  # fmt: skip

    assert (event.series_id, event.original_start_utc) == ("evt1", dt.datetime(2026, 3, 8, 14, tzinfo=UTC))
    assert [(a.email, a.response, a.optional) for a in event.attendees] == [
        ("bo@acme.test", Response.ACCEPTED, False),
        ("cy@acme.test", Response.NEEDS_ACTION, True),
    ]


def test_a_cancelled_event_is_refused() -> None:
    with pytest.raises(ValueError, match="cancelled"):
        normalize({"id": "gone", "status": "cancelled"})
