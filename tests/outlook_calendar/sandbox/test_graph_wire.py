"""Microsoft Graph v1.0 calendar in the sandbox, over real HTTP, read by a plain httpx client written
from Graph's documentation (api-reference/v1.0, concepts/delta-query-events.md, throttling-limits.md).

Each test connects a user through the sandbox's real OAuth flow and calls `/v1.0/me/…` with the
bearer token it got; the control API (`/_sandbox/graph/…`) plays the user editing their calendar.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import httpx

from lineup_integrations.sandbox import SandboxHandle
from tests.outlook_calendar.conftest import LOGIN
from tests.outlook_calendar.sandbox.graph_wire import (
    PROVIDER,
    UTC_TIMESTAMP,
    Mailbox,
    connect,
    event_body,
    graph_error,
    local_time,
    utc,
)

MARCH = {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-04-01T00:00:00Z"}
EXTENDED_ID = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name LineupInterviewId"


def create(http: httpx.Client, me: Mailbox, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = http.post(me.url("/events"), json=body, headers=me.auth | headers)
    assert response.status_code == 201, response.text
    return response.json()


def weekly_fridays(count: int = 4) -> dict[str, Any]:
    """09:00–09:30 Pacific every Friday from 6 March 2026: US daylight saving starts on 8 March."""
    return event_body(
        "Weekly hiring sync",
        "2026-03-06T09:00:00",
        "2026-03-06T09:30:00",
        "Pacific Standard Time",
        recurrence={
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["friday"], "firstDayOfWeek": "sunday"},
            "range": {"type": "numbered", "startDate": "2026-03-06", "numberOfOccurrences": count},
        },
    )


def delta_round(http: httpx.Client, me: Mailbox, url: str, page_size: int) -> tuple[list[list[dict[str, Any]]], str]:
    """Follow nextLinks from `url` until a deltaLink: (the pages' values, the deltaLink)."""
    pages: list[list[dict[str, Any]]] = []
    headers = me.auth | {"Prefer": f"odata.maxpagesize={page_size}"}
    while True:
        response = http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["value"])
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return pages, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]
        assert "$skiptoken=" in url


# -- identity and calendars ----------------------------------------------------------------------


def test_me_and_the_default_calendar(http: httpx.Client, me: Mailbox, sandbox_reset: SandboxHandle) -> None:
    account = sandbox_reset.state(PROVIDER).account(LOGIN)
    assert account is not None

    profile = http.get(me.url(""), headers=me.auth).json()
    calendars = http.get(me.url("/calendars"), headers=me.auth).json()["value"]

    assert profile["id"] == account.user_id
    assert profile["mail"] == profile["userPrincipalName"] == LOGIN
    assert profile["displayName"] == "Ada"
    assert [(c["name"], c["isDefaultCalendar"]) for c in calendars] == [("Calendar", True)]
    assert calendars[0]["owner"] == {"name": "Ada", "address": LOGIN}
    assert http.get(me.url("/calendar"), headers=me.auth).json()["id"] == calendars[0]["id"]


def test_users_path_reaches_only_the_signed_in_users_mailbox(http: httpx.Client, base: str, me: Mailbox) -> None:
    other = connect(http, base, "grace@contoso.example")
    created = create(http, me, event_body("Screen", "2026-03-02T10:00:00", "2026-03-02T10:30:00"))

    by_upn = http.get(f"{base}/v1.0/users/{LOGIN}/events/{created['id']}", headers=me.auth)
    user_id = http.get(me.url(""), headers=me.auth).json()["id"]
    by_id = http.get(f"{base}/v1.0/users/{user_id}/calendars", headers=me.auth)
    someone_else = http.get(f"{base}/v1.0/users/{other.login}/events", headers=me.auth)

    assert by_upn.status_code == 200 and by_upn.json()["id"] == created["id"]
    assert by_id.status_code == 200 and by_id.json()["value"][0]["isDefaultCalendar"] is True
    graph_error(someone_else, 403, "ErrorAccessDenied")


def test_missing_or_expired_token_gets_graph_401_and_missing_scope_403(
    http: httpx.Client, base: str, me: Mailbox
) -> None:
    missing = http.get(me.url("/events"))
    assert graph_error(missing, 401, "InvalidAuthenticationToken")["message"] == "Access token is empty."
    assert missing.headers["WWW-Authenticate"].startswith("Bearer ")

    http.post(f"{base}/_sandbox/tokens/expire", json={"login": LOGIN}).raise_for_status()
    expired = http.get(me.url("/events"), headers=me.auth)
    assert "expired" in graph_error(expired, 401, "InvalidAuthenticationToken")["message"]

    reader = connect(http, base, "reader@contoso.example", scopes="offline_access User.Read Calendars.Read")
    assert http.get(reader.url("/events"), headers=reader.auth).status_code == 200
    graph_error(http.post(reader.url("/events"), json={}, headers=reader.auth), 403, "ErrorAccessDenied")
    profile_only = connect(http, base, "profile@contoso.example", scopes="User.Read")
    graph_error(http.get(profile_only.url("/calendars"), headers=profile_only.auth), 403, "ErrorAccessDenied")


# -- events: create, read, update, delete --------------------------------------------------------


def test_an_event_round_trips_with_graphs_shape_and_a_new_change_key_per_write(http: httpx.Client, me: Mailbox) -> None:
    created = create(
        http,
        me,
        event_body(
            "Interview: Grace Hopper",
            "2026-03-10T15:00:00",
            "2026-03-10T16:00:00",
            body={"contentType": "html", "content": "<p>Panel <b>one</b></p>"},
            attendees=[{"emailAddress": {"address": "grace@candidates.example", "name": "Grace"}, "type": "required"}],
            location={"displayName": "Room 1"},
            transactionId="lineup-interview-1",
        ),
    )

    assert created["@odata.etag"] == f'W/"{created["changeKey"]}"'
    assert UTC_TIMESTAMP.fullmatch(created["createdDateTime"])
    assert UTC_TIMESTAMP.fullmatch(created["lastModifiedDateTime"])
    assert created["start"] == {"dateTime": "2026-03-10T15:00:00.0000000", "timeZone": "UTC"}
    assert (created["type"], created["seriesMasterId"], created["isAllDay"], created["isCancelled"]) == (
        "singleInstance", None, False, False,
    )  # fmt: skip
    assert (created["showAs"], created["bodyPreview"]) == ("busy", "Panel one")
    assert created["transactionId"] == "lineup-interview-1"
    assert created["attendees"] == [{
        "type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
        "emailAddress": {"name": "Grace", "address": "grace@candidates.example"},
    }]  # fmt: skip
    assert created["organizer"] == {"emailAddress": {"name": "Ada", "address": LOGIN}}
    assert created["iCalUId"].startswith("040000008200E00074C5B7101A82E008")
    fetched = http.get(me.url(f"/events/{created['id']}"), headers=me.auth)
    assert fetched.status_code == 200 and fetched.json()["changeKey"] == created["changeKey"]

    patched = http.patch(me.url(f"/events/{created['id']}"), json={"subject": "Interview: G. Hopper"}, headers=me.auth)

    assert patched.status_code == 200
    assert patched.json()["subject"] == "Interview: G. Hopper"
    assert patched.json()["changeKey"] != created["changeKey"]
    assert patched.json()["@odata.etag"] == f'W/"{patched.json()["changeKey"]}"'
    assert patched.json()["iCalUId"] == created["iCalUId"]
    deleted = http.delete(me.url(f"/events/{created['id']}"), headers=me.auth)
    assert deleted.status_code == 204 and deleted.content == b""
    graph_error(http.get(me.url(f"/events/{created['id']}"), headers=me.auth), 404, "ErrorItemNotFound")


def test_a_stale_if_match_gets_412_and_the_current_etag_succeeds(http: httpx.Client, me: Mailbox) -> None:
    created = create(http, me, event_body("Phone screen", "2026-03-11T10:00:00", "2026-03-11T10:30:00"))
    stale = created["@odata.etag"]
    http.patch(me.control(f"/events/{created['id']}"), json={"location": {"displayName": "Room 2"}}).raise_for_status()

    url = me.url(f"/events/{created['id']}")
    refused = http.patch(url, json={"subject": "mine"}, headers=me.auth | {"If-Match": stale})
    refused_delete = http.delete(me.url(f"/events/{created['id']}"), headers=me.auth | {"If-Match": stale})

    graph_error(refused, 412, "ErrorIrresolvableConflict")
    graph_error(refused_delete, 412, "ErrorIrresolvableConflict")
    current = http.get(me.url(f"/events/{created['id']}"), headers=me.auth).json()
    assert current["subject"] == "Phone screen" and current["location"]["displayName"] == "Room 2"
    accepted = http.patch(url, json={"subject": "mine"}, headers=me.auth | {"If-Match": current["@odata.etag"]})
    assert accepted.status_code == 200 and accepted.json()["subject"] == "mine"


def test_a_reused_transaction_id_is_refused_and_bad_input_gets_graph_400s(http: httpx.Client, me: Mailbox) -> None:
    body = event_body("Onsite", "2026-03-12T09:00:00", "2026-03-12T12:00:00", transactionId="tx-1")
    create(http, me, body)

    graph_error(http.post(me.url("/events"), json=body, headers=me.auth), 400, "ErrorDuplicateTransactionId")
    unknown_zone = event_body("x", "2026-03-12T09:00:00", "2026-03-12T10:00:00", "Mars Standard Time")
    graph_error(http.post(me.url("/events"), json=unknown_zone, headers=me.auth), 400, "TimeZoneNotSupportedException")
    not_midnight = event_body("x", "2026-03-12T09:00:00", "2026-03-13T09:00:00", isAllDay=True)
    graph_error(http.post(me.url("/events"), json=not_midnight, headers=me.auth), 400, "ErrorInvalidRequest")
    unknown_property = {"subject": "x", "colour": 1}
    graph_error(http.post(me.url("/events"), json=unknown_property, headers=me.auth), 400, "RequestBodyRead")


def test_times_are_utc_unless_prefer_outlook_timezone_names_another_zone(http: httpx.Client, me: Mailbox) -> None:
    body = event_body("Debrief", "2026-07-01T09:00:00", "2026-07-01T10:00:00", "Pacific Standard Time")
    created = create(http, me, body)
    url = me.url(f"/events/{created['id']}")

    default = http.get(url, headers=me.auth)
    eastern = http.get(url, headers=me.auth | {"Prefer": 'outlook.timezone="Eastern Standard Time"'})

    assert created["start"] == {"dateTime": "2026-07-01T16:00:00.0000000", "timeZone": "UTC"}  # PDT = UTC-7
    assert created["originalStartTimeZone"] == "Pacific Standard Time"
    assert default.json()["end"] == {"dateTime": "2026-07-01T17:00:00.0000000", "timeZone": "UTC"}
    assert eastern.json()["start"] == {"dateTime": "2026-07-01T12:00:00.0000000", "timeZone": "Eastern Standard Time"}
    assert eastern.headers["Preference-Applied"] == 'outlook.timezone="Eastern Standard Time"'


def test_an_all_day_event_is_midnight_to_midnight_whatever_zone_is_asked_for(http: httpx.Client, me: Mailbox) -> None:
    body = event_body("Offsite", "2026-03-20T00:00:00", "2026-03-21T00:00:00", "Tokyo Standard Time", isAllDay=True)
    created = create(http, me, body)

    prefer = {"Prefer": 'outlook.timezone="Pacific Standard Time"'}
    pacific = http.get(me.url(f"/events/{created['id']}"), headers=me.auth | prefer)

    assert created["isAllDay"] is True
    assert created["start"] == {"dateTime": "2026-03-20T00:00:00.0000000", "timeZone": "UTC"}
    assert pacific.json()["end"] == {"dateTime": "2026-03-21T00:00:00.0000000", "timeZone": "Pacific Standard Time"}


# -- series --------------------------------------------------------------------------------------


def test_a_weekly_series_keeps_its_wall_clock_time_across_daylight_saving(http: httpx.Client, me: Mailbox) -> None:
    master = create(http, me, weekly_fridays())

    view = http.get(me.url("/calendarView"), params=MARCH, headers=me.auth).json()["value"]
    local = http.get(
        me.url("/calendarView"), params=MARCH, headers=me.auth | {"Prefer": 'outlook.timezone="Pacific Standard Time"'}
    ).json()["value"]
    instances = http.get(me.url(f"/events/{master['id']}/instances"), params=MARCH, headers=me.auth).json()["value"]
    listed = http.get(me.url("/events"), headers=me.auth).json()["value"]

    assert master["type"] == "seriesMaster"
    assert master["recurrence"]["pattern"] == {
        "type": "weekly", "interval": 1, "month": 0, "dayOfMonth": 0, "daysOfWeek": ["friday"],
        "firstDayOfWeek": "sunday", "index": "first",
    }  # fmt: skip
    assert master["recurrence"]["range"]["recurrenceTimeZone"] == "Pacific Standard Time"
    assert [utc(event["start"]).isoformat() for event in view] == [
        "2026-03-06T17:00:00+00:00",  # PST, UTC-8
        "2026-03-13T16:00:00+00:00",  # PDT, UTC-7, from 8 March
        "2026-03-20T16:00:00+00:00",
        "2026-03-27T16:00:00+00:00",
    ]
    assert {local_time(event["start"]).time() for event in local} == {dt.time(9, 0)}
    assert {(event["type"], event["seriesMasterId"]) for event in view} == {("occurrence", master["id"])}
    assert [event["id"] for event in instances] == [event["id"] for event in view]
    assert len({event["iCalUId"] for event in view}) == 4
    assert [event["id"] for event in listed] == [master["id"]]  # /events lists the master, not occurrences


def test_editing_an_occurrence_makes_an_exception_and_deleting_one_cancels_it(http: httpx.Client, me: Mailbox) -> None:
    master = create(http, me, weekly_fridays())
    second, third = http.get(me.url("/calendarView"), params=MARCH, headers=me.auth).json()["value"][1:3]

    moved = http.patch(
        me.url(f"/events/{second['id']}"),
        json={"start": {"dateTime": "2026-03-13T11:00:00", "timeZone": "Pacific Standard Time"},
              "end": {"dateTime": "2026-03-13T11:30:00", "timeZone": "Pacific Standard Time"}},
        headers=me.auth,
    )  # fmt: skip
    assert http.delete(me.url(f"/events/{third['id']}"), headers=me.auth).status_code == 204

    view = http.get(me.url("/calendarView"), params=MARCH, headers=me.auth).json()["value"]
    assert moved.status_code == 200
    exception = moved.json()
    assert (exception["id"], exception["type"]) == (second["id"], "exception")
    assert exception["seriesMasterId"] == master["id"]
    assert [(event["type"], utc(event["start"]).strftime("%d %H:%M")) for event in view] == [
        ("occurrence", "06 17:00"), ("exception", "13 18:00"), ("occurrence", "27 16:00"),
    ]  # fmt: skip
    graph_error(http.get(me.url(f"/events/{third['id']}"), headers=me.auth), 404, "ErrorItemNotFound")


# -- lists and paging ----------------------------------------------------------------------------


def test_calendar_view_needs_a_window_and_pages_with_top_and_skip(http: httpx.Client, me: Mailbox) -> None:
    for day in range(1, 6):
        create(http, me, event_body(f"Screen {day}", f"2026-03-0{day}T10:00:00", f"2026-03-0{day}T10:30:00"))

    graph_error(http.get(me.url("/calendarView"), headers=me.auth), 400, "ErrorInvalidParameter")
    first = http.get(me.url("/calendarView"), params=MARCH | {"$top": "2"}, headers=me.auth).json()
    subjects = [event["subject"] for event in first["value"]]
    url = first["@odata.nextLink"]
    while url:
        page = http.get(url, headers=me.auth).json()
        subjects += [event["subject"] for event in page["value"]]
        url = page.get("@odata.nextLink")

    assert subjects == [f"Screen {day}" for day in range(1, 6)]
    selected = http.get(me.url("/events"), params={"$select": "subject", "$top": "1"}, headers=me.auth).json()
    assert set(selected["value"][0]) == {"@odata.type", "@odata.etag", "id", "subject"}


def test_extended_properties_are_expanded_on_request_and_filterable(http: httpx.Client, me: Mailbox) -> None:
    marked = create(
        http, me,
        event_body("Interview", "2026-03-16T10:00:00", "2026-03-16T11:00:00",
                   singleValueExtendedProperties=[{"id": EXTENDED_ID, "value": "interview-42"}]),
    )  # fmt: skip
    create(http, me, event_body("Lunch", "2026-03-16T12:00:00", "2026-03-16T13:00:00"))
    expand = f"singleValueExtendedProperties($filter=id eq '{EXTENDED_ID}')"

    plain = http.get(me.url(f"/events/{marked['id']}"), headers=me.auth).json()
    expanded = http.get(me.url(f"/events/{marked['id']}"), params={"$expand": expand}, headers=me.auth).json()
    by_marker = f"singleValueExtendedProperties/Any(ep: ep/id eq '{EXTENDED_ID}' and ep/value eq 'interview-42')"
    found = http.get(me.url("/events"), params={"$filter": by_marker}, headers=me.auth).json()["value"]

    assert "singleValueExtendedProperties" not in plain
    assert expanded["singleValueExtendedProperties"] == [{"id": EXTENDED_ID, "value": "interview-42"}]
    assert [event["id"] for event in found] == [marked["id"]]


# -- delta ---------------------------------------------------------------------------------------


def test_delta_pages_to_a_delta_link_then_reports_only_changes(http: httpx.Client, me: Mailbox) -> None:
    ids = [
        create(http, me, event_body(f"E{day}", f"2026-03-{day:02d}T10:00:00", f"2026-03-{day:02d}T11:00:00"))["id"]
        for day in range(2, 9)
    ]
    start = me.url("/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z")

    pages, delta_link = delta_round(http, me, start, page_size=3)

    assert [len(page) for page in pages] == [3, 3, 1]
    assert sorted(event["id"] for page in pages for event in page) == sorted(ids)
    assert "$deltatoken=" in delta_link and "startDateTime" not in delta_link
    http.patch(me.control(f"/events/{ids[0]}"), json={"subject": "E2 moved"}).raise_for_status()
    http.delete(me.control(f"/events/{ids[1]}")).raise_for_status()
    added = create(http, me, event_body("New", "2026-03-20T10:00:00", "2026-03-20T11:00:00"))
    outside = create(http, me, event_body("May", "2026-05-04T10:00:00", "2026-05-04T11:00:00"))

    changes, next_link = delta_round(http, me, delta_link, page_size=10)

    values = [item for page in changes for item in page]
    full = {item["id"]: item for item in values if "@removed" not in item}
    removed = {item["id"]: item for item in values if "@removed" in item}
    assert set(full) == {ids[0], added["id"]}
    assert full[ids[0]]["subject"] == "E2 moved"
    assert set(removed) == {ids[1], outside["id"]}  # an event changed outside the window comes as @removed too
    assert removed[ids[1]] == {"@odata.type": "#microsoft.graph.event", "id": ids[1], "@removed": {"reason": "deleted"}}
    quiet, _ = delta_round(http, me, next_link, page_size=10)
    assert quiet == [[]]


def test_preferences_sent_as_separate_prefer_headers_are_all_honoured(http: httpx.Client, me: Mailbox) -> None:
    for day in range(2, 6):
        create(http, me, event_body(f"E{day}", f"2026-03-{day:02d}T10:00:00", f"2026-03-{day:02d}T11:00:00"))
    start = me.url("/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z")
    headers = [
        *me.auth.items(),
        ("Prefer", "odata.maxpagesize=3"),
        ("Prefer", 'outlook.timezone="Pacific Standard Time"'),
    ]

    page = http.get(start, headers=headers).json()

    assert len(page["value"]) == 3 and "@odata.nextLink" in page
    assert {event["start"]["timeZone"] for event in page["value"]} == {"Pacific Standard Time"}


def test_delta_sends_occurrences_as_stubs_and_cancelled_events_as_removed(http: httpx.Client, me: Mailbox) -> None:
    master = create(http, me, weekly_fridays(count=2))
    meeting = create(http, me, event_body("Panel", "2026-03-17T10:00:00", "2026-03-17T11:00:00"))
    start = me.url("/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z")

    pages, delta_link = delta_round(http, me, start, page_size=10)
    http.post(me.control(f"/events/{meeting['id']}/cancel")).raise_for_status()
    changes, _ = delta_round(http, me, delta_link, page_size=10)

    occurrences = [item for item in pages[0] if item.get("type") == "occurrence"]
    assert len(occurrences) == 2 and master["id"] not in {item["id"] for item in pages[0]}
    assert set(occurrences[0]) == {"@odata.type", "@odata.etag", "id", "type", "seriesMasterId", "start", "end"}
    removal = {"@odata.type": "#microsoft.graph.event", "id": meeting["id"], "@removed": {"reason": "deleted"}}
    assert changes == [[removal]]


def test_deleting_a_series_reports_each_occurrence_seen_as_removed(http: httpx.Client, me: Mailbox) -> None:
    master = create(http, me, weekly_fridays(count=3))
    start = me.url("/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z")
    pages, delta_link = delta_round(http, me, start, page_size=10)

    assert http.delete(me.url(f"/events/{master['id']}"), headers=me.auth).status_code == 204
    changes, _ = delta_round(http, me, delta_link, page_size=10)

    seen = {item["id"] for item in pages[0]}
    assert len(seen) == 3
    assert {item["id"] for item in changes[0]} == seen
    assert all(item["@removed"] == {"reason": "deleted"} for item in changes[0])


def test_delta_refuses_select_and_an_expired_token_gets_410_sync_state_not_found(
    http: httpx.Client, me: Mailbox
) -> None:
    create(http, me, event_body("E", "2026-03-02T10:00:00", "2026-03-02T11:00:00"))
    start = me.url("/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z")
    _, delta_link = delta_round(http, me, start, page_size=10)

    graph_error(http.get(start + "&$select=subject", headers=me.auth), 400, "ErrorInvalidUrlQuery")
    expired = http.post(me.control("/delta/expire")).json()["expired"]
    gone = http.get(delta_link, headers=me.auth)

    assert expired >= 1
    graph_error(gone, 410, "syncStateNotFound")
    fresh, _ = delta_round(http, me, start, page_size=10)  # a full resync works
    assert [len(page) for page in fresh] == [1]


# -- getSchedule ---------------------------------------------------------------------------------


def test_get_schedule_reports_free_busy_per_slot_and_unknown_addresses(http: httpx.Client, me: Mailbox) -> None:
    create(http, me, event_body("Busy", "2026-03-16T17:00:00", "2026-03-16T18:00:00", showAs="busy"))  # 10:00 PDT
    create(http, me, event_body("Maybe", "2026-03-16T19:00:00", "2026-03-16T19:30:00", showAs="tentative"))
    create(http, me, event_body("Free", "2026-03-16T20:00:00", "2026-03-16T21:00:00", showAs="free"))
    request = {
        "schedules": [LOGIN, "nobody@contoso.example"],
        "startTime": {"dateTime": "2026-03-16T09:00:00", "timeZone": "Pacific Standard Time"},
        "endTime": {"dateTime": "2026-03-16T14:00:00", "timeZone": "Pacific Standard Time"},
        "availabilityViewInterval": 60,
    }

    prefer = {"Prefer": 'outlook.timezone="Pacific Standard Time"'}
    response = http.post(me.url("/calendar/getSchedule"), json=request, headers=me.auth | prefer)

    assert response.status_code == 200, response.text
    mine, unknown = response.json()["value"]
    assert mine["scheduleId"] == LOGIN
    assert mine["availabilityView"] == "02010"
    assert [(item["status"], item["start"]["dateTime"]) for item in mine["scheduleItems"]] == [
        ("busy", "2026-03-16T10:00:00.0000000"), ("tentative", "2026-03-16T12:00:00.0000000"),
    ]  # fmt: skip
    assert mine["workingHours"]["startTime"] == "08:00:00.0000000"
    assert unknown["scheduleId"] == "nobody@contoso.example" and "error" in unknown
    too_long = request | {"endTime": {"dateTime": "2026-06-16T14:00:00", "timeZone": "Pacific Standard Time"}}
    refused = http.post(me.url("/calendar/getSchedule"), json=too_long, headers=me.auth)
    graph_error(refused, 400, "ErrorTimeIntervalTooBig")


# -- throttling and faults -----------------------------------------------------------------------


def test_injected_faults_answer_with_graphs_error_bodies_and_retry_after(
    http: httpx.Client, base: str, me: Mailbox
) -> None:
    fault = {"endpoint": "GET /v1.0/me/events", "status": 429, "retry_after": 2.5, "count": 1}
    http.post(f"{base}/_sandbox/faults", json=fault).raise_for_status()
    http.post(f"{base}/_sandbox/faults", json=fault | {"status": 503, "retry_after": None}).raise_for_status()
    http.post(f"{base}/_sandbox/faults", json=fault | {"status": 401, "retry_after": None}).raise_for_status()

    throttled = http.get(me.url("/events"), headers=me.auth)
    unavailable = http.get(me.url("/events"), headers=me.auth)
    rejected = http.get(me.url("/events"), headers=me.auth)

    graph_error(throttled, 429, "TooManyRequests")
    assert throttled.headers["Retry-After"] == "2.5"
    graph_error(unavailable, 503, "ServiceNotAvailable")
    graph_error(rejected, 401, "InvalidAuthenticationToken")
    assert rejected.headers["WWW-Authenticate"].startswith("Bearer ")
    assert http.get(me.url("/events"), headers=me.auth).status_code == 200


def test_a_fifth_concurrent_request_for_a_mailbox_gets_mailbox_concurrency_429(
    http: httpx.Client, base: str, me: Mailbox
) -> None:
    other = connect(http, base, "grace@contoso.example")
    http.post(f"{base}/_sandbox/graph/hold").raise_for_status()
    results: list[int] = []

    def call() -> None:
        with httpx.Client(timeout=10.0) as own:
            results.append(own.get(me.url("/calendars"), headers=me.auth).status_code)

    workers = [threading.Thread(target=call) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 5
        while http.get(me.control("/usage")).json()["in_flight"] < 4:
            assert time.monotonic() < deadline, "the held calls never arrived"
        fifth = http.get(me.url("/calendars"), headers=me.auth)
        other_mailbox = http.get(f"{base}/_sandbox/graph/mailboxes/{other.login}/usage").json()
    finally:
        http.post(f"{base}/_sandbox/graph/release").raise_for_status()
        for worker in workers:
            worker.join(10)

    error = graph_error(fifth, 429, "ApplicationThrottled")
    assert error["message"] == "Application is over its MailboxConcurrency limit."
    assert float(fifth.headers["Retry-After"]) > 0
    assert other_mailbox == {"in_flight": 0, "max_concurrency": 4}
    assert results == [200, 200, 200, 200]
    assert http.get(me.control("/usage")).json()["in_flight"] == 0


# -- control API ---------------------------------------------------------------------------------


def test_seeding_is_deterministic_and_the_truth_lists_what_is_stored(
    http: httpx.Client, base: str, me: Mailbox
) -> None:
    other = connect(http, base, "grace@contoso.example")
    seed = {"count": 6, "seed": 7, "recurring": 2, "all_day": 1}

    first = http.post(me.control("/seed"), json=seed).json()
    second = http.post(other.control("/seed"), json=seed).json()
    truth = http.get(me.control("/events")).json()
    again = http.get(other.control("/events")).json()

    def shape(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (e["subject"], e["start"]["dateTime"], e["originalStartTimeZone"], e["type"], e["isAllDay"]) for e in events
        ]

    assert first["seeded"] == second["seeded"] == 9
    assert shape(truth["events"]) == shape(again["events"])
    assert {e["type"] for e in truth["events"]} == {"singleInstance", "seriesMaster"}
    assert any(e["isAllDay"] for e in truth["events"])
    assert len({e["originalStartTimeZone"] for e in truth["events"]}) >= 3
    now = dt.datetime.now(dt.UTC)
    window = {"startDateTime": (now - dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "endDateTime": (now + dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
    view = http.get(me.url("/calendarView"), params=window | {"$top": "1000"}, headers=me.auth).json()["value"]
    instances = http.get(me.control("/events"), params=window).json()["instances"]
    assert [event["id"] for event in view] == [event["id"] for event in instances]
