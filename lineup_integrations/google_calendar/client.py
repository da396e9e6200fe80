"""The Google Calendar v3 REST client for one connected account (facts: provider-apis.md §B).

Every call goes through `AuthorizedApi` (bearer token, one retry with a fresh token on a 401,
quota counting) with this module's error hook, which turns Google's error body
`{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}` into the core's
typed errors, the error code being Google's `reason`:
- 401 → `AuthenticationError` (the token is refreshed once by `AuthorizedApi`);
- 403/429 `rateLimitExceeded`/`userRateLimitExceeded` → `RateLimitedError` (retried with backoff;
  Google sends both statuses for the same limit and no Retry-After);
- 403 `quotaExceeded` ("Calendar usage limits exceeded", hours long) → `QuotaExhaustedError` (no retry);
- any other 403 (`insufficientPermissions`, `forbiddenForNonOrganizer`…) → `ScopeError`;
- 410 `fullSyncRequired`/`updatedMinTooLongAgo` → `SyncTokenExpiredError`: only a full sync helps
  (other 410s, e.g. `deleted`, are final `ApiError`s);
- 412 `conditionNotMet` → a final `ApiError`; 5xx → retried (`error_for_status`).

Reads only: `events.list` with `singleEvents=false` (series as masters plus their exceptions) and
no `showDeleted` — Google still returns cancelled exceptions of a series then, and a sync token
always returns deletions; `timeMin`/`timeMax`/`orderBy` are never sent since a sync token cannot
be combined with them (pitfalls.md §1.1), so every round covers the whole calendar.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lineup_integrations.core.http import (
    ApiError,
    AuthenticationError,
    AuthorizedApi,
    QuotaExhaustedError,
    RateLimitedError,
    ScopeError,
    error_for_status,
)

PROVIDER = "google_calendar"
MAX_EVENTS_PAGE = 2500
CALENDAR_LIST_PAGE = 250
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
SYNC_EXPIRED_REASONS = frozenset({"fullSyncRequired", "updatedMinTooLongAgo"})
M = TypeVar("M", bound=BaseModel)


class SyncTokenExpiredError(ApiError):
    """Google answered 410 to a sync token (or a too old `updatedMin`): the stored position is
    gone and only a full sync helps, so retrying the same request is pointless."""


def classify_google_error(response: httpx.Response) -> ApiError:
    """Google's error hook (see the module docstring); the error's `code` is Google's `reason`."""
    status = response.status_code
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    body = error if isinstance(error, dict) else {}
    details = body.get("errors")
    first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    reason = str(first.get("reason") or body.get("status") or f"HTTP_{status}")
    message = str(first.get("message") or body.get("message") or response.reason_phrase or "request failed")
    kept = payload if isinstance(payload, dict) else None
    error_type = _error_type(status, reason)
    if error_type is None:
        return error_for_status(status, reason, message, provider=PROVIDER, payload=kept)
    return error_type(status, reason, message, provider=PROVIDER, payload=kept)


def _error_type(status: int, reason: str) -> type[ApiError] | None:
    """The type Google's status and reason call for, or None to fall back to the status alone."""
    if status == 401:
        return AuthenticationError
    if status in (403, 429) and reason in RATE_LIMIT_REASONS:
        return RateLimitedError
    if status == 403 and reason == "quotaExceeded":
        return QuotaExhaustedError
    if status == 403:
        return ScopeError
    if status == 410 and reason in SYNC_EXPIRED_REASONS:
        return SyncTokenExpiredError
    if status == 412:
        return ApiError
    return None


class EventListPage(BaseModel):
    """One page of `events.list`. Items stay raw dicts: they are stored as Google sent them.
    Exactly one of `next_page_token` (more pages follow) and `next_sync_token` (the last page) is set."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    items: list[dict[str, Any]] = Field(default_factory=list)
    next_page_token: str | None = Field(None, alias="nextPageToken")
    next_sync_token: str | None = Field(None, alias="nextSyncToken")
    time_zone: str | None = Field(None, alias="timeZone")


class CalendarListPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    items: list[dict[str, Any]] = Field(default_factory=list)
    next_page_token: str | None = Field(None, alias="nextPageToken")


class GoogleCalendarClient:
    """Calendar v3 reads for one account; thread-safe as its `AuthorizedApi` is."""

    def __init__(self, api: AuthorizedApi) -> None:
        self.api = api

    def calendar_list(self) -> list[dict[str, Any]]:
        """Every calendarList entry of the account (all pages), as Google sent them."""
        entries: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            params: dict[str, Any] = {"maxResults": CALENDAR_LIST_PAGE}
            if page_token is not None:
                params["pageToken"] = page_token
            page = self.api.request(
                "GET", "/calendar/v3/users/me/calendarList", params=params, decode=_model(CalendarListPage)
            )
            entries += page.items
            if page.next_page_token is None:
                return entries
            page_token = page.next_page_token

    def events_page(
        self,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        page_token: str | None = None,
        max_results: int = MAX_EVENTS_PAGE,
    ) -> EventListPage:
        """One page of the calendar's events: the first of a full listing (no tokens), of an
        incremental one (`sync_token`), or a later page (`page_token`, with the `sync_token` the
        round started from, since a page token is bound to its query's other parameters).
        Raises `SyncTokenExpiredError` when Google no longer knows `sync_token`."""
        if not 1 <= max_results <= MAX_EVENTS_PAGE:
            raise ValueError(f"max_results must be between 1 and {MAX_EVENTS_PAGE}")
        params: dict[str, Any] = {"maxResults": max_results, "singleEvents": "false"}
        if sync_token is not None:
            params["syncToken"] = sync_token
        if page_token is not None:
            params["pageToken"] = page_token
        path = f"/calendar/v3/calendars/{quote(calendar_id, safe='')}/events"
        return self.api.request("GET", path, params=params, decode=_model(EventListPage))


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    """A decode step validating the JSON body into `model`. It runs inside the retry loop: a body
    that is not JSON is retried; a JSON body of the wrong shape is final."""

    def decode(response: httpx.Response) -> M:
        try:
            return model.model_validate(response.json())
        except ValidationError as exc:
            where = ".".join(str(part) for part in exc.errors(include_input=False)[0]["loc"])
            raise ApiError(
                response.status_code, "UNEXPECTED_RESPONSE", f"unexpected response shape at {where}", provider=PROVIDER
            ) from None

    return decode
