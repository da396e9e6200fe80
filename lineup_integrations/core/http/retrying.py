"""The retrying request function every provider client sends its calls through.

Retried: what the error type marks `retryable` — 429, 500, 502, 503, 504, timeouts, refused or
dropped connections, and 2xx bodies that are not valid JSON (a truncated response) — plus
whatever a provider's classifier maps to those types. Everything else (other 4xx, 401, scope
errors) fails on the first attempt: a retry cannot fix it, and 401 is the caller's cue to refresh.

The wait before a retry is the server's `Retry-After` when it sent one (seconds, fractional
seconds like Graph's "2.128", or an HTTP date), clamped to `retry_after_max` so a hostile header
cannot stall a run; otherwise exponential backoff with full jitter (a uniform draw between 0 and
min(cap, base·2^(n−1))), which spreads a herd of tenants hitting the same limit.

Retries are method-agnostic: send only idempotent requests through it (reads, upserts, PUTs),
since a timed-out POST may have been applied.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential
from tenacity.wait import wait_base

from lineup_integrations.core.http.errors import (
    ApiError,
    ErrorClassifier,
    RetryableServerError,
    TransportFailure,
    classify_by_status,
)
from lineup_integrations.core.http.quota import RateLimitTracker

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RetrySettings(BaseModel):
    """How hard to retry. Tests shrink the waits; production keeps the defaults."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=5, ge=1)
    backoff_base: float = Field(default=1.0, ge=0, description="seconds; the first retry waits U(0, base)")
    backoff_max: float = Field(default=30.0, ge=0, description="upper bound of the jittered backoff window")
    retry_after_max: float = Field(default=60.0, ge=0, description="longest Retry-After honoured")


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds, possibly fractional, or an HTTP date).

    Returns None for a missing or unparsable value (the caller falls back to backoff) and never a
    negative number (a date in the past means "now").
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN or infinity from a hostile header
        return None
    return max(seconds, 0.0)


class _RetryAfterOrJitter(wait_base):
    """tenacity wait: the server's Retry-After (clamped) when given, else full-jitter backoff."""

    def __init__(self, settings: RetrySettings) -> None:
        self._backoff = wait_random_exponential(multiplier=settings.backoff_base, max=settings.backoff_max)
        self._cap = settings.retry_after_max

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            return min(hint, self._cap)
        return self._backoff(retry_state)


def _as_response(response: httpx.Response) -> httpx.Response:
    return response


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, ApiError) and error.retryable


class RetryingClient:
    """A retrying request function over a shared, pooled `httpx.Client`.

    Thread-safe and shared by every tenant; per-tenant state (the quota) is passed per request.
    `classify` is the provider's error hook: set once here, or per request by a provider client
    that is handed a generic instance. `sleep` and `clock` are injectable so tests measure the
    waits without waiting.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        provider: str = "",
        settings: RetrySettings | None = None,
        classify: ErrorClassifier = classify_by_status,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.client = client
        self.provider = provider
        self.settings = settings or RetrySettings()
        self._classify = classify
        self._clock = clock
        self._retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=_RetryAfterOrJitter(self.settings),
            retry=retry_if_exception(_is_retryable),
            sleep=sleep,
            reraise=True,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        decode: Callable[[httpx.Response], T] = _as_response,  # type: ignore[assignment]
        quota: RateLimitTracker | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        classify: ErrorClassifier | None = None,
    ) -> T:
        """Send with retries and return `decode(response)` (default: the response) for the first
        response below 400 (so 204 and 304 reach the caller).

        `decode` runs inside the retry loop, so a body that is not valid JSON is retried like a
        5xx. Raises the classified `ApiError` (after the last attempt, for retryable ones).
        """
        path = httpx.URL(url).path  # logs name the endpoint, never the query or the headers

        def on_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if quota is not None:
                quota.record_retry()
            logger.warning(
                "%s %s %s failed (%s); attempt %d of %d, retrying in %.2f s",
                self.provider or "provider", method, path, getattr(error, "code", type(error).__name__),
                state.attempt_number + 1, self.settings.max_attempts,
                state.upcoming_sleep,
            )  # fmt: skip

        retrying = self._retrying.copy(before_sleep=on_retry)
        return retrying(
            self._attempt, method, url, decode, classify or self._classify, quota, params, headers, json_body
        )

    def _attempt(
        self,
        method: str,
        url: str,
        decode: Callable[[httpx.Response], T],
        classify: ErrorClassifier,
        quota: RateLimitTracker | None,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        json_body: Any,
    ) -> T:
        try:
            response = self.client.request(method, url, params=params, headers=headers, json=json_body)
        except httpx.TransportError as exc:
            if quota is not None:
                quota.record_call()
            # The code names the failure (ReadTimeout, ConnectError, RemoteProtocolError…); the
            # chained httpx error describes the socket, never the request headers.
            raise TransportFailure(
                None, type(exc).__name__, "no usable response from the provider", provider=self.provider
            ) from exc
        if quota is not None:
            quota.record_call(response.headers)
        if response.status_code >= 400:
            error = classify(response)
            error.provider = error.provider or self.provider
            error.retry_after = parse_retry_after(response.headers.get("retry-after"), now=self._clock())
            raise error
        try:
            return decode(response)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RetryableServerError(
                response.status_code, "INVALID_JSON", "the response body is not valid JSON", provider=self.provider
            ) from None
