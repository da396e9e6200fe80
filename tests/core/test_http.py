"""The core HTTP layer over real HTTP: a scripted local server answers each request in turn.

Waits are measured through the sleep function injected into tenacity, never by waiting.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from lineup_integrations.core.http import (
    ApiError,
    AuthenticationError,
    HttpClientPool,
    HttpClientSettings,
    RateLimitedError,
    RateLimitTracker,
    RetryableServerError,
    RetryingClient,
    RetrySettings,
    ScopeError,
    TransportFailure,
    error_for_status,
    parse_retry_after,
)
from tests.conftest import SleepRecorder

SECRET = "1000.super-secret-access-token"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)


DROP = "drop"  # close the connection without answering
HANG = "hang"  # answer nothing until the test ends (the client's read timeout fires)


class ScriptedServer:
    """Answers requests with the scripted steps in order, then 200 {"ok": true}."""

    def __init__(self) -> None:
        self.script: list[Reply | str] = []
        self.requests: list[dict] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with scripted._lock:
                    scripted.requests.append(
                        {"method": self.command, "path": self.path, "headers": dict(self.headers),
                         "body": body, "peer": self.client_address}
                    )  # fmt: skip
                    step = scripted.script.pop(0) if scripted.script else Reply()
                if step == DROP:
                    self.close_connection = True
                    return
                if step == HANG:
                    scripted.release.wait(10)
                    self.close_connection = True
                    return
                assert isinstance(step, Reply)
                self.send_response(step.status)
                for name, value in step.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(step.body)))
                self.end_headers()
                self.wfile.write(step.body)

            do_GET = do_POST = do_PUT = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as scripted:
        yield scripted


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    client = HttpClientSettings(read_timeout=0.3, connect_timeout=2).build_client()
    yield client
    client.close()


def retrying(client: httpx.Client, sleep: SleepRecorder, **settings: float) -> RetryingClient:
    config = {"max_attempts": 5, "backoff_base": 0.01, "backoff_max": 0.05, "retry_after_max": 30.0} | settings
    return RetryingClient(client, provider="testprov", settings=RetrySettings(**config), sleep=sleep, clock=lambda: NOW)


def get_json(http: RetryingClient, url: str, quota: RateLimitTracker | None = None) -> dict:
    return http.request(
        "GET", url, decode=lambda r: r.json(), quota=quota, headers={"Authorization": f"Zoho-oauthtoken {SECRET}"}
    )


def test_retries_503_then_succeeds_with_jittered_backoff_and_counts(server, http_client, sleep) -> None:
    server.script = [Reply(503, b'{"e":1}'), Reply(502, b"{}"), Reply(200, b'{"value": 42}')]
    quota = RateLimitTracker(daily_budget=100)

    assert get_json(retrying(http_client, sleep), f"{server.url}/x", quota) == {"value": 42}

    assert len(server.requests) == 3
    assert quota.calls == 3 and quota.retries == 2
    # full jitter: retry n waits U(0, min(max, base * 2^(n-1)))
    assert len(sleep.waits) == 2
    assert 0 <= sleep.waits[0] <= 0.01 and 0 <= sleep.waits[1] <= 0.02


def test_backoff_window_is_capped(server, http_client, sleep) -> None:
    server.script = [Reply(500)] * 4
    get_json(retrying(http_client, sleep, backoff_base=1.0, backoff_max=1.5), f"{server.url}/x")
    assert len(sleep.waits) == 4
    assert all(0 <= wait <= 1.5 for wait in sleep.waits)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2.128", 2.128),  # Graph sends fractional seconds
        ("7", 7.0),
        (email.utils.format_datetime(NOW + dt.timedelta(seconds=11), usegmt=True), 11.0),
        ("86400", 30.0),  # a hostile hour-long value is clamped to retry_after_max
    ],
)
def test_retry_after_is_honoured_over_backoff(server, http_client, sleep, header, expected) -> None:
    server.script = [Reply(429, b'{"code":"TOO_MANY_REQUESTS"}', {"Retry-After": header})]
    assert get_json(retrying(http_client, sleep), f"{server.url}/x") == {"ok": True}
    assert sleep.waits == [pytest.approx(expected)]


def test_retry_after_on_503_is_honoured(server, http_client, sleep) -> None:
    server.script = [Reply(503, b"{}", {"retry-after": "3"})]
    get_json(retrying(http_client, sleep), f"{server.url}/x")
    assert sleep.waits == [3.0]


def test_gives_up_after_max_attempts_with_the_typed_error(server, http_client, sleep) -> None:
    server.script = [Reply(429, b"{}")] * 10
    quota = RateLimitTracker(daily_budget=100)
    with pytest.raises(RateLimitedError) as caught:
        get_json(retrying(http_client, sleep, max_attempts=4), f"{server.url}/x", quota)
    assert caught.value.status == 429
    assert len(server.requests) == 4
    assert len(sleep.waits) == 3
    assert quota.calls == 4 and quota.retries == 3


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, ApiError), (401, AuthenticationError), (403, ScopeError), (404, ApiError), (409, ApiError)],
)
def test_non_retryable_statuses_fail_at_once(server, http_client, sleep, status, error_type) -> None:
    server.script = [Reply(status, b'{"code":"X"}')]
    with pytest.raises(error_type) as caught:
        get_json(retrying(http_client, sleep), f"{server.url}/x")
    assert type(caught.value) is error_type
    assert caught.value.status == status and not caught.value.retryable
    assert len(server.requests) == 1
    assert sleep.waits == []


def test_dropped_connection_is_retried(server, http_client, sleep) -> None:
    server.script = [DROP, Reply(200, b'{"after": "drop"}')]
    assert get_json(retrying(http_client, sleep), f"{server.url}/x") == {"after": "drop"}
    assert len(server.requests) == 2
    assert len(sleep.waits) == 1


def test_timeouts_are_retried_then_raise_transport_failure(server, http_client, sleep) -> None:
    server.script = [HANG, HANG]
    with pytest.raises(TransportFailure) as caught:
        get_json(retrying(http_client, sleep, max_attempts=2), f"{server.url}/slow")
    assert caught.value.code == "ReadTimeout"
    assert caught.value.status is None and caught.value.retryable
    assert len(server.requests) == 2


def test_connection_refused_is_a_transport_failure(http_client, sleep) -> None:
    with ScriptedServer() as gone:
        url = gone.url
    with pytest.raises(TransportFailure) as caught:
        get_json(retrying(http_client, sleep, max_attempts=3), f"{url}/x")
    assert caught.value.code == "ConnectError"
    assert len(sleep.waits) == 2


def test_invalid_json_body_is_retried(server, http_client, sleep) -> None:
    server.script = [Reply(200, b'{"data": [trunc'), Reply(200, b'{"data": []}')]
    assert get_json(retrying(http_client, sleep), f"{server.url}/x") == {"data": []}
    assert len(server.requests) == 2


def test_invalid_json_every_time_raises_retryable_server_error(server, http_client, sleep) -> None:
    server.script = [Reply(200, b"<html>")] * 2
    with pytest.raises(RetryableServerError) as caught:
        get_json(retrying(http_client, sleep, max_attempts=2), f"{server.url}/x")
    assert caught.value.code == "INVALID_JSON"


def google_like_classifier(response: httpx.Response) -> ApiError:
    """A provider hook: a 403 whose reason is rateLimitExceeded is a rate limit, not a permission error."""
    reason = response.json()["error"]["errors"][0]["reason"]
    if response.status_code == 403 and reason == "rateLimitExceeded":
        return RateLimitedError(403, reason, "Rate Limit Exceeded", provider="google")
    return error_for_status(response.status_code, reason, "denied", provider="google")


@pytest.mark.parametrize(
    ("reason", "attempts", "error_type"),
    [("rateLimitExceeded", 3, RateLimitedError), ("forbiddenForNonOrganizer", 1, ScopeError)],
)
def test_provider_hook_decides_retryability(server, http_client, sleep, reason, attempts, error_type) -> None:
    body = json.dumps({"error": {"errors": [{"reason": reason}], "code": 403}}).encode()
    server.script = [Reply(403, body)] * 3
    http = RetryingClient(http_client, settings=RetrySettings(max_attempts=3, backoff_base=0.01), sleep=sleep,
                          classify=google_like_classifier)  # fmt: skip
    with pytest.raises(error_type) as caught:
        http.request("GET", f"{server.url}/calendar")
    assert caught.value.code == reason and caught.value.provider == "google"
    assert len(server.requests) == attempts


def test_per_request_classifier_overrides_the_default(server, http_client, sleep) -> None:
    body = json.dumps({"error": {"errors": [{"reason": "rateLimitExceeded"}]}}).encode()
    server.script = [Reply(403, body)]
    response = retrying(http_client, sleep).request("GET", f"{server.url}/x", classify=google_like_classifier)
    assert response.status_code == 200
    assert len(server.requests) == 2


def test_2xx_and_304_reach_the_caller_unretried(server, http_client, sleep) -> None:
    server.script = [Reply(304, b""), Reply(204, b"")]
    http = retrying(http_client, sleep)
    assert http.request("GET", f"{server.url}/a").status_code == 304
    assert http.request("GET", f"{server.url}/b").status_code == 204
    assert len(server.requests) == 2 and sleep.waits == []


def test_quota_from_rate_limit_headers_case_insensitive(server, http_client, sleep) -> None:
    server.script = [
        Reply(200, b"{}", {"X-RATELIMIT-REMAINING": "4321", "x-ratelimit-limit": "5000", "X-RateLimit-Reset": "60"}),
        Reply(200, b"{}"),  # no headers: the tracker counts down from the last known value
    ]
    quota = RateLimitTracker(daily_budget=100, clock=lambda: NOW)
    http = retrying(http_client, sleep)
    get_json(http, f"{server.url}/x", quota)
    first = quota.snapshot()
    assert (first.remaining, first.limit, first.source) == (4321, 5000, "headers")
    assert first.reset_at == NOW + dt.timedelta(seconds=60)
    get_json(http, f"{server.url}/x", quota)
    assert quota.remaining == 4320 and quota.calls == 2


def test_quota_epoch_reset_header(server, http_client, sleep) -> None:
    reset = int((NOW + dt.timedelta(hours=3)).timestamp())
    server.script = [Reply(200, b"{}", {"X-RateLimit-Remaining": "9", "X-RateLimit-Reset": str(reset)})]
    quota = RateLimitTracker(daily_budget=100, clock=lambda: NOW)
    get_json(retrying(http_client, sleep), f"{server.url}/x", quota)
    assert quota.snapshot().reset_at == NOW + dt.timedelta(hours=3)


def test_quota_from_daily_budget_without_headers_over_a_rolling_day(server, http_client, sleep) -> None:
    now = [NOW]
    quota = RateLimitTracker(daily_budget=10, clock=lambda: now[0])
    server.script = [Reply(500)]  # the failed attempt counts too: it was a request sent
    http = retrying(http_client, sleep)
    get_json(http, f"{server.url}/x", quota)
    get_json(http, f"{server.url}/x", quota)
    snapshot = quota.snapshot()
    assert (snapshot.calls, snapshot.retries, snapshot.remaining, snapshot.limit, snapshot.source) == (
        3,
        1,
        7,
        10,
        "budget",
    )
    now[0] = NOW + dt.timedelta(hours=23, minutes=59)
    assert quota.remaining == 7
    now[0] = NOW + dt.timedelta(hours=24, minutes=1)
    assert quota.remaining == 10  # the calls left the 24-hour window
    assert quota.calls == 3  # the run's own count is kept


def test_quota_ignores_garbage_headers() -> None:
    quota = RateLimitTracker(daily_budget=50, clock=lambda: NOW)
    quota.record_call(httpx.Headers({"X-RateLimit-Remaining": "lots", "X-RateLimit-Reset": "inf"}))
    assert quota.snapshot().source == "budget" and quota.remaining == 49


def test_quota_tracker_is_thread_safe() -> None:
    quota = RateLimitTracker(daily_budget=10_000)
    threads = [threading.Thread(target=lambda: [quota.record_call() for _ in range(250)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert quota.calls == 2000 and quota.remaining == 8000


def test_tokens_never_reach_errors_or_logs(server, http_client, sleep, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    server.script = [Reply(500), Reply(401, b'{"code":"INVALID_TOKEN"}')]
    with pytest.raises(AuthenticationError) as caught:
        get_json(retrying(http_client, sleep), f"{server.url}/x?page=2")
    assert server.requests[0]["headers"]["Authorization"] == f"Zoho-oauthtoken {SECRET}"  # it was sent
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert SECRET not in caplog.text  # neither our logs nor httpx's
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("lineup_integrations")]
    assert len(ours) == 1 and "/x" in ours[0] and "page=2" not in ours[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("soon", None), ("nan", None), ("inf", None), ("-5", 0.0), ("0.5", 0.5),
     (email.utils.format_datetime(NOW - dt.timedelta(minutes=1), usegmt=True), 0.0)],
)  # fmt: skip
def test_parse_retry_after(value, expected) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_pool_keeps_one_client_per_provider_and_reuses_connections(server) -> None:
    pool = HttpClientPool({"zoho": HttpClientSettings(max_connections=2)})
    try:
        zoho = pool.client("zoho")
        assert pool.client("zoho") is zoho
        assert pool.client("google_calendar") is not zoho
        zoho.get(f"{server.url}/a")
        zoho.get(f"{server.url}/b")
        assert server.requests[0]["peer"] == server.requests[1]["peer"]  # same socket: keep-alive
        assert server.requests[0]["headers"]["User-Agent"].startswith("lineup-integrations/")
    finally:
        pool.close()
    assert zoho.is_closed
    assert pool.client("zoho") is not zoho  # a closed pool builds fresh clients on demand
    pool.close()
