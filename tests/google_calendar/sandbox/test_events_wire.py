"""The Google sandbox's Calendar v3 events API over real HTTP, read by a plain httpx client written
from Google's reference (provider-apis.md §B3–B5): resources, writes, paging, incremental sync, errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.google_calendar.sandbox.conftest import CalendarUser, google_error, timed

GOOGLE_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
QUOTED_ETAG = re.compile(r'^"\d+"$')
TOMBSTONE_KEYS = {"kind", "etag", "id", "status"}


# -- authentication -------------------------------------------------------------------------------


def test_calls_without_a_live_token_get_googles_401_auth_error(user: CalendarUser) -> None:
    missing = user.http.get(f"{user.base}/calendar/v3/calendars/primary/events")
    bogus = user.http.get(f"{user.base}/calendar/v3/calendars/primary/events",
                          headers={"Authorization": "Bearer ya29.not-issued"})  # fmt: skip
    user.http.post(f"{user.base}/_sandbox/tokens/expire", json={"login": user.login}).raise_for_status()
    expired = user.api("GET", "calendars/primary/events")

    for response in (missing, bogus, expired):
        assert response.status_code == 401
        assert google_error(response) == (401, "global", "authError")
        assert response.json()["error"]["errors"][0]["location"] == "Authorization"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_a_calendar_scope_gets_403_insufficient_permissions(
    user_factory: Callable[..., CalendarUser],
) -> None:
    user = user_factory("someone@acme.example", scopes=("openid", "email"))

    response = user.api("GET", "calendars/primary/events")

    assert google_error(response) == (403, "global", "insufficientPermissions")


def test_a_read_only_token_can_list_but_not_write(user_factory: Callable[..., CalendarUser]) -> None:
    user = user_factory(scopes=("https://www.googleapis.com/auth/calendar.readonly",))

    assert user.api("GET", "calendars/primary/events").status_code == 200
    refused = user.api("POST", "calendars/primary/events", json=timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z"))
    assert google_error(refused) == (403, "global", "insufficientPermissions")


# -- calendar list --------------------------------------------------------------------------------


def test_calendar_list_pages_with_the_primary_calendar_first_and_a_sync_token_last(user: CalendarUser) -> None:
    for name in ("Interviews", "Team"):
        assert user.control("POST", "calendars", json={"summary": name, "timeZone": "Europe/Berlin"}).status_code == 201

    first = user.api("GET", "users/me/calendarList", params={"maxResults": 2}).json()
    second = user.api("GET", "users/me/calendarList", params={"maxResults": 2, "pageToken": first["nextPageToken"]})

    assert first["kind"] == "calendar#calendarList" and "nextSyncToken" not in first
    primary = first["items"][0]
    assert primary["id"] == user.login and primary["primary"] is True and primary["accessRole"] == "owner"
    rest = second.json()
    assert "nextPageToken" not in rest and rest["nextSyncToken"]
    summaries = [entry["summary"] for entry in first["items"] + rest["items"]]
    assert summaries == [user.login, "Interviews", "Team"]
    assert all(entry["id"].endswith("@group.calendar.google.com") for entry in first["items"][1:] + rest["items"])


# -- insert and the event resource ----------------------------------------------------------------


def test_insert_returns_the_event_resource_as_google_renders_it(user: CalendarUser) -> None:
    body = timed("2026-07-24T19:00:00Z", "2026-07-24T20:00:00Z", "America/Chicago", summary="Interview: Ada",
                 description="Round 1", location="Zoom",
                 attendees=[{"email": user.login}, {"email": "ada@example.com", "optional": True}],
                 extendedProperties={"private": {"lineupId": "42"}, "shared": {"kind": "interview"}})  # fmt: skip

    event = user.insert(body)

    assert re.fullmatch(r"[a-v0-9]{26}", event["id"])
    assert event["kind"] == "calendar#event" and event["status"] == "confirmed"
    assert QUOTED_ETAG.match(event["etag"])
    assert GOOGLE_TIMESTAMP.match(event["created"]) and GOOGLE_TIMESTAMP.match(event["updated"])
    assert event["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    assert event["iCalUID"] == f"{event['id']}@google.com" and event["sequence"] == 0
    assert event["creator"] == {"email": user.login, "self": True}
    assert event["organizer"] == {"email": user.login, "self": True}
    # Rendered with the offset of the event's own zone.
    assert event["start"] == {"dateTime": "2026-07-24T14:00:00-05:00", "timeZone": "America/Chicago"}
    assert event["end"] == {"dateTime": "2026-07-24T15:00:00-05:00", "timeZone": "America/Chicago"}
    assert event["attendees"] == [
        {"email": user.login, "responseStatus": "needsAction", "organizer": True, "self": True},
        {"email": "ada@example.com", "optional": True, "responseStatus": "needsAction"},
    ]
    assert event["extendedProperties"] == body["extendedProperties"]
    assert event["reminders"] == {"useDefault": True} and event["eventType"] == "default"
    assert "transparency" not in event and "visibility" not in event  # Google leaves defaults out
    assert user.api("GET", f"calendars/primary/events/{event['id']}").json() == event


def test_insert_honours_a_base32hex_client_id_and_answers_409_for_a_taken_one(user: CalendarUser) -> None:
    body = timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", id="lineup0int0042")

    assert user.insert(body)["id"] == "lineup0int0042"
    again = user.api("POST", "calendars/primary/events", json=body)
    assert google_error(again) == (409, "global", "duplicate")
    for bad in ("UPPER0case", "abcd", "has-dash-00", "wxyz0"):  # outside [a-v0-9]{5,1024}
        refused = user.api("POST", "calendars/primary/events", json=body | {"id": bad})
        assert google_error(refused) == (400, "global", "invalid"), bad


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"start": {"dateTime": "2026-12-08T10:00:00Z"}}, "required"),  # no end
        (timed("2026-12-08T11:00:00Z", "2026-12-08T10:00:00Z"), "timeRangeEmpty"),
        (timed("2026-12-08T10:00:00", "2026-12-08T11:00:00"), "required"),  # no offset, no timeZone
        ({"start": {"date": "2026-12-08"}, "end": {"dateTime": "2026-12-08T11:00:00Z"}}, "invalid"),
        ({"start": {"date": "2026-12-08"}, "end": {"date": "2026-12-08"}}, "timeRangeEmpty"),  # end is exclusive
        (timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", recurrence=["RRULE:FREQ=DAILY"]), "required"),
        (
            timed("2026-12-08T10:00:00", "2026-12-08T11:00:00", "Europe/Paris", recurrence=["RRULE:FREQ=SOMETIMES"]),
            "invalid",
        ),
        (timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", status="postponed"), "invalid"),
        (timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", attendees=[{"displayName": "No mail"}]), "required"),
        (
            timed(
                "2026-12-08T10:00:00Z",
                "2026-12-08T11:00:00Z",
                reminders={"useDefault": True, "overrides": [{"method": "popup", "minutes": 5}]},
            ),
            "cannotUseDefaultRemindersAndSpecifyOverride",
        ),
    ],
)
def test_insert_refuses_what_google_refuses(user: CalendarUser, body: dict[str, object], reason: str) -> None:
    response = user.api("POST", "calendars/primary/events", json=body)

    assert response.status_code == 400
    assert google_error(response)[2] == reason
    assert user.truth() == []


def test_a_value_with_an_offset_but_no_zone_is_rendered_in_the_calendars_zone(user: CalendarUser) -> None:
    user.control("PATCH", "calendars/primary", json={"timeZone": "Asia/Kolkata"}).raise_for_status()

    event = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z"))

    assert event["start"] == {"dateTime": "2026-12-08T15:30:00+05:30"}


# -- patch, update, If-Match, delete --------------------------------------------------------------


def test_patch_merges_fields_and_every_write_gets_a_new_etag(user: CalendarUser) -> None:
    event = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", summary="Screen", location="Zoom",
                              extendedProperties={"private": {"a": "1", "b": "2"}}))  # fmt: skip

    patched = user.api("PATCH", f"calendars/primary/events/{event['id']}", params={"sendUpdates": "none"},
                       json={"summary": "Onsite", "extendedProperties": {"private": {"b": "3"}}}).json()  # fmt: skip

    assert patched["summary"] == "Onsite" and patched["location"] == "Zoom"
    assert patched["extendedProperties"] == {"private": {"a": "1", "b": "3"}}
    assert patched["etag"] != event["etag"] and patched["updated"] >= event["updated"]
    assert patched["sequence"] == event["sequence"]  # the time did not move
    moved = user.api(
        "PATCH",
        f"calendars/primary/events/{event['id']}",
        json={"start": {"dateTime": "2026-12-08T12:00:00Z"}, "end": {"dateTime": "2026-12-08T13:00:00Z"}},
    )
    assert moved.json()["sequence"] == event["sequence"] + 1
    assert moved.json()["etag"] not in (event["etag"], patched["etag"])


def test_update_replaces_the_whole_event(user: CalendarUser) -> None:
    event = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", summary="Screen", location="Zoom"))

    updated = user.api("PUT", f"calendars/primary/events/{event['id']}",
                       json=timed("2026-12-09T10:00:00Z", "2026-12-09T11:00:00Z", summary="Onsite")).json()  # fmt: skip

    assert updated["id"] == event["id"] and updated["created"] == event["created"]
    assert updated["summary"] == "Onsite" and "location" not in updated
    assert updated["start"] == {"dateTime": "2026-12-09T10:00:00Z"}


def test_if_match_with_a_stale_etag_is_412_and_with_the_current_one_writes(user: CalendarUser) -> None:
    event = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", summary="v1"))
    user.control("PATCH", f"calendars/primary/events/{event['id']}", json={"summary": "edited in the UI"})

    stale = user.api("PATCH", f"calendars/primary/events/{event['id']}", json={"summary": "v2"},
                     headers={"If-Match": event["etag"]})  # fmt: skip
    current = user.api("GET", f"calendars/primary/events/{event['id']}").json()
    fresh = user.api("PATCH", f"calendars/primary/events/{event['id']}", json={"summary": "v2"},
                     headers={"If-Match": current["etag"]})  # fmt: skip

    assert google_error(stale) == (412, "global", "conditionNotMet")
    assert stale.json()["error"]["errors"][0]["location"] == "If-Match"
    assert current["summary"] == "edited in the UI"
    assert fresh.status_code == 200 and fresh.json()["summary"] == "v2"
    stale_put = user.api("PUT", f"calendars/primary/events/{event['id']}", headers={"If-Match": current["etag"]},
                         json=timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z"))  # fmt: skip
    assert stale_put.status_code == 412


def test_get_with_the_current_etag_in_if_none_match_is_304(user: CalendarUser) -> None:
    event = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z"))

    response = user.api("GET", f"calendars/primary/events/{event['id']}", headers={"If-None-Match": event["etag"]})

    assert response.status_code == 304 and response.content == b""


def test_delete_is_204_then_the_event_is_cancelled_its_id_taken_and_a_second_delete_410(user: CalendarUser) -> None:
    event = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", id="deleteme00"))

    deleted = user.api("DELETE", "calendars/primary/events/deleteme00", params={"sendUpdates": "all"})
    shown = user.api("GET", "calendars/primary/events/deleteme00").json()
    again = user.api("DELETE", "calendars/primary/events/deleteme00")
    reinsert = user.api("POST", "calendars/primary/events", json=timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z",
                                                                          id="deleteme00"))  # fmt: skip

    assert deleted.status_code == 204 and deleted.content == b""
    assert shown["status"] == "cancelled" and shown["etag"] != event["etag"]
    assert google_error(again) == (410, "global", "deleted")
    assert google_error(reinsert) == (409, "global", "duplicate")
    assert user.api("GET", "calendars/primary/events").json()["items"] == []  # not listed without showDeleted
    listed = user.api("GET", "calendars/primary/events", params={"showDeleted": "true"}).json()["items"]
    assert listed == [{"kind": "calendar#event", "etag": shown["etag"], "id": "deleteme00", "status": "cancelled"}]


def test_unknown_events_and_calendars_are_404_not_found(user: CalendarUser) -> None:
    for path in ("calendars/primary/events/nosuchevent0", "calendars/nobody@example.com/events"):
        assert google_error(user.api("GET", path)) == (404, "global", "notFound")
    patch = user.api("PATCH", "calendars/primary/events/nosuchevent0", json={"summary": "x"})
    assert google_error(patch) == (404, "global", "notFound")


# -- list, pages, sync ------------------------------------------------------------------------------


def test_pages_carry_next_page_token_and_only_the_last_a_sync_token(user: CalendarUser) -> None:
    user.control("POST", "seed", json={"count": 7, "seed": 3, "recurring_share": 0}).raise_for_status()

    pages = []
    page_token = None
    while True:
        params = {"maxResults": 3} | ({"pageToken": page_token} if page_token else {})
        pages.append(user.api("GET", "calendars/primary/events", params=params).json())
        page_token = pages[-1].get("nextPageToken")
        if page_token is None:
            break

    assert [len(page["items"]) for page in pages] == [3, 3, 1]
    assert all("nextSyncToken" not in page for page in pages[:-1]) and pages[-1]["nextSyncToken"]
    assert all(page["kind"] == "calendar#events" and page["accessRole"] == "owner" for page in pages)
    listed = [item["id"] for page in pages for item in page["items"]]
    assert sorted(listed) == sorted(event["id"] for event in user.truth())
    # A page token can be replayed (a client retrying a failed page gets the same page).
    replay = user.api("GET", "calendars/primary/events",
                      params={"maxResults": 3, "pageToken": pages[0]["nextPageToken"]})  # fmt: skip
    assert replay.json()["items"] == pages[1]["items"]


def test_max_results_defaults_to_250_and_never_exceeds_2500(user: CalendarUser) -> None:
    user.control("POST", "seed", json={"count": 2501, "seed": 1, "recurring_share": 0}).raise_for_status()

    default = user.api("GET", "calendars/primary/events").json()
    largest = user.api("GET", "calendars/primary/events", params={"maxResults": 5000}).json()

    assert len(default["items"]) == 250 and "nextPageToken" in default
    assert len(largest["items"]) == 2500 and "nextPageToken" in largest
    assert google_error(user.api("GET", "calendars/primary/events", params={"maxResults": 0}))[2] == "invalid"


def test_a_page_token_belongs_to_its_query(user: CalendarUser) -> None:
    user.control("POST", "seed", json={"count": 4, "seed": 3}).raise_for_status()
    first = user.api("GET", "calendars/primary/events", params={"maxResults": 2}).json()

    changed = {"maxResults": 2, "pageToken": first["nextPageToken"], "showDeleted": "true"}
    other_query = user.api("GET", "calendars/primary/events", params=changed)
    made_up = user.api("GET", "calendars/primary/events", params={"pageToken": "CnotAToken"})

    assert google_error(other_query) == (400, "global", "invalid")
    assert google_error(made_up) == (400, "global", "invalid")


def test_incremental_sync_returns_every_change_since_with_deletions_as_tombstones(user: CalendarUser) -> None:
    user.control("POST", "seed", json={"count": 5, "seed": 8, "recurring_share": 0}).raise_for_status()
    full, sync_token = user.list_all()
    kept, edited, removed = full[0], full[1], full[2]

    user.control("PATCH", f"calendars/primary/events/{edited['id']}", json={"summary": "Moved by the recruiter"})
    assert user.api("DELETE", f"calendars/primary/events/{removed['id']}").status_code == 204
    added = user.insert(timed("2026-12-10T09:00:00Z", "2026-12-10T10:00:00Z", summary="New"))
    changes, next_token = user.list_all(syncToken=sync_token)

    by_id = {item["id"]: item for item in changes}
    assert set(by_id) == {edited["id"], removed["id"], added["id"]} and kept["id"] not in by_id
    assert by_id[edited["id"]]["summary"] == "Moved by the recruiter"
    assert by_id[edited["id"]]["etag"] != edited["etag"]
    assert set(by_id[removed["id"]]) == TOMBSTONE_KEYS and by_id[removed["id"]]["status"] == "cancelled"
    assert next_token != sync_token
    assert user.list_all(syncToken=next_token)[0] == []  # nothing changed since


def test_writes_while_a_full_sync_pages_reach_the_next_incremental_sync(user: CalendarUser) -> None:
    user.control("POST", "seed", json={"count": 4, "seed": 2, "recurring_share": 0}).raise_for_status()
    first = user.api("GET", "calendars/primary/events", params={"maxResults": 2}).json()
    late = user.insert(timed("2026-12-10T09:00:00Z", "2026-12-10T10:00:00Z", summary="Written mid-sync"))

    rest = user.api("GET", "calendars/primary/events", params={"maxResults": 2, "pageToken": first["nextPageToken"]})
    changes, _ = user.list_all(syncToken=rest.json()["nextSyncToken"])

    snapshot = [item["id"] for item in first["items"] + rest.json()["items"]]
    assert late["id"] not in snapshot and len(snapshot) == 4  # the pages are one consistent snapshot
    assert [item["id"] for item in changes] == [late["id"]]


def test_expired_or_unknown_sync_tokens_answer_410_full_sync_required(user: CalendarUser) -> None:
    user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z"))
    _, sync_token = user.list_all()
    assert user.api("GET", "calendars/primary/events", params={"syncToken": sync_token}).status_code == 200

    expired = user.control("POST", "sync-tokens/expire").json()
    stale = user.api("GET", "calendars/primary/events", params={"syncToken": sync_token})
    unknown = user.api("GET", "calendars/primary/events", params={"syncToken": "CPDAlvWDx70CEPDAlvWDx70CGAU="})

    assert expired["expired"] >= 1
    message = "Sync token is no longer valid, a full sync is required."
    for response in (stale, unknown):
        assert response.json() == {"error": {
            "errors": [{"domain": "calendar", "reason": "fullSyncRequired", "message": message,
                        "locationType": "parameter", "location": "syncToken"}],
            "code": 410, "message": message,
        }}  # fmt: skip
    # A new full sync gets a token that works.
    _, fresh = user.list_all()
    assert user.api("GET", "calendars/primary/events", params={"syncToken": fresh}).status_code == 200


@pytest.mark.parametrize(
    "conflict",
    [
        {"timeMin": "2026-12-01T00:00:00Z"},
        {"timeMax": "2026-12-01T00:00:00Z"},
        {"orderBy": "updated"},
        {"q": "interview"},
        {"iCalUID": "x@google.com"},
        {"updatedMin": "2026-12-01T00:00:00Z"},
        {"privateExtendedProperty": "a=1"},
        {"sharedExtendedProperty": "a=1"},
        {"showDeleted": "false"},
    ],
)
def test_a_sync_token_with_a_parameter_google_forbids_beside_it_is_400(
    user: CalendarUser, conflict: dict[str, str]
) -> None:
    _, sync_token = user.list_all()

    response = user.api("GET", "calendars/primary/events", params={"syncToken": sync_token} | conflict)

    assert google_error(response) == (400, "global", "invalid")
    assert response.json()["error"]["errors"][0]["location"] == next(iter(conflict))


def test_filtered_lists_end_without_a_sync_token(user: CalendarUser) -> None:
    user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", summary="Interview"))

    ordered = user.api("GET", "calendars/primary/events", params={"orderBy": "updated"}).json()
    windowed = user.api("GET", "calendars/primary/events", params={"timeMin": "2026-12-01T00:00:00Z"}).json()

    assert "nextSyncToken" not in ordered and len(ordered["items"]) == 1
    assert windowed["nextSyncToken"]


def test_order_by_start_time_needs_single_events(user: CalendarUser) -> None:
    response = user.api("GET", "calendars/primary/events", params={"orderBy": "startTime"})

    assert google_error(response) == (400, "global", "invalid")
    assert response.json()["error"]["message"] == "The requested ordering is not available for the particular query."
    bad_enum = user.api("GET", "calendars/primary/events", params={"orderBy": "summary"})
    assert google_error(bad_enum)[2] == "invalid"


def test_time_bounds_need_an_offset_and_a_non_empty_range(user: CalendarUser) -> None:
    empty = user.api("GET", "calendars/primary/events",
                     params={"timeMin": "2026-12-02T00:00:00Z", "timeMax": "2026-12-01T00:00:00Z"})  # fmt: skip
    no_offset = user.api("GET", "calendars/primary/events", params={"timeMin": "2026-12-02T00:00:00"})

    assert google_error(empty) == (400, "calendar", "timeRangeEmpty")
    assert no_offset.status_code == 400


def test_time_min_bounds_the_end_and_time_max_the_start_both_exclusive(user: CalendarUser) -> None:
    morning = user.insert(timed("2026-12-08T09:00:00Z", "2026-12-08T10:00:00Z", summary="morning"))
    noon = user.insert(timed("2026-12-08T12:00:00Z", "2026-12-08T13:00:00Z", summary="noon"))
    holiday = user.insert({"start": {"date": "2026-12-09"}, "end": {"date": "2026-12-10"}, "summary": "holiday"})

    def window(time_min: str, time_max: str) -> list[str]:
        params = {"timeMin": time_min, "timeMax": time_max}
        return [item["summary"] for item in user.api("GET", "calendars/primary/events", params=params).json()["items"]]

    assert window("2026-12-08T10:00:00Z", "2026-12-08T12:00:00Z") == []  # ends at timeMin, starts at timeMax
    assert window("2026-12-08T09:59:00Z", "2026-12-08T12:01:00Z") == ["morning", "noon"]
    assert window("2026-12-10T00:00:00Z", "2026-12-11T00:00:00Z") == []  # the all-day end date is exclusive
    assert window("2026-12-09T23:00:00Z", "2026-12-10T00:00:00Z") == ["holiday"]
    assert {morning["id"], noon["id"], holiday["id"]} == {e["id"] for e in user.truth()}


def test_list_filters_ical_uid_extended_properties_text_and_updated_min(user: CalendarUser) -> None:
    ours = user.insert(timed("2026-12-08T09:00:00Z", "2026-12-08T10:00:00Z", summary="Interview: Grace",
                             extendedProperties={"private": {"lineupInterviewId": "7"}}))  # fmt: skip
    user.http.post(f"{user.base}/_sandbox/clock/advance", json={"seconds": 5}).raise_for_status()
    other = user.insert(timed("2026-12-08T11:00:00Z", "2026-12-08T12:00:00Z", summary="Lunch"))

    def ids(**params: str) -> list[str]:
        return [item["id"] for item in user.api("GET", "calendars/primary/events", params=params).json()["items"]]

    assert ids(iCalUID=ours["iCalUID"]) == [ours["id"]]
    assert ids(privateExtendedProperty="lineupInterviewId=7") == [ours["id"]]
    assert ids(privateExtendedProperty="lineupInterviewId=8") == []
    assert ids(q="grace") == [ours["id"]]
    assert ids(updatedMin=other["updated"]) == [other["id"]]
    user.api("DELETE", f"calendars/primary/events/{other['id']}")
    assert ids(updatedMin=other["updated"]) == [other["id"]]  # deletions since updatedMin list without showDeleted


def test_time_zone_renders_times_in_the_asked_zone_and_max_attendees_trims(user: CalendarUser) -> None:
    guests = [{"email": f"guest{n}@example.com"} for n in range(3)]
    event = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", attendees=guests))

    listed = user.api("GET", "calendars/primary/events", params={"timeZone": "Asia/Tokyo", "maxAttendees": 2}).json()
    unknown_zone = user.api("GET", "calendars/primary/events", params={"timeZone": "Mars/Olympus"})

    assert listed["timeZone"] == "Asia/Tokyo"
    (item,) = listed["items"]
    assert item["id"] == event["id"] and item["start"] == {"dateTime": "2026-12-08T19:00:00+09:00"}
    assert len(item["attendees"]) == 2 and item["attendeesOmitted"] is True
    assert google_error(unknown_zone) == (400, "global", "invalid")


def test_calendar_list_sync_token_returns_calendars_changed_since(user: CalendarUser) -> None:
    first = user.api("GET", "users/me/calendarList").json()
    added = user.control("POST", "calendars", json={"summary": "Panels", "timeZone": "Europe/London"}).json()

    changes = user.api("GET", "users/me/calendarList", params={"syncToken": first["nextSyncToken"]}).json()
    expired = user.control("POST", "sync-tokens/expire").json()
    gone = user.api("GET", "users/me/calendarList", params={"syncToken": changes["nextSyncToken"]})

    assert [entry["id"] for entry in changes["items"]] == [added["id"]]
    assert expired["expired"] >= 1 and google_error(gone) == (410, "calendar", "fullSyncRequired")
