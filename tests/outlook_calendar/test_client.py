"""The Graph calendar client against the Microsoft sandbox over real HTTP.

The mailbox is connected through the sandbox's own OAuth flow (`graph_wire.connect`); the control
API (`/_sandbox/graph/…`, `/_sandbox/faults`, `/_sandbox/tokens/…`) plays the user and the
failures. Retry waits go through an injected sleep that records them instead of waiting.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lineup_integrations.calendar.feed import Window
from lineup_integrations.core.http import (
    ApiError,
    AuthenticationError,
    AuthorizedApi,
    RateLimitedError,
    RateLimitTracker,
    RetryableServerError,
    RetryingClient,
    RetrySettings,
    ScopeError,
)
from lineup_integrations.outlook_calendar.client import (
    MAILBOX_SLOTS,
    GraphCalendarClient,
    MailboxSlots,
    SyncStateNotFoundError,
    classify_graph_error,
)
from lineup_integrations.sandbox import SandboxHandle
from tests.conftest import SleepRecorder
from tests.outlook_calendar.conftest import LOGIN
from tests.outlook_calendar.sandbox.graph_wire import PROVIDER, Mailbox, connect, event_body

MARCH = Window(dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC))


ClientFactory = Callable[..., GraphCalendarClient]


@pytest.fixture
def make_client(http: httpx.Client, me: Mailbox, sleep: SleepRecorder) -> ClientFactory:
    def build(
        *,
        on_unauthorized: Callable[[str], str] | None = None,
        slots: MailboxSlots = MAILBOX_SLOTS,
        attempts: int = 5,
        token: Callable[[], str] = lambda: me.access_token,
    ) -> GraphCalendarClient:
        retrying = RetryingClient(
            http, provider=PROVIDER, settings=RetrySettings(max_attempts=attempts, backoff_base=0, backoff_max=0),
            sleep=sleep,
        )  # fmt: skip
        api = AuthorizedApi(
            retrying, base_url=me.base, access_token=token, on_unauthorized=on_unauthorized,
            quota=RateLimitTracker(daily_budget=10_000), classify=classify_graph_error,
        )  # fmt: skip
        return GraphCalendarClient(api, mailbox=me.login, slots=slots)

    return build


def control(http: httpx.Client, method: str, url: str, **kwargs: Any) -> Any:
    response = http.request(method, url, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def create(http: httpx.Client, me: Mailbox, body: dict[str, Any]) -> dict[str, Any]:
    return control(http, "POST", me.control("/events"), json=body)


def statuses(sandbox: SandboxHandle, endpoint: str = "*") -> list[int | None]:
    return [entry.status for entry in sandbox.state(PROVIDER).requests.entries(login=LOGIN, endpoint=endpoint)]


# -- error classification -------------------------------------------------------------------------


def graph_response(status: int, code: str | None, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": "m", "innerError": {"date": "2026-03-01T00:00:00"}}} if code else None
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "code", "expected", "retryable"),
    [
        (401, "InvalidAuthenticationToken", AuthenticationError, False),
        (403, "ErrorAccessDenied", ScopeError, False),
        (429, "ApplicationThrottled", RateLimitedError, True),
        (429, "TooManyRequests", RateLimitedError, True),
        (410, "syncStateNotFound", SyncStateNotFoundError, False),
        (400, "syncStateNotFound", SyncStateNotFoundError, False),
        (412, "ErrorIrresolvableConflict", ApiError, False),
        (404, "ErrorItemNotFound", ApiError, False),
        (503, "ServiceNotAvailable", RetryableServerError, True),
    ],
)
def test_graph_error_bodies_become_typed_errors(
    status: int, code: str, expected: type[ApiError], retryable: bool
) -> None:
    error = classify_graph_error(graph_response(status, code))

    assert type(error) is expected
    assert (error.status, error.code, error.message, error.provider) == (status, code, "m", PROVIDER)
    assert error.retryable is retryable


def test_a_bare_410_pointing_at_an_empty_delta_token_means_resync() -> None:
    location = "https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken="
    error = classify_graph_error(httpx.Response(410, text="", headers={"Location": location}))

    assert type(error) is SyncStateNotFoundError
    assert (error.code, error.retryable) == ("HTTP_410", False)


# -- reads ----------------------------------------------------------------------------------------


def test_default_calendar_and_event(http: httpx.Client, me: Mailbox, make_client: ClientFactory) -> None:
    client = make_client()
    created = create(
        http, me, event_body("Screen", "2026-03-02T10:00:00", "2026-03-02T10:30:00", "Pacific Standard Time")
    )

    calendar = client.default_calendar()
    event = client.event(created["id"])

    assert (calendar["name"], calendar["isDefaultCalendar"]) == ("Calendar", True)
    assert event is not None and "@odata.context" not in event
    assert (event["subject"], event["start"]) == (
        "Screen",
        {"dateTime": "2026-03-02T18:00:00.0000000", "timeZone": "UTC"},
    )
    assert client.event("AAMkAnotThere") is None


def test_delta_pages_to_a_delta_link_with_the_page_size_asked_for(
    http: httpx.Client, me: Mailbox, make_client: ClientFactory
) -> None:
    for day in range(2, 9):
        create(http, me, event_body(f"E{day}", f"2026-03-0{day}T09:00:00", f"2026-03-0{day}T10:00:00"))
    client = make_client()

    pages = [client.delta_page(link=None, window=MARCH, page_size=3)]
    while "@odata.nextLink" in pages[-1]:
        pages.append(client.delta_page(link=pages[-1]["@odata.nextLink"], window=None, page_size=3))
    again = client.delta_page(link=pages[-1]["@odata.deltaLink"], window=None, page_size=3)

    assert [len(page["value"]) for page in pages] == [3, 3, 1]
    assert {item["subject"] for page in pages for item in page["value"]} == {f"E{day}" for day in range(2, 9)}
    assert all(item["start"]["timeZone"] == "UTC" for page in pages for item in page["value"])
    assert again["value"] == [] and "@odata.deltaLink" in again


def test_a_window_is_required_for_the_first_delta_call(make_client: ClientFactory) -> None:
    with pytest.raises(ValueError, match="window"):
        make_client().delta_page(link=None, window=None, page_size=10)


def test_an_expired_delta_token_is_sync_state_not_found_and_not_retried(
    http: httpx.Client, me: Mailbox, make_client: ClientFactory, sandbox_reset: SandboxHandle
) -> None:
    client = make_client()
    delta_link = client.delta_page(link=None, window=MARCH, page_size=10)["@odata.deltaLink"]
    control(http, "POST", me.control("/delta/expire"))

    with pytest.raises(SyncStateNotFoundError) as raised:
        client.delta_page(link=delta_link, window=None, page_size=10)

    assert (raised.value.status, raised.value.code) == (410, "syncStateNotFound")
    assert statuses(sandbox_reset, "GET /v1.0/me/calendarView/delta") == [200, 410]


# -- retries, tokens -------------------------------------------------------------------------------


def test_a_401_gets_one_fresh_token_and_the_request_is_sent_again(
    http: httpx.Client, base: str, me: Mailbox, make_client: ClientFactory
) -> None:
    tokens = [me.access_token]
    stale: list[str] = []

    def refresh(old: str) -> str:
        stale.append(old)
        tokens.append(connect(http, base, LOGIN).access_token)
        return tokens[-1]

    client = make_client(on_unauthorized=refresh, token=lambda: tokens[-1])
    control(http, "POST", f"{base}/_sandbox/tokens/expire", json={"login": LOGIN})

    assert client.default_calendar()["name"] == "Calendar"
    assert stale == [me.access_token]
    assert client.default_calendar()["name"] == "Calendar"  # the fresh token is used from now on
    assert stale == [me.access_token]


def test_a_401_without_a_refresher_is_an_authentication_error(
    http: httpx.Client, base: str, make_client: ClientFactory
) -> None:
    control(http, "POST", f"{base}/_sandbox/faults", json={"endpoint": "GET /v1.0/me/calendar", "status": 401})

    with pytest.raises(AuthenticationError):
        make_client().default_calendar()


def test_429_waits_retry_after_and_503_is_retried(
    http: httpx.Client, base: str, make_client: ClientFactory, sleep: SleepRecorder, sandbox_reset: SandboxHandle
) -> None:
    faults = f"{base}/_sandbox/faults"
    control(http, "POST", faults, json={"endpoint": "GET /v1.0/me/calendar", "status": 429, "retry_after": 2.128})
    control(http, "POST", faults, json={"endpoint": "GET /v1.0/me/calendar", "status": 503})

    assert make_client().default_calendar()["name"] == "Calendar"
    assert sleep.waits == [2.128, 0]
    assert statuses(sandbox_reset) == [429, 503, 200]


def test_a_persistent_503_fails_after_the_last_attempt(
    http: httpx.Client, base: str, make_client: ClientFactory, sandbox_reset: SandboxHandle
) -> None:
    control(
        http, "POST", f"{base}/_sandbox/faults", json={"endpoint": "GET /v1.0/me/calendar", "status": 503, "count": 3}
    )

    with pytest.raises(RetryableServerError):
        make_client(attempts=3).default_calendar()
    assert statuses(sandbox_reset) == [503, 503, 503]


# -- concurrency per mailbox ------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"


@pytest.mark.parametrize("limit", [2, 4])
def test_the_mailbox_slots_never_let_more_than_the_limit_in_flight(
    http: httpx.Client, base: str, me: Mailbox, make_client: ClientFactory, sandbox_reset: SandboxHandle, limit: int
) -> None:
    """The sandbox holds every admitted call; with the sandbox allowing exactly `limit` and one
    attempt per request, any request past the client's limit would fail with 429 at once."""
    control(http, "POST", f"{base}/_sandbox/graph/config", json={"max_concurrency": limit})
    slots = MailboxSlots(limit=limit)
    client = make_client(slots=slots, attempts=1)
    results: list[str] = []
    usage = me.control("/usage")

    def call() -> None:
        try:
            results.append(client.default_calendar()["name"])
        except ApiError as error:
            results.append(error.code)

    workers = [threading.Thread(target=call) for _ in range(limit + 3)]
    control(http, "POST", f"{base}/_sandbox/graph/hold")
    try:
        for worker in workers:
            worker.start()
        wait_until(lambda: http.get(usage).json()["in_flight"] == limit, "the held calls")
        wait_until(lambda: slots.waiting(me.login) == 3, "the queued calls")
        in_flight_while_queued = http.get(usage).json()["in_flight"]
    finally:
        control(http, "POST", f"{base}/_sandbox/graph/release")
        for worker in workers:
            worker.join(10)

    assert in_flight_while_queued == limit
    assert results == ["Calendar"] * (limit + 3)
    assert statuses(sandbox_reset) == [200] * (limit + 3)
    assert slots.waiting(me.login) == 0 and http.get(usage).json()["in_flight"] == 0


def test_the_process_wide_registry_allows_four_per_mailbox() -> None:
    assert MAILBOX_SLOTS.limit == 4
    with pytest.raises(ValueError):
        MailboxSlots(limit=0)
