"""`POST /api/v1/availability` over calendars synced from the sandboxes: the slots equal a brute force
over the providers' own truth; users without a calendar are named; bad requests are 422."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lineup_integrations.calendar.availability import WorkingHours
from lineup_integrations.calendar.busy import refresh_busy_blocks
from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import Store
from lineup_integrations.sandbox import SandboxHandle
from tests.calendar.accounts import CalendarAccount, accounts_sync, only
from tests.calendar.test_availability import brute_force
from tests.gateway.flows import bearer

URL = "/api/v1/availability"
NOWHERE = "http://127.0.0.1:9/graphql"
Factory = Callable[..., CalendarAccount]


def test_slots_of_a_panel_on_both_calendars_equal_the_brute_force_over_the_providers_truth(
    store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory,
    make_gateway: Callable[[str], TestClient],
) -> None:  # fmt: skip
    ana, bob = account_factory("google_calendar", "ana"), account_factory("outlook_calendar", "bob")
    monday = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= dt.timedelta(days=monday.weekday())
    for day in range(5):
        ana.create("Ana busy", monday + dt.timedelta(days=day, hours=8, minutes=15 * day), 90, zone="Europe/Paris")
        bob.create("Bob busy", monday + dt.timedelta(days=day, hours=13), 60 + 15 * day, zone="America/New_York")
    ana.create_weekly("Ana weekly", monday + dt.timedelta(hours=12), zone="Europe/Paris")
    for provider in ("google_calendar", "outlook_calendar"):
        only(accounts_sync(store, calendar_engine, sandbox_reset, provider).sync("acme"))
    refresh_busy_blocks(store, "acme")
    start, end = monday, monday + dt.timedelta(days=14)
    hours = {"ana": WorkingHours("Europe/Paris", frozenset({1, 2, 3, 4, 5}), dt.time(9), dt.time(17)),
             "bob": WorkingHours("America/New_York", frozenset({1, 2, 3, 4}), dt.time(8), dt.time(16, 30))}  # fmt: skip
    body = {
        "userIds": ["ana", "bob", "carol"], "start": start.isoformat(), "end": end.isoformat(),
        "durationMinutes": 60, "bufferBeforeMinutes": 15, "bufferAfterMinutes": 10, "slotStepMinutes": 30,
        "workingHours": {user: {"timeZone": h.time_zone, "days": sorted(h.weekdays), "start": h.start.isoformat(),
                                "end": h.end.isoformat()} for user, h in hours.items()},
    }  # fmt: skip

    response = make_gateway(NOWHERE).post(URL, json=body, headers=bearer("acme"))

    assert response.status_code == 200, response.text
    answer = response.json()
    window = accounts_sync(store, calendar_engine, sandbox_reset, "google_calendar").settings.window(start)
    truth = [
        ([(s, e) for _, s, e in ana.truth(window)], hours["ana"]),
        ([(s, e) for _, s, e in bob.truth(window)], hours["bob"]),
    ]
    expected = brute_force(truth, dt.timedelta(minutes=60), dt.timedelta(minutes=30), dt.timedelta(minutes=15),
                           dt.timedelta(minutes=10), start=start, end=end)  # fmt: skip
    assert [(_utc(s["start"]), _utc(s["end"])) for s in answer["slots"]] == expected and expected
    assert answer["usersWithoutCalendar"] == ["carol"]
    assert {u["userId"]: (u["providers"], u["stale"]) for u in answer["users"]} == {
        "ana": (["google_calendar"], False), "bob": (["outlook_calendar"], False)}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": "2026-01-01T00:00:00Z"}, "end must be after start"),
        ({"end": "2026-06-01T00:00:00Z"}, "62 days"),
        ({"durationMinutes": 0}, "durationMinutes"),
        ({"userIds": []}, "userIds"),
        ({"userIds": ["not a user"]}, "not a Lineup user id"),
        ({"workingHours": {"zed": {"timeZone": "UTC", "start": "09:00", "end": "17:00"}}}, "zed"),
        ({"workingHours": {"ana": {"timeZone": "Mars/Olympus", "start": "09:00", "end": "17:00"}}}, "Mars/Olympus"),
        ({"workingHours": {"ana": {"timeZone": "UTC", "days": [0], "start": "09:00", "end": "17:00"}}}, "weekdays"),
    ],
)
def test_a_bad_request_is_a_422_naming_what_is_wrong(
    change: dict[str, Any], field: str, make_gateway: Callable[[str], TestClient]
) -> None:
    body = {"userIds": ["ana"], "start": "2026-03-02T00:00:00Z", "end": "2026-03-09T00:00:00Z",
            "durationMinutes": 30} | change  # fmt: skip
    response = make_gateway(NOWHERE).post(URL, json=body, headers=bearer("acme"))
    assert response.status_code == 422 and field in response.text


def test_live_availability_is_refused_until_it_exists(make_gateway: Callable[[str], TestClient]) -> None:
    body = {"userIds": ["ana"], "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z",
            "durationMinutes": 30, "live": True}  # fmt: skip
    response = make_gateway(NOWHERE).post(URL, json=body, headers=bearer("acme"))
    assert response.status_code == 501 and response.json()["error"]["field"] == "live"


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)
