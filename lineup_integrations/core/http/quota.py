"""Per-tenant API quota tracking: how many calls a sync made and how many the provider still allows.

`remaining` is always known. When the provider sends rate-limit headers
(`X-RateLimit-Remaining`, `-Limit`, `-Reset`; matched case-insensitively) the last values win,
less the calls made since that response; otherwise it is the configured daily budget less the
calls made in the last 24 hours — `earlier_calls` (counted by earlier runs, from the store) plus
the calls this tracker counted (Zoho's credits are a rolling 24-hour window, and Zoho documents
no such headers, so a client must not depend on them).

Thread-safe: one tenant's sync fetches the next page on a helper thread while it writes this one.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict

WINDOW = dt.timedelta(hours=24)
BUCKET = dt.timedelta(minutes=1)
REMAINING_HEADER = "x-ratelimit-remaining"
LIMIT_HEADER = "x-ratelimit-limit"
RESET_HEADER = "x-ratelimit-reset"
# A reset value above this is an epoch timestamp; below, a number of seconds from now.
_EPOCH_THRESHOLD = 1_000_000_000


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _MinuteCount:
    start: dt.datetime
    calls: int


class QuotaSnapshot(BaseModel):
    """What the assets report as materialization metadata (numbers, so the UI can plot them)."""

    model_config = ConfigDict(frozen=True)

    calls: int
    retries: int
    remaining: int
    limit: int | None
    reset_at: dt.datetime | None
    source: Literal["headers", "budget"]


class RateLimitTracker:
    """Counts one tenant's API calls and retries against its provider quota."""

    def __init__(
        self, *, daily_budget: int, earlier_calls: int = 0, clock: Callable[[], dt.datetime] = _utcnow
    ) -> None:
        if daily_budget < 0 or earlier_calls < 0:
            raise ValueError("daily_budget and earlier_calls must be >= 0")
        self.daily_budget = daily_budget
        self.earlier_calls = earlier_calls
        self._clock = clock
        self._lock = threading.Lock()
        self._calls = 0
        self._retries = 0
        self._window: deque[_MinuteCount] = deque()  # oldest first; at most 24 h of minutes
        self._header_remaining: int | None = None
        self._calls_at_header = 0
        self._limit: int | None = None
        self._reset_at: dt.datetime | None = None

    def record_call(self, headers: httpx.Headers | None = None) -> None:
        """Count one request sent; read the rate-limit headers of its response when there is one."""
        now = self._clock()
        with self._lock:
            self._calls += 1
            minute = now.replace(second=0, microsecond=0)
            if self._window and self._window[-1].start == minute:
                self._window[-1].calls += 1
            else:
                self._window.append(_MinuteCount(minute, 1))
            if headers is not None:
                self._read_headers(headers, now)

    def record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def retries(self) -> int:
        return self._retries

    @property
    def remaining(self) -> int:
        return self.snapshot().remaining

    def snapshot(self) -> QuotaSnapshot:
        now = self._clock()
        with self._lock:
            if self._header_remaining is not None:
                remaining = self._header_remaining - (self._calls - self._calls_at_header)
                source: Literal["headers", "budget"] = "headers"
            else:
                remaining = self.daily_budget - self.earlier_calls - self._calls_in_window(now)
                source = "budget"
            return QuotaSnapshot(
                calls=self._calls,
                retries=self._retries,
                remaining=max(remaining, 0),
                limit=self._limit if self._limit is not None else (self.daily_budget if source == "budget" else None),
                reset_at=self._reset_at,
                source=source,
            )

    def _calls_in_window(self, now: dt.datetime) -> int:
        while self._window and self._window[0].start <= now - WINDOW:
            self._window.popleft()
        return sum(minute.calls for minute in self._window)

    def _read_headers(self, headers: httpx.Headers, now: dt.datetime) -> None:
        remaining = _as_int(headers.get(REMAINING_HEADER))
        if remaining is not None:
            self._header_remaining = remaining
            self._calls_at_header = self._calls
        limit = _as_int(headers.get(LIMIT_HEADER))
        if limit is not None:
            self._limit = limit
        reset = _as_int(headers.get(RESET_HEADER))
        if reset is not None:
            self._reset_at = (
                dt.datetime.fromtimestamp(reset, dt.UTC)
                if reset >= _EPOCH_THRESHOLD
                else now + dt.timedelta(seconds=reset)
            )


def _as_int(value: str | None) -> int | None:
    """Header values are untrusted: anything that is not a plain number is ignored."""
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except (ValueError, OverflowError):
        return None
