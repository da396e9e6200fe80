"""Graph events (as Microsoft Graph v1.0 sends them) → Lineup's calendar events."""

from __future__ import annotations

import datetime as dt

import pytest

from lineup_integrations.calendar.events import EventStatus, Response
from lineup_integrations.outlook_calendar.events import normalize_event

UTC = dt.UTC


def graph_event(**fields: object) -> dict[str, object]:
    return {
        "@odata.etag": 'W/"DwAAABYAAAA="', "id": "AAMkAGI1", "iCalUId": "0400000082", "subject": "Panel",
        "type": "singleInstance", "isAllDay": False, "isCancelled": False, "showAs": "busy",
        "lastModifiedDateTime": "2026-03-01T10:00:00.1234567Z",
        "start": {"dateTime": "2026-03-08T14:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-08T15:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Pacific Standard Time", "originalEndTimeZone": "Pacific Standard Time",
        "organizer": {"emailAddress": {"name": "Ana", "address": "ana@acme.test"}},
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        **fields,
    }  # fmt: skip


def normalize(item: dict[str, object]) -> object:
    return normalize_event(item, integration_id="int-1", calendar_id="cal-1", calendar_zone="Europe/Paris")


def test_a_timed_event_in_utc() -> None:
    event = normalize(graph_event())

    assert (event.start_utc, event.end_utc, event.busy) == (
        dt.datetime(2026, 3, 8, 14, tzinfo=UTC),
        dt.datetime(2026, 3, 8, 15, tzinfo=UTC),
        True,
    )
    assert (event.etag, event.status) == ('W/"DwAAABYAAAA="', EventStatus.CONFIRMED)
    assert event.updated_at == dt.datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)


def test_a_time_in_a_windows_zone() -> None:
    event = normalize(
        graph_event(
            start={"dateTime": "2026-03-08T09:00:00.0000000", "timeZone": "Pacific Standard Time"},
            end={"dateTime": "2026-03-08T10:00:00.0000000", "timeZone": "Pacific Standard Time"},
        )
    )
    # Pacific time springs forward on 2026-03-08 at 02:00: 09:00 is PDT (UTC-7).
    assert event.start_utc == dt.datetime(2026, 3, 8, 16, tzinfo=UTC) and event.start_zone == "Pacific Standard Time"


def test_an_all_day_event_is_a_day_in_its_own_zone() -> None:
    event = normalize(
        graph_event(
            isAllDay=True,
            start={"dateTime": "2026-03-08T00:00:00.0000000", "timeZone": "UTC"},
            end={"dateTime": "2026-03-09T00:00:00.0000000", "timeZone": "UTC"},
        )
    )

    assert event.all_day and (event.start_utc, event.end_utc) == (
        dt.datetime(2026, 3, 8, 8, tzinfo=UTC),
        dt.datetime(2026, 3, 9, 7, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("fields", "busy", "status"),
    [
        ({"showAs": "free"}, False, EventStatus.CONFIRMED),
        ({"showAs": "workingElsewhere"}, False, EventStatus.CONFIRMED),
        ({"showAs": "oof"}, True, EventStatus.CONFIRMED),
        ({"showAs": "tentative"}, True, EventStatus.TENTATIVE),
        ({"isCancelled": True}, False, EventStatus.CANCELLED),
        ({"responseStatus": {"response": "declined"}}, False, EventStatus.CONFIRMED),
    ],
)
def test_busy_and_status_follow_show_as_cancellation_and_the_owners_answer(
    fields: dict[str, object], busy: bool, status: EventStatus
) -> None:
    event = normalize(graph_event(**fields))
    assert (event.busy, event.status) == (busy, status)


def test_an_occurrence_names_its_series_and_attendees_their_answers() -> None:
    event = normalize(graph_event(
        type="occurrence", seriesMasterId="AAMkMaster", originalStart="2026-03-08T14:00:00Z",
        attendees=[{"type": "required", "status": {"response": "tentativelyAccepted"},
                    "emailAddress": {"address": "bo@acme.test"}},
                   {"type": "optional", "status": {"response": "none"}, "emailAddress": {"address": "cy@acme.test"}}],
    ))  # fmt: skip

    assert (event.series_id, event.original_start_utc) == ("AAMkMaster", dt.datetime(2026, 3, 8, 14, tzinfo=UTC))
    assert [(a.email, a.response, a.optional) for a in event.attendees] == [
        ("bo@acme.test", Response.TENTATIVE, False),
        ("cy@acme.test", Response.NEEDS_ACTION, True),
    ]


def test_a_series_master_is_refused() -> None:
    with pytest.raises(ValueError, match="series master"):
        normalize(graph_event(type="seriesMaster"))
