"""The Google Calendar client against the Google sandbox over real HTTP: Google's error bodies
become typed errors, transient ones are retried, a 401 refreshes the token once, paging and sync
tokens follow Google's rules. Also the helpers the feed and expansion tests share (their fixtures: conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from lineup_integrations.core.http import (
    ApiError,
    AuthenticationError,
    AuthorizedApi,
    QuotaExhaustedError,
    RateLimitedError,
    RateLimitTracker,
    RetryableServerError,
    RetryingClient,
    ScopeError,
)
from lineup_integrations.google_calendar.client import (
    GoogleCalendarClient,
    SyncTokenExpiredError,
    classify_google_error,
)
from tests.conftest import SleepRecorder
from tests.google_calendar.conftest import LOGIN
from tests.google_calendar.sandbox.conftest import PROVIDER, CalendarUser, timed

EVENTS = "GET /calendar/v3/calendars/*/events"


def authorized_api(
    user: CalendarUser, http: RetryingClient, on_unauthorized: Callable[[str], str] | None = None
) -> AuthorizedApi:
    return AuthorizedApi(
        http, base_url=user.base, access_token=lambda: user.access_token, on_unauthorized=on_unauthorized,
        quota=RateLimitTracker(daily_budget=10_000), classify=classify_google_error,
    )  # fmt: skip


def add_fault(user: CalendarUser, *, endpoint: str = EVENTS, **fault: Any) -> None:
    response = user.http.post(f"{user.base}/_sandbox/faults", json={"endpoint": endpoint, "login": user.login} | fault)
    response.raise_for_status()


# -- the error hook -----------------------------------------------------------------------------------


def google_response(status: int, reason: str, domain: str = "global") -> httpx.Response:
    body = {"error": {"errors": [{"domain": domain, "reason": reason, "message": f"{reason} text"}],
                      "code": status, "message": f"{reason} text"}}  # fmt: skip
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("status", "reason", "error_type", "retryable"),
    [
        (401, "authError", AuthenticationError, False),
        (403, "rateLimitExceeded", RateLimitedError, True),
        (403, "userRateLimitExceeded", RateLimitedError, True),
        (429, "rateLimitExceeded", RateLimitedError, True),
        (403, "quotaExceeded", QuotaExhaustedError, False),
        (403, "insufficientPermissions", ScopeError, False),
        (403, "forbiddenForNonOrganizer", ScopeError, False),
        (410, "fullSyncRequired", SyncTokenExpiredError, False),
        (410, "updatedMinTooLongAgo", SyncTokenExpiredError, False),
        (500, "backendError", RetryableServerError, True),
        (503, "backendError", RetryableServerError, True),
    ],
)
def test_googles_error_bodies_become_typed_errors_coded_by_reason(
    status: int, reason: str, error_type: type[ApiError], retryable: bool
) -> None:
    error = classify_google_error(google_response(status, reason))

    assert type(error) is error_type
    assert (error.status, error.code, error.message, error.retryable) == (status, reason, f"{reason} text", retryable)
    assert error.provider == PROVIDER


@pytest.mark.parametrize(("status", "reason"), [(412, "conditionNotMet"), (410, "deleted"), (404, "notFound")])
def test_other_client_errors_are_final(status: int, reason: str) -> None:
    error = classify_google_error(google_response(status, reason))

    assert type(error) is ApiError and error.code == reason and not error.retryable


def test_a_body_that_is_not_googles_falls_back_to_the_status() -> None:
    error = classify_google_error(httpx.Response(502, text="<html>bad gateway</html>"))

    assert isinstance(error, RetryableServerError) and error.code == "HTTP_502"


# -- over HTTP ----------------------------------------------------------------------------------------


def test_calendar_list_lists_the_primary_and_secondary_calendars(user: CalendarUser, retrying: RetryingClient) -> None:
    added = user.control("POST", "calendars", json={"summary": "Interviews", "timeZone": "Europe/Berlin"}).json()

    entries = GoogleCalendarClient(authorized_api(user, retrying)).calendar_list()

    assert [(e["id"], e["accessRole"]) for e in entries] == [(LOGIN, "owner"), (added["id"], "owner")]
    assert entries[1]["timeZone"] == "Europe/Berlin"


def test_events_pages_carry_a_sync_token_only_on_the_last_page(user: CalendarUser, retrying: RetryingClient) -> None:
    user.control("POST", "seed", json={"count": 7, "anchor": "2026-12-07"}).raise_for_status()
    client = GoogleCalendarClient(authorized_api(user, retrying))

    pages = [client.events_page(LOGIN, max_results=3)]
    while pages[-1].next_page_token is not None:
        pages.append(client.events_page(LOGIN, page_token=pages[-1].next_page_token, max_results=3))

    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert [p.next_sync_token is not None for p in pages] == [False, False, True]
    assert sorted(i["id"] for p in pages for i in p.items) == sorted(e["id"] for e in user.truth())


def test_a_calendar_id_with_reserved_characters_is_quoted_into_the_path(
    user: CalendarUser, retrying: RetryingClient
) -> None:
    calendar_id = "en.usa#holiday@group.v.calendar.google.com"  # Google's holiday calendars look like this
    user.control("POST", "calendars", json={"summary": "Holidays", "id": calendar_id}).raise_for_status()
    body = timed("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z")
    event = user.control("POST", f"calendars/{quote(calendar_id, safe='')}/events", json=body).json()

    page = GoogleCalendarClient(authorized_api(user, retrying)).events_page(calendar_id)

    assert [i["id"] for i in page.items] == [event["id"]]


def test_an_expired_sync_token_raises_sync_token_expired_without_retrying(
    user: CalendarUser, retrying: RetryingClient, sleep: SleepRecorder
) -> None:
    client = GoogleCalendarClient(authorized_api(user, retrying))
    token = client.events_page(LOGIN).next_sync_token
    user.control("POST", "sync-tokens/expire").raise_for_status()

    with pytest.raises(SyncTokenExpiredError) as raised:
        client.events_page(LOGIN, sync_token=token)

    assert raised.value.code == "fullSyncRequired" and sleep.waits == []


def test_a_401_asks_for_a_fresh_token_once_and_the_call_succeeds(user: CalendarUser, retrying: RetryingClient) -> None:
    stale: list[str] = []

    def on_unauthorized(token: str) -> str:
        stale.append(token)
        return user.access_token

    add_fault(user, status=401)

    page = GoogleCalendarClient(authorized_api(user, retrying, on_unauthorized)).events_page(LOGIN)

    assert stale == [user.access_token] and page.next_sync_token


@pytest.mark.parametrize(("status", "reason"), [(403, "rateLimitExceeded"), (403, "userRateLimitExceeded"),
                                                (429, "rateLimitExceeded"), (503, "backendError")])  # fmt: skip
def test_rate_limits_and_server_errors_are_retried(
    user: CalendarUser, retrying: RetryingClient, sleep: SleepRecorder, status: int, reason: str
) -> None:
    if status == 403:
        user.http.post(f"{user.base}/_sandbox/calendar/config", json={"forbidden_reason": reason}).raise_for_status()
    add_fault(user, status=status, count=2)
    api = authorized_api(user, retrying)

    page = GoogleCalendarClient(api).events_page(LOGIN)

    assert page.next_sync_token and len(sleep.waits) == 2
    assert api.quota.snapshot().retries == 2


def test_a_quota_403_is_not_retried(user: CalendarUser, retrying: RetryingClient, sleep: SleepRecorder) -> None:
    user.http.post(f"{user.base}/_sandbox/calendar/config", json={"forbidden_reason": "quotaExceeded"})
    add_fault(user, status=403)

    with pytest.raises(QuotaExhaustedError):
        GoogleCalendarClient(authorized_api(user, retrying)).events_page(LOGIN)

    assert sleep.waits == []
