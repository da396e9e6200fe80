"""The Calendar control API of the Google sandbox (seeding, user edits, the truth, sync-token expiry)
and the kit's fault injection rendered as Google's error bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.google_calendar.sandbox.conftest import CalendarUser, google_error, timed

EVENTS = "GET /calendar/v3/calendars/*/events"


def add_fault(user: CalendarUser, **fault: Any) -> None:
    user.http.post(f"{user.base}/_sandbox/faults", json={"endpoint": EVENTS, "login": user.login} | fault
                   ).raise_for_status()  # fmt: skip


@pytest.mark.parametrize(
    ("status", "reason", "domain"),
    [(403, "rateLimitExceeded", "usageLimits"), (429, "rateLimitExceeded", "usageLimits"),
     (410, "fullSyncRequired", "calendar"), (500, "backendError", "global"), (503, "backendError", "global")],
)  # fmt: skip
def test_injected_faults_answer_googles_error_bodies(user: CalendarUser, status: int, reason: str, domain: str) -> None:
    add_fault(user, status=status)

    faulted = user.api("GET", "calendars/primary/events")
    after = user.api("GET", "calendars/primary/events")

    assert google_error(faulted) == (status, domain, reason)
    assert "Retry-After" not in faulted.headers  # Google documents none
    assert after.status_code == 200  # the fault hit one request


def test_the_403_reason_is_switchable_to_user_rate_limit_or_quota(user: CalendarUser) -> None:
    for reason in ("userRateLimitExceeded", "quotaExceeded"):
        config = user.http.post(f"{user.base}/_sandbox/calendar/config", json={"forbidden_reason": reason})
        assert config.json()["forbidden_reason"] == reason
        add_fault(user, status=403)

        assert google_error(user.api("GET", "calendars/primary/events")) == (403, "usageLimits", reason)


def test_seeding_is_deterministic_and_covers_series_all_day_events_and_many_zones(
    user: CalendarUser, user_factory: Callable[..., CalendarUser]
) -> None:
    twin = user_factory("twin@acme.example")
    seed = {"count": 40, "seed": 11, "anchor": "2026-12-07"}

    assert user.control("POST", "seed", json=seed).json()["seeded"] == 40
    twin.control("POST", "seed", json=seed).raise_for_status()
    other = user_factory("other@acme.example")
    other.control("POST", "seed", json=seed | {"seed": 12}).raise_for_status()

    def shape(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(e["id"], e.get("summary"), e["start"], e["end"], e.get("recurrence")) for e in items]

    events = user.truth()
    assert shape(events) == shape(twin.truth())
    assert shape(events) != shape(other.truth())
    assert any("recurrence" in e for e in events) and any("date" in e["start"] for e in events)
    assert len({e["start"].get("timeZone") for e in events if "dateTime" in e["start"]}) >= 4
    assert all(e["end"]["date"] > e["start"]["date"] for e in events if "date" in e["start"])
    listed, _ = user.list_all()
    assert sorted(e["id"] for e in listed) == sorted(e["id"] for e in events)


def test_control_edits_act_like_a_user_bumping_etag_and_updated(user: CalendarUser) -> None:
    event = user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", summary="Screen"))
    user.http.post(f"{user.base}/_sandbox/clock/advance", json={"seconds": 60}).raise_for_status()

    edited = user.control("PATCH", f"calendars/primary/events/{event['id']}", json={"location": "Room 1"}).json()
    deleted = user.control("DELETE", f"calendars/primary/events/{event['id']}")

    assert edited["location"] == "Room 1" and edited["etag"] != event["etag"] and edited["updated"] > event["updated"]
    assert deleted.json() == {"id": event["id"], "status": "cancelled"}
    (truth,) = user.truth()
    assert truth["status"] == "cancelled" and truth["summary"] == "Screen"  # the truth keeps the whole event
    assert user.api("GET", f"calendars/primary/events/{event['id']}").json()["status"] == "cancelled"


def test_control_writes_answer_googles_errors(user: CalendarUser) -> None:
    refused = user.control("POST", "calendars/primary/events", json={"summary": "no times"})
    missing = user.control("PATCH", "calendars/primary/events/nosuchevent0", json={"summary": "x"})
    nobody = user.http.get(f"{user.base}/_sandbox/calendar/accounts/nobody@acme.example/calendars")

    assert google_error(refused) == (400, "global", "required")
    assert google_error(missing) == (404, "global", "notFound")
    assert nobody.status_code == 404


def test_a_secondary_calendar_is_reachable_by_its_id(user: CalendarUser) -> None:
    entry = user.control("POST", "calendars", json={"summary": "Interviews", "timeZone": "Asia/Tokyo"}).json()
    created = user.control("POST", f"calendars/{entry['id']}/events",
                           json=timed("2026-12-08T01:00:00Z", "2026-12-08T02:00:00Z", summary="Panel"))  # fmt: skip

    listed = user.api("GET", f"calendars/{quote(entry['id'])}/events").json()

    assert created.status_code == 201
    assert listed["summary"] == "Interviews" and listed["timeZone"] == "Asia/Tokyo"
    (item,) = listed["items"]
    assert item["start"] == {"dateTime": "2026-12-08T10:00:00+09:00"}
    assert item["organizer"] == {"email": entry["id"], "displayName": "Interviews", "self": True}
    assert user.api("GET", "calendars/primary/events").json()["items"] == []


def test_a_reset_empties_every_calendar(user: CalendarUser) -> None:
    user.insert(timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z"))

    user.http.post(f"{user.base}/_sandbox/reset").raise_for_status()
    user.http.post(f"{user.base}/_sandbox/accounts", json={"login": user.login}).raise_for_status()

    assert user.truth() == []
    assert user.api("GET", "calendars/primary/events").status_code == 401  # the old token is gone too
