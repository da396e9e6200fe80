"""The Microsoft Graph v1.0 calendar client for one mailbox (facts: provider-apis.md §C2, pitfalls.md §2).

Every call goes through `AuthorizedApi` (bearer token per request, one retry with a fresh token
after a 401, the account's quota) with this module's error hook, so Graph's error bodies
(`{"error": {"code", "message", "innerError"}}`) become the core's typed errors:

- 401 → `AuthenticationError`; 403 → `ScopeError`;
- 429 (`ApplicationThrottled` "MailboxConcurrency", `TooManyRequests`) → `RateLimitedError`,
  retried after Graph's `Retry-After` (fractional seconds like "2.128");
- 410 (`syncStateNotFound`, or a bare 410 whose `Location` carries an empty `$deltatoken`), and
  `syncStateNotFound` / `resyncRequired` under any other 4xx → `SyncStateNotFoundError`: the delta
  token is dead and only a full round helps, so it is never retried;
- 5xx → retried (`error_for_status`); anything else (412 `ErrorIrresolvableConflict`, 404…) is final.

Concurrency: Outlook lets at most 4 requests per mailbox run at once; a fifth gets 429
"Application is over its MailboxConcurrency limit" (throttling-limits.md, pitfalls.md §24). Every
request of a `GraphCalendarClient` holds a slot of its mailbox's `threading.BoundedSemaphore`
from `MailboxSlots` while in flight — retries and their Retry-After waits included, so a
throttled mailbox is not hit harder meanwhile. `MAILBOX_SLOTS`, the process-wide registry, allows
4 per mailbox; a client given another registry (`MailboxSlots(limit=2)`) uses that limit instead.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from lineup_integrations.calendar.feed import Window
from lineup_integrations.core.http import (
    ApiError,
    AuthenticationError,
    AuthorizedApi,
    RateLimitedError,
    ScopeError,
    error_for_status,
)

PROVIDER = "outlook_calendar"
GRAPH_VERSION = "/v1.0"
DEFAULT_MAILBOX_CONCURRENCY = 4
_SYNC_STATE_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {401: AuthenticationError, 403: ScopeError, 429: RateLimitedError}


class SyncStateNotFoundError(ApiError):
    """Graph no longer knows the delta token (410 `syncStateNotFound`): start a full round. Final."""


def classify_graph_error(response: httpx.Response) -> ApiError:
    """Graph's error hook: the typed error for a response with status >= 400 (see the module docstring)."""
    status = response.status_code
    error = _error_object(response)
    code = str(error.get("code") or f"HTTP_{status}")
    message = str(error.get("message") or response.reason_phrase or "request failed")
    payload = {"error": error} if error else None
    if status == 410 or (400 <= status < 500 and code.casefold() in _SYNC_STATE_CODES):
        return SyncStateNotFoundError(status, code, message, provider=PROVIDER, payload=payload)
    error_type = _ERRORS_BY_STATUS.get(status)
    if error_type is None:
        return error_for_status(status, code, message, provider=PROVIDER, payload=payload)
    return error_type(status, code, message, provider=PROVIDER, payload=payload)


def _error_object(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of a Graph error body; empty when the body is not one (a proxy's HTML page)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


class MailboxSlots:
    """Per-mailbox concurrency slots: one `BoundedSemaphore(limit)` per mailbox id, created on first use.

    Thread-safe; share one registry per process (`MAILBOX_SLOTS`) so every client of a mailbox —
    whichever sync or thread made it — counts against the same limit."""

    def __init__(self, limit: int = DEFAULT_MAILBOX_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._waiting: dict[str, int] = {}

    @contextmanager
    def slot(self, mailbox: str) -> Iterator[None]:
        """Hold one of `mailbox`'s slots for the duration of the block (waits while all are taken)."""
        semaphore = self._semaphore(mailbox)
        self._count_waiting(mailbox, 1)
        try:
            semaphore.acquire()
        finally:
            self._count_waiting(mailbox, -1)
        try:
            yield
        finally:
            semaphore.release()

    def waiting(self, mailbox: str) -> int:
        """How many requests of `mailbox` wait for a slot now (a sign the mailbox is the bottleneck)."""
        with self._lock:
            return self._waiting.get(mailbox, 0)

    def _count_waiting(self, mailbox: str, change: int) -> None:
        with self._lock:
            self._waiting[mailbox] = self._waiting.get(mailbox, 0) + change

    def _semaphore(self, mailbox: str) -> threading.BoundedSemaphore:
        with self._lock:
            semaphore = self._semaphores.get(mailbox)
            if semaphore is None:
                semaphore = self._semaphores[mailbox] = threading.BoundedSemaphore(self.limit)
            return semaphore


MAILBOX_SLOTS = MailboxSlots()
"""The process-wide registry: at most 4 requests in flight per mailbox, Outlook's limit."""


def graph_time(moment: dt.datetime) -> str:
    """A window bound as Graph reads it unambiguously: UTC with a `Z` (offset-less values are UTC
    too, whatever `Prefer: outlook.timezone` says — pitfalls.md §18 — so say it explicitly)."""
    if moment.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GraphCalendarClient:
    """Graph calendar reads for one mailbox (`mailbox`: the account's id, the concurrency key).

    Times come back in UTC (`Prefer: outlook.timezone="UTC"`); all-day events stay floating
    midnight dates whatever the zone (pitfalls.md §18). Thread-safe."""

    def __init__(self, api: AuthorizedApi, *, mailbox: str, slots: MailboxSlots = MAILBOX_SLOTS) -> None:
        self._api = api
        self.mailbox = mailbox
        self._slots = slots

    def default_calendar(self) -> dict[str, Any]:
        """`GET /me/calendar`: the mailbox's default calendar (the one calendarView/delta tracks)."""
        return self._get(f"{GRAPH_VERSION}/me/calendar")

    def delta_page(self, *, link: str | None, window: Window | None, page_size: int) -> dict[str, Any]:
        """One page of `calendarView/delta`: the first of a round (`link` None, `window` required), or
        the page behind a `@odata.nextLink` / `@odata.deltaLink`, followed as given — the window
        and every other parameter live inside Graph's tokens (pitfalls.md §12)."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if link is not None:
            return self._get(link, page_size=page_size)
        if window is None:
            raise ValueError("the first delta call of a round needs the window")
        params = {"startDateTime": graph_time(window.start), "endDateTime": graph_time(window.end)}
        return self._get(f"{GRAPH_VERSION}/me/calendarView/delta", params=params, page_size=page_size)

    def event(self, event_id: str) -> dict[str, Any] | None:
        """`GET /me/events/{id}` (a series master, an occurrence…) without the response's
        `@odata.context`, or None when Graph answers 404."""
        try:
            body = self._get(f"{GRAPH_VERSION}/me/events/{quote(event_id, safe='')}")
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        body.pop("@odata.context", None)
        return body

    def _get(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        page_size: int | None = None,
    ) -> dict[str, Any]:
        """A GET holding one of the mailbox's slots, with times asked in UTC (and a page size for lists)."""
        with self._slots.slot(self.mailbox):
            body: Any = self._api.request("GET", path_or_url, params=params, headers=_prefer(page_size))
        if not isinstance(body, dict):
            raise ApiError(200, "UNEXPECTED_RESPONSE", "the response body is not a JSON object", provider=PROVIDER)
        return body


def _prefer(page_size: int | None) -> dict[str, str]:
    """One `Prefer` header with every preference, comma-separated (RFC 7240): some servers read
    only the first of repeated headers."""
    preferences = ([f"odata.maxpagesize={page_size}"] if page_size else []) + ['outlook.timezone="UTC"']
    return {"Prefer": ", ".join(preferences)}
