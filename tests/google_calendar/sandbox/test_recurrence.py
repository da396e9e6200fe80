"""Recurring events in the Google sandbox: RRULE expansion (DST-correct, in the event's zone), and
series, instances and exceptions on the wire as Google serves them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from lineup_integrations.google_calendar.sandbox.recurrence import (
    RecurrenceError,
    instance_id,
    parse_series,
    split_instance_id,
)
from tests.google_calendar.sandbox.conftest import CalendarUser, google_error, timed

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
FAR = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def utc_starts(lines: list[str], first: dt.datetime | dt.date, zone: ZoneInfo) -> list[str]:
    return [
        s.astimezone(dt.UTC).strftime("%m-%d %H:%M") if isinstance(s, dt.datetime) else s.isoformat()
        for s in parse_series(lines, first, zone).between(EPOCH, FAR)
    ]


# -- expansion ----------------------------------------------------------------------------------------


def test_a_weekly_series_keeps_its_local_time_across_the_dst_change() -> None:
    first = dt.datetime(2026, 10, 19, 9, 0, tzinfo=NEW_YORK)  # New York leaves DST on 1 November 2026

    starts = utc_starts(["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"], first, NEW_YORK)

    assert starts == ["10-19 13:00", "10-26 13:00", "11-02 14:00", "11-09 14:00"]


def test_interval_byday_and_count_combine() -> None:
    first = dt.datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN)  # a Tuesday

    starts = utc_starts(["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=4"], first, BERLIN)

    assert starts == ["12-01 09:00", "12-03 09:00", "12-15 09:00", "12-17 09:00"]


def test_until_as_a_date_runs_through_that_local_day() -> None:
    first = dt.datetime(2026, 12, 1, 18, 0, tzinfo=LOS_ANGELES)  # 02:00 UTC the next day

    starts = utc_starts(["RRULE:FREQ=DAILY;UNTIL=20261205"], first, LOS_ANGELES)

    assert starts == ["12-02 02:00", "12-03 02:00", "12-04 02:00", "12-05 02:00", "12-06 02:00"]


def test_until_in_utc_is_inclusive_and_exdate_removes_an_occurrence() -> None:
    first = dt.datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN)
    lines = ["RRULE:FREQ=DAILY;INTERVAL=1;UNTIL=20261204T090000Z", "EXDATE;TZID=Europe/Berlin:20261202T100000"]

    assert utc_starts(lines, first, BERLIN) == ["12-01 09:00", "12-03 09:00", "12-04 09:00"]


def test_an_all_day_series_yields_dates() -> None:
    starts = utc_starts(["RRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=3"], dt.date(2026, 12, 4), ZoneInfo("UTC"))

    assert starts == ["2026-12-04", "2026-12-11", "2026-12-18"]


@pytest.mark.parametrize(
    "line", ["RRULE:FREQ=SOMETIMES", "RRULE:BYDAY=MO", "NOTARULE:FREQ=DAILY", "RRULE:FREQ=DAILY;COUNT=x"]
)
def test_rules_google_would_refuse_raise(line: str) -> None:
    with pytest.raises(RecurrenceError):
        parse_series([line], dt.datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN), BERLIN)


def test_instance_ids_are_the_series_id_and_the_original_start() -> None:
    timed_start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=NEW_YORK)

    assert instance_id("abc123", timed_start) == "abc123_20261102T140000Z"
    assert instance_id("abc123", dt.date(2026, 12, 4)) == "abc123_20261204"
    assert split_instance_id("abc123_20261102T140000Z") == ("abc123", timed_start)
    assert split_instance_id("abc123_20261204") == ("abc123", dt.date(2026, 12, 4))
    assert split_instance_id("abc123") is None


# -- on the wire --------------------------------------------------------------------------------------


def weekly_standup(user: CalendarUser, **fields: object) -> dict[str, object]:
    """Mondays 09:00–09:30 New York from 19 October 2026, six times (across the DST change)."""
    return user.insert(timed("2026-10-19T09:00:00", "2026-10-19T09:30:00", "America/New_York", summary="Standup",
                             recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6"], **fields))  # fmt: skip


def test_instances_expand_the_series_in_its_zone_with_googles_instance_fields(user: CalendarUser) -> None:
    series = weekly_standup(user)

    body = user.api("GET", f"calendars/primary/events/{series['id']}/instances",
                    params={"timeMin": "2026-10-25T00:00:00Z", "timeMax": "2026-11-10T00:00:00Z"}).json()  # fmt: skip

    assert series["recurrence"] == ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6"]
    assert [item["id"] for item in body["items"]] == [
        f"{series['id']}_20261026T130000Z", f"{series['id']}_20261102T140000Z", f"{series['id']}_20261109T140000Z",
    ]  # fmt: skip
    second = body["items"][1]
    assert second["start"] == {"dateTime": "2026-11-02T09:00:00-05:00", "timeZone": "America/New_York"}
    assert second["end"] == {"dateTime": "2026-11-02T09:30:00-05:00", "timeZone": "America/New_York"}
    assert second["recurringEventId"] == series["id"] and second["originalStartTime"] == second["start"]
    assert second["iCalUID"] == series["iCalUID"] and "recurrence" not in second
    assert user.api("GET", f"calendars/primary/events/{second['id']}").json() == second


def test_a_modified_instance_becomes_an_exception_that_replaces_it(user: CalendarUser) -> None:
    series = weekly_standup(user)
    instance = f"{series['id']}_20261102T140000Z"

    moved = user.api("PATCH", f"calendars/primary/events/{instance}", json={
        "summary": "Standup (moved)",
        "start": {"dateTime": "2026-11-03T10:00:00-05:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-11-03T10:30:00-05:00", "timeZone": "America/New_York"},
    }).json()  # fmt: skip
    instances = user.api("GET", f"calendars/primary/events/{series['id']}/instances").json()["items"]
    plain = user.api("GET", "calendars/primary/events").json()["items"]
    single = user.api("GET", "calendars/primary/events", params={"singleEvents": "true", "orderBy": "startTime"})

    assert moved["id"] == instance and moved["recurringEventId"] == series["id"]
    assert moved["originalStartTime"] == {"dateTime": "2026-11-02T09:00:00-05:00", "timeZone": "America/New_York"}
    assert len(instances) == 6 and instances[2]["summary"] == "Standup (moved)"
    assert [item["id"] for item in plain] == [series["id"], instance]  # the series, then its exception
    starts = [item["start"]["dateTime"] for item in single.json()["items"]]
    assert len(starts) == 6 and "2026-11-03T10:00:00-05:00" in starts and "2026-11-02T09:00:00-05:00" not in starts
    assert all("recurrence" not in item for item in single.json()["items"])


def test_a_deleted_instance_is_a_cancelled_exception(user: CalendarUser) -> None:
    series = weekly_standup(user)
    _, sync_token = user.list_all()
    instance = f"{series['id']}_20261026T130000Z"

    assert user.api("DELETE", f"calendars/primary/events/{instance}").status_code == 204

    instances = user.api("GET", f"calendars/primary/events/{series['id']}/instances").json()["items"]
    with_deleted = user.api("GET", f"calendars/primary/events/{series['id']}/instances",
                            params={"showDeleted": "true"}).json()["items"]  # fmt: skip
    plain = user.api("GET", "calendars/primary/events").json()["items"]
    changes, _ = user.list_all(syncToken=sync_token)
    tombstone = {
        "kind": "calendar#event", "etag": plain[1]["etag"], "id": instance, "status": "cancelled",
        "recurringEventId": series["id"],
        "originalStartTime": {"dateTime": "2026-10-26T09:00:00-04:00", "timeZone": "America/New_York"},
    }  # fmt: skip
    assert instance not in [item["id"] for item in instances] and len(instances) == 5
    assert [item["id"] for item in with_deleted if item["status"] == "cancelled"] == [instance]
    # Cancelled instances list even without showDeleted when singleEvents is false (the showDeleted doc).
    assert plain == [plain[0], tombstone] and plain[0]["id"] == series["id"]
    assert changes == [tombstone]


def test_single_events_expands_series_among_single_events_in_start_order(user: CalendarUser) -> None:
    series = weekly_standup(user)
    lunch = user.insert(timed("2026-10-27T12:00:00-04:00", "2026-10-27T13:00:00-04:00", summary="Lunch"))
    offsite = user.insert({"summary": "Offsite", "start": {"date": "2026-10-29"}, "end": {"date": "2026-10-31"},
                           "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"]})  # fmt: skip

    items = user.api("GET", "calendars/primary/events", params={
        "singleEvents": "true", "orderBy": "startTime", "timeMin": "2026-10-26T00:00:00Z",
        "timeMax": "2026-11-06T00:00:00Z",
    }).json()["items"]  # fmt: skip

    assert [item["id"] for item in items] == [
        f"{series['id']}_20261026T130000Z", lunch["id"], f"{offsite['id']}_20261029",
        f"{series['id']}_20261102T140000Z", f"{offsite['id']}_20261105",
    ]  # fmt: skip
    assert items[2]["start"] == {"date": "2026-10-29"} and items[2]["end"] == {"date": "2026-10-31"}


def test_a_series_lists_when_any_instance_is_in_the_window(user: CalendarUser) -> None:
    series = weekly_standup(user)

    inside = user.api("GET", "calendars/primary/events",
                      params={"timeMin": "2026-11-09T00:00:00Z", "timeMax": "2026-11-10T00:00:00Z"})  # fmt: skip
    after = user.api("GET", "calendars/primary/events",
                     params={"timeMin": "2026-12-01T00:00:00Z", "timeMax": "2026-12-31T00:00:00Z"})  # fmt: skip

    assert [item["id"] for item in inside.json()["items"]] == [series["id"]]
    assert after.json()["items"] == []  # COUNT=6 ended on 23 November


def test_an_instance_id_that_is_not_an_occurrence_is_404(user: CalendarUser) -> None:
    series = weekly_standup(user)

    response = user.api("GET", f"calendars/primary/events/{series['id']}_20261027T130000Z")  # a Tuesday

    assert google_error(response) == (404, "global", "notFound")


def test_deleting_a_series_cancels_it_and_its_exceptions(user: CalendarUser) -> None:
    series = weekly_standup(user)
    exception = f"{series['id']}_20261102T140000Z"
    user.api("PATCH", f"calendars/primary/events/{exception}", json={"summary": "Special"}).raise_for_status()
    _, sync_token = user.list_all()

    assert user.api("DELETE", f"calendars/primary/events/{series['id']}").status_code == 204

    changes, _ = user.list_all(syncToken=sync_token)
    instances = user.api("GET", f"calendars/primary/events/{series['id']}/instances").json()["items"]
    assert {item["id"] for item in changes} == {series["id"], exception}
    assert all(item["status"] == "cancelled" for item in changes)
    assert instances == []


def test_instances_by_original_start_and_incremental_single_events_sync(user: CalendarUser) -> None:
    _, sync_token = user.list_all(singleEvents="true")
    series = weekly_standup(user)

    one = user.api("GET", f"calendars/primary/events/{series['id']}/instances",
                   params={"originalStart": "2026-11-09T09:00:00-05:00"}).json()["items"]  # fmt: skip
    changes, _ = user.list_all(singleEvents="true", syncToken=sync_token)

    assert [item["id"] for item in one] == [f"{series['id']}_20261109T140000Z"]
    assert len(changes) == 6 and {item["recurringEventId"] for item in changes} == {series["id"]}
