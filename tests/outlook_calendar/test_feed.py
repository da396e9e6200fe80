"""Outlook's calendar feed against the Microsoft sandbox over real HTTP.

A `Replica` plays the calendar sync: it stores each page's events, drops its removed ids, keeps
the position, and rebuilds Lineup's events per series key. What it builds must equal the
sandbox's truth for the window (`GET /_sandbox/graph/mailboxes/{login}/events?startDateTime&…`),
read with the same normaliser. The control API plays the user editing their calendar.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from lineup_integrations.calendar.events import CalendarEvent
from lineup_integrations.calendar.feed import (
    CalendarFeed,
    CalendarRef,
    EventPage,
    FeedFactory,
    Payload,
    ResyncRequired,
    Window,
)
from lineup_integrations.core.http import RateLimitTracker, RetryingClient, RetrySettings
from lineup_integrations.outlook_calendar.events import normalize_event
from lineup_integrations.outlook_calendar.feed import OutlookCalendarFeed, open_feed
from lineup_integrations.sandbox import SandboxHandle
from tests.outlook_calendar.conftest import LOGIN
from tests.outlook_calendar.sandbox.graph_wire import PROVIDER, Mailbox, event_body

INTEGRATION = "integration-1"
MARCH = Window(dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC))


FeedOpener = Callable[..., CalendarFeed]


@pytest.fixture
def make_feed(http: httpx.Client, me: Mailbox) -> FeedOpener:
    """`open_feed` as the sync calls it, with retry waits of zero."""

    def build(
        *, page_size: int | None = None, on_unauthorized: Callable[[str], str] = lambda stale: stale
    ) -> CalendarFeed:
        retrying = RetryingClient(
            http, provider=PROVIDER, settings=RetrySettings(backoff_base=0, backoff_max=0, retry_after_max=0)
        )
        factory: FeedFactory = open_feed
        return factory(
            http=retrying, api_base_url=me.base, account_id=me.login, access_token=lambda: me.access_token,
            on_unauthorized=on_unauthorized, quota=RateLimitTracker(daily_budget=10_000), page_size=page_size,
        )  # fmt: skip

    return build


@dataclass
class Replica:
    """What the calendar sync keeps of one calendar: stored payloads by id and the position."""

    feed: CalendarFeed
    calendar: CalendarRef
    window: Window = MARCH
    stored: dict[str, Payload] = field(default_factory=dict)
    position: Mapping[str, Any] | None = None

    def round(self) -> list[EventPage]:
        pages = []
        for page in self.feed.pages(self.calendar, self.position, self.window):
            self.stored.update((event["id"], event) for event in page.events)
            for gone in page.removed:
                self.stored.pop(gone, None)
            self.position = page.position
            pages.append(page)
        return pages

    def built(self) -> dict[str, tuple[CalendarEvent, Payload]]:
        series: dict[str, list[Payload]] = defaultdict(list)
        for payload in self.stored.values():
            series[self.feed.series_key(payload)].append(payload)
        return {
            event.event_id: (event, payload)
            for payloads in series.values()
            for event, payload in self.feed.build_events(
                self.calendar, payloads, self.window, integration_id=INTEGRATION
            )
        }


def control(http: httpx.Client, method: str, url: str, **kwargs: Any) -> Any:
    response = http.request(method, url, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def create(http: httpx.Client, me: Mailbox, body: dict[str, Any]) -> dict[str, Any]:
    return control(http, "POST", me.control("/events"), json=body)


def truth(http: httpx.Client, me: Mailbox, calendar: CalendarRef) -> dict[str, tuple[CalendarEvent, Payload]]:
    """The sandbox's instances in the window, not cancelled, read by the same normaliser."""
    window = {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-04-01T00:00:00Z"}
    instances = control(http, "GET", me.control("/events"), params=window)["instances"]
    return {
        item["id"]: (
            normalize_event(item, integration_id=INTEGRATION, calendar_id=calendar.calendar_id, calendar_zone="UTC"),
            item,
        )
        for item in instances
        if not item["isCancelled"]
    }


def assert_matches_truth(replica: Replica, http: httpx.Client, me: Mailbox) -> dict[str, tuple[CalendarEvent, Payload]]:
    """Built events equal the truth, field by field and in their subject. A stub does not carry its
    occurrence's iCalUId (pitfalls.md §15), so that one field is compared for other events only."""
    built, expected = replica.built(), truth(http, me, replica.calendar)
    assert sorted(built) == sorted(expected)
    for event_id, (event, payload) in built.items():
        true_event, true_payload = expected[event_id]
        assert replace(event, ical_uid=None) == replace(true_event, ical_uid=None), event_id
        assert payload.get("subject") == true_payload["subject"], event_id
        if payload["type"] != "occurrence":
            assert event.ical_uid == true_event.ical_uid
    return built


def weekly_fridays(subject: str = "Weekly hiring sync", **extra: Any) -> dict[str, Any]:
    """09:00–09:30 Pacific on the four Fridays from 6 March 2026 (US daylight saving starts on 8 March)."""
    return event_body(
        subject, "2026-03-06T09:00:00", "2026-03-06T09:30:00", "Pacific Standard Time",
        recurrence={
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["friday"], "firstDayOfWeek": "sunday"},
            "range": {"type": "numbered", "startDate": "2026-03-06", "numberOfOccurrences": 4},
        },
        **extra,
    )  # fmt: skip


def single(day: int, subject: str | None = None, **extra: Any) -> dict[str, Any]:
    return event_body(
        subject or f"Interview {day}", f"2026-03-{day:02}T15:00:00", f"2026-03-{day:02}T16:00:00", **extra
    )


def replica_of(feed: CalendarFeed) -> Replica:
    [calendar] = feed.calendars()
    return Replica(feed, calendar)


def graph_calls(sandbox: SandboxHandle, endpoint: str) -> int:
    return sandbox.state(PROVIDER).requests.count(login=LOGIN, endpoint=endpoint)


# -- the contract ----------------------------------------------------------------------------------


def test_the_feed_is_the_default_calendar_in_utc(http: httpx.Client, me: Mailbox, make_feed: FeedOpener) -> None:
    feed = make_feed()
    default = control(http, "GET", me.url("/calendar"), headers=me.auth)

    assert isinstance(feed, OutlookCalendarFeed)
    assert (feed.provider, feed.window_bound) == ("outlook_calendar", True)
    assert feed.calendars() == [CalendarRef(calendar_id=default["id"], time_zone="UTC", name="Calendar")]


# -- full rounds -----------------------------------------------------------------------------------


def test_a_full_round_in_small_pages_ends_with_a_delta_link(
    http: httpx.Client, me: Mailbox, make_feed: FeedOpener, sandbox_reset: SandboxHandle
) -> None:
    for day in (2, 3, 4, 5, 9):
        create(http, me, single(day))
    create(http, me, weekly_fridays())
    replica = replica_of(make_feed(page_size=3))

    pages = replica.round()

    assert [page.final for page in pages] == [False, False, True]
    assert [list(page.position) for page in pages] == [["nextLink"], ["nextLink"], ["deltaLink"]]
    assert "$deltatoken=" in pages[-1].position["deltaLink"]
    assert all(page.removed == [] for page in pages)
    assert graph_calls(sandbox_reset, "GET /v1.0/me/events/*") == 1  # the series' master, once per round
    assert len(assert_matches_truth(replica, http, me)) == 9


def test_a_round_resumes_from_a_mid_round_position(http: httpx.Client, me: Mailbox, make_feed: FeedOpener) -> None:
    for day in range(2, 9):
        create(http, me, single(day))
    feed = make_feed(page_size=3)
    replica = replica_of(feed)
    first = next(iter(feed.pages(replica.calendar, None, MARCH)))
    replica.stored.update((event["id"], event) for event in first.events)
    replica.position = first.position

    rest = replica.round()

    assert [page.final for page in rest] == [False, True]
    assert len(assert_matches_truth(replica, http, me)) == 7


def test_an_unknown_position_is_refused(make_feed: FeedOpener) -> None:
    feed = make_feed()
    [calendar] = feed.calendars()

    with pytest.raises(ValueError, match="position"):
        next(iter(feed.pages(calendar, {"syncToken": "x"}, MARCH)))


# -- incremental rounds ----------------------------------------------------------------------------


def test_an_incremental_round_reports_created_edited_deleted_and_cancelled_events(
    http: httpx.Client, me: Mailbox, make_feed: FeedOpener
) -> None:
    edited, deleted, cancelled, kept = (create(http, me, single(day)) for day in (2, 3, 4, 5))
    replica = replica_of(make_feed(page_size=2))
    replica.round()

    added = create(http, me, single(10, "Added"))
    control(http, "PATCH", me.control(f"/events/{edited['id']}"), json={"subject": "Moved", "showAs": "free"})
    control(http, "DELETE", me.control(f"/events/{deleted['id']}"))
    control(http, "POST", me.control(f"/events/{cancelled['id']}/cancel"))
    pages = replica.round()

    changed = {event["id"]: event for page in pages for event in page.events}
    assert sorted(changed) == sorted([added["id"], edited["id"]])
    assert sorted(gone for page in pages for gone in page.removed) == sorted([deleted["id"], cancelled["id"]])
    assert pages[-1].final and "deltaLink" in pages[-1].position
    built = assert_matches_truth(replica, http, me)
    assert set(built) == {added["id"], edited["id"], kept["id"]}
    moved, payload = built[edited["id"]]
    assert (moved.busy, payload["subject"]) == (False, "Moved")


def test_an_unchanged_calendar_gives_one_empty_final_page(
    http: httpx.Client, me: Mailbox, make_feed: FeedOpener
) -> None:
    create(http, me, single(2))
    replica = replica_of(make_feed())
    replica.round()

    assert replica.round() == [EventPage([], [], dict(replica.position or {}), final=True)]


def test_an_expired_delta_token_requires_a_full_round(http: httpx.Client, me: Mailbox, make_feed: FeedOpener) -> None:
    create(http, me, single(2))
    replica = replica_of(make_feed())
    replica.round()
    control(http, "POST", me.control("/delta/expire"))

    with pytest.raises(ResyncRequired):
        replica.round()
    replica.position = None
    assert replica.round()[-1].final
    assert len(assert_matches_truth(replica, http, me)) == 1


def test_a_401_during_a_round_refreshes_the_token_once(
    http: httpx.Client, base: str, me: Mailbox, make_feed: FeedOpener
) -> None:
    stale: list[str] = []

    def refresh(old: str) -> str:
        stale.append(old)
        return old  # still valid: the 401 was injected

    create(http, me, single(2))
    feed = make_feed(on_unauthorized=refresh)
    control(http, "POST", f"{base}/_sandbox/faults", json={"endpoint": "GET /v1.0/me/calendarView/*", "status": 401})

    replica = replica_of(feed)
    replica.round()

    assert stale == [me.access_token]
    assert len(assert_matches_truth(replica, http, me)) == 1


def test_throttling_and_unavailability_are_retried_within_a_round(
    http: httpx.Client, base: str, me: Mailbox, make_feed: FeedOpener, sandbox_reset: SandboxHandle
) -> None:
    for day in (2, 3, 4):
        create(http, me, single(day))
    faults = f"{base}/_sandbox/faults"
    control(http, "POST", faults, json={"endpoint": "GET /v1.0/me/calendarView/*", "status": 429, "retry_after": 30})
    control(http, "POST", faults, json={"endpoint": "GET /v1.0/me/calendarView/*", "status": 503})

    replica = replica_of(make_feed(page_size=2))
    assert [page.final for page in replica.round()] == [False, True]

    statuses = [entry.status for entry in sandbox_reset.state(PROVIDER).requests.entries(login=LOGIN)]
    assert statuses == [200, 429, 503, 200, 200]  # the calendar, then the first page twice refused
    assert len(assert_matches_truth(replica, http, me)) == 3


# -- recurring series ------------------------------------------------------------------------------


def test_occurrence_stubs_are_completed_from_their_series_master(
    http: httpx.Client, me: Mailbox, make_feed: FeedOpener
) -> None:
    master = create(http, me, weekly_fridays(showAs="free", location={"displayName": "Room 4"}))
    replica = replica_of(make_feed())
    [page] = replica.round()

    stubs = [event for event in page.events if event["type"] == "occurrence"]
    assert len(stubs) == 4 and all("subject" not in stub for stub in stubs)
    assert [event["id"] for event in page.events if event["type"] == "seriesMaster"] == [master["id"]]
    built = assert_matches_truth(replica, http, me)
    assert {replica.feed.series_key(payload) for _, payload in built.values()} == {master["id"]}
    for event, payload in built.values():
        assert (event.busy, event.series_id) == (False, master["id"])
        assert (payload["subject"], payload["location"]["displayName"]) == ("Weekly hiring sync", "Room 4")
        assert "recurrence" not in payload
    starts = sorted(event.start_utc.isoformat() for event, _ in built.values())
    assert starts == [  # 09:00 Pacific, across the change to daylight saving on 8 March
        "2026-03-06T17:00:00+00:00", "2026-03-13T16:00:00+00:00", "2026-03-20T16:00:00+00:00",
        "2026-03-27T16:00:00+00:00",
    ]  # fmt: skip


def test_an_edited_occurrence_and_a_deleted_one_reach_the_next_round(
    http: httpx.Client, me: Mailbox, make_feed: FeedOpener
) -> None:
    master = create(http, me, weekly_fridays())
    replica = replica_of(make_feed(page_size=2))
    replica.round()
    occurrences = sorted(
        (payload for payload in replica.stored.values() if payload["type"] == "occurrence"),
        key=lambda payload: payload["start"]["dateTime"],
    )

    edit = {"subject": "Moved sync", "showAs": "tentative"}
    control(http, "PATCH", me.control(f"/events/{occurrences[1]['id']}"), json=edit)
    control(http, "DELETE", me.control(f"/events/{occurrences[2]['id']}"))
    pages = replica.round()

    assert [gone for page in pages for gone in page.removed] == [occurrences[2]["id"]]
    built = assert_matches_truth(replica, http, me)
    assert occurrences[2]["id"] not in built and len(built) == 3
    exception, payload = built[occurrences[1]["id"]]
    assert (payload["type"], payload["subject"], exception.status, exception.series_id) == (
        "exception", "Moved sync", "tentative", master["id"],
    )  # fmt: skip


def test_an_edited_series_resends_its_occurrences_with_the_new_master(
    http: httpx.Client, me: Mailbox, make_feed: FeedOpener
) -> None:
    master = create(http, me, weekly_fridays())
    replica = replica_of(make_feed())
    replica.round()

    control(http, "PATCH", me.control(f"/events/{master['id']}"), json={"subject": "Renamed sync"})
    replica.round()

    built = assert_matches_truth(replica, http, me)
    assert {payload["subject"] for _, payload in built.values()} == {"Renamed sync"}


def test_a_deleted_series_leaves_nothing_in_the_window(http: httpx.Client, me: Mailbox, make_feed: FeedOpener) -> None:
    master = create(http, me, weekly_fridays())
    replica = replica_of(make_feed())
    replica.round()

    control(http, "DELETE", me.control(f"/events/{master['id']}"))
    [page] = replica.round()

    assert len(page.removed) == 4
    assert assert_matches_truth(replica, http, me) == {}


def test_a_stub_without_its_master_is_still_a_busy_block(
    http: httpx.Client, me: Mailbox, make_feed: FeedOpener
) -> None:
    create(http, me, weekly_fridays(showAs="free"))
    replica = replica_of(make_feed())
    [page] = replica.round()
    stubs = [event for event in page.events if event["type"] == "occurrence"]

    built = replica.feed.build_events(replica.calendar, stubs, MARCH, integration_id=INTEGRATION)

    assert len(built) == 4
    assert all(event.busy and "subject" not in payload for event, payload in built)


def test_only_events_inside_the_window_are_built(http: httpx.Client, me: Mailbox, make_feed: FeedOpener) -> None:
    create(http, me, weekly_fridays())
    replica = replica_of(make_feed())
    replica.round()
    first_half = Window(MARCH.start, dt.datetime(2026, 3, 15, tzinfo=dt.UTC))
    payloads = list(replica.stored.values())

    built = replica.feed.build_events(replica.calendar, payloads, first_half, integration_id=INTEGRATION)

    assert sorted(event.start_utc.day for event, _ in built) == [6, 13]


# -- all-day events --------------------------------------------------------------------------------


def test_all_day_events_are_dates_in_their_own_zone(http: httpx.Client, me: Mailbox, make_feed: FeedOpener) -> None:
    created = create(
        http, me,
        event_body("Offsite", "2026-03-10T00:00:00", "2026-03-12T00:00:00", "Pacific Standard Time", isAllDay=True),
    )  # fmt: skip
    replica = replica_of(make_feed())
    replica.round()

    built = assert_matches_truth(replica, http, me)
    event, _ = built[created["id"]]
    assert event.all_day
    assert (event.start_utc, event.end_utc) == (  # midnight Pacific daylight time
        dt.datetime(2026, 3, 10, 7, tzinfo=dt.UTC), dt.datetime(2026, 3, 12, 7, tzinfo=dt.UTC),
    )  # fmt: skip
    assert event.start_zone == "Pacific Standard Time"


# -- what Graph documents but the sandbox does not send ----------------------------------------------


def test_empty_pages_and_replayed_items_are_read_as_graph_documents_them() -> None:
    """delta-query-overview.md: an empty page may still carry a nextLink, and one item may appear
    twice in a response (its last appearance wins). Served by an in-memory transport, since the
    sandbox never replays."""
    base = "https://graph.example"
    event = {"id": "A", "type": "singleInstance", "subject": "First"}
    pages = {
        "/v1.0/me/calendar": {"id": "cal", "name": "Calendar"},
        "/v1.0/me/calendarView/delta": {"@odata.nextLink": f"{base}/v1.0/me/calendarView/delta?$skiptoken=1", "value": []},
        "/v1.0/me/calendarView/delta?$skiptoken=1": {
            "@odata.deltaLink": f"{base}/v1.0/me/calendarView/delta?$deltatoken=2",
            "value": [
                event, {"id": "B", "@removed": {"reason": "deleted"}}, event | {"subject": "Second"},
                {"id": "C", "type": "singleInstance"}, {"id": "C", "@removed": {"reason": "deleted"}},
            ],
        },
    }  # fmt: skip

    def serve(request: httpx.Request) -> httpx.Response:
        query = request.url.query.decode()
        key = request.url.path + (f"?{query}" if query.startswith("$") else "")
        return httpx.Response(200, json=pages[key])

    with httpx.Client(transport=httpx.MockTransport(serve)) as client:
        feed = open_feed(
            http=RetryingClient(client, provider=PROVIDER), api_base_url=base, account_id="replays",
            access_token=lambda: "token", on_unauthorized=lambda stale: stale,
            quota=RateLimitTracker(daily_budget=100),
        )  # fmt: skip
        [calendar] = feed.calendars()
        read = list(feed.pages(calendar, None, MARCH))

    assert read[0] == EventPage([], [], {"nextLink": f"{base}/v1.0/me/calendarView/delta?$skiptoken=1"}, final=False)
    assert read[1].events == [event | {"subject": "Second"}]
    assert read[1].removed == ["B", "C"]
    assert read[1].final
