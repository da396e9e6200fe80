"""Microsoft Graph v1.0 calendar in the Microsoft sandbox, on the identity platform's port
(`OUTLOOK_BASE_URL` stands in for `https://graph.microsoft.com`; Graph paths start with `/v1.0`).

API routes (provider-apis.md §C2; api-reference/v1.0 in microsoft-graph-docs-contrib):

- Every `/v1.0/me/…` route below is also served as `/v1.0/users/{id | userPrincipalName}/…` for the
  signed-in user (another user's mailbox → 403 `ErrorAccessDenied`: delegated access only).
- `GET /v1.0/me` → `{id, displayName, mail, userPrincipalName, givenName, surname, …}` (needs `User.Read`).
- `GET /v1.0/me/calendars`, `GET /v1.0/me/calendar`, `GET /v1.0/me/calendars/{id}`.
- `GET|POST /v1.0/me/events` and `/v1.0/me/calendars/{id}/events` (POST → 201 with the event; a
  reused `transactionId` → 400 `ErrorDuplicateTransactionId`); lists single instances and series
  masters with `$top` (default 10) / `$skip` paging (`@odata.nextLink`), `$select`, `$orderby`,
  `$filter` on `iCalUId eq '…'` or `singleValueExtendedProperties/any(ep: ep/id eq '…' and ep/value eq '…')`.
- `GET|PATCH|DELETE /v1.0/me/events/{id}` (200, 200, 204); `If-Match: W/"…"` stale → 412
  `ErrorIrresolvableConflict`. PATCH of an occurrence makes it an exception; DELETE of one
  cancels that occurrence; DELETE of a master removes the series.
- `GET /v1.0/me/events/{id}/instances?startDateTime&endDateTime`: a series' occurrences and exceptions.
- `GET /v1.0/me/calendarView?startDateTime&endDateTime` (and under `/calendars/{id}`): single
  instances, occurrences and exceptions overlapping the window, never masters; `$top`/`$skip`.
  Window values without an offset are UTC (pitfalls.md §18).
- `GET /v1.0/me/calendarView/delta?startDateTime&endDateTime`, `Prefer: odata.maxpagesize=N`
  (default 10): `@odata.nextLink` (`$skiptoken`) on every page but the last, `@odata.deltaLink`
  (`$deltatoken`) on the last. Following a deltaLink returns only the changes since it, removals
  as `{"@removed": {"reason": "deleted"}, "id"}` (see `events.py` for exactly what counts).
  `$select/$expand/$filter/$orderby/$search/$top` → 400 `ErrorInvalidUrlQuery`. An expired or
  unknown token → 410 `syncStateNotFound`.
- `POST /v1.0/me/calendar/getSchedule {schedules, startTime, endTime, availabilityViewInterval}`
  → `value[{scheduleId, availabilityView, scheduleItems[{isPrivate, status, subject, location,
  isMeeting, isRecurring, isException, isReminderSet, start, end}], workingHours}]`; digits 0 free,
  1 tentative, 2 busy, 3 oof (workingElsewhere shows as 0: pitfalls.md §25); an address with no
  sandbox mailbox gets a per-schedule `error`; > 100 schedules → 400 `ErrorMailboxDataArrayTooBig`;
  a window over 62 days → 400 `ErrorTimeIntervalTooBig`; `availabilityViewInterval: null` → 500.

Every Graph call needs `Authorization: Bearer <access token>` issued by this sandbox (else 401
`InvalidAuthenticationToken` with `WWW-Authenticate`) with a calendar scope (`Calendars.Read` for
reads, `Calendars.ReadWrite` for writes; else 403 `ErrorAccessDenied`). Returned times are UTC
unless `Prefer: outlook.timezone="…"` names another zone (echoed in `Preference-Applied`).
Errors are Graph's `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
At most 4 requests per mailbox run at once (`throttling-limits.md`, Outlook service limits); a 5th
gets 429 `ApplicationThrottled` "Application is over its MailboxConcurrency limit." with `Retry-After`.

Control API (test and demo only) — `{login}` is the user's email (an account of `POST /_sandbox/accounts`):

| Method and path | Body / query | Effect and answer |
|---|---|---|
| `GET/POST /_sandbox/graph/config` | `max_concurrency`, `retry_after`, `page_size` | read / change the Graph switches |
| `POST /_sandbox/graph/hold`, `/release` | | hold every admitted Graph call (holding its concurrency slot) until released |
| `GET /_sandbox/graph/mailboxes/{login}/usage` | | `{in_flight, max_concurrency}` |
| `POST /_sandbox/graph/mailboxes/{login}/settings` | `time_zone` | the mailbox's zone (working hours, seeded all-day events) |
| `POST /_sandbox/graph/mailboxes/{login}/calendars` | `name` | add a calendar → it |
| `POST /_sandbox/graph/mailboxes/{login}/seed` | `count`, `seed`, `days`, `recurring`, `all_day`, `calendar_id` | add generated events (deterministic per seed) → `{seeded, ids}` |
| `POST /_sandbox/graph/mailboxes/{login}/events` | Graph event JSON; `?calendar_id=` | create one as the user would → 201 event |
| `PATCH /_sandbox/graph/mailboxes/{login}/events/{id}` | Graph event JSON | edit it as the user would (new changeKey) → event |
| `DELETE /_sandbox/graph/mailboxes/{login}/events/{id}` | | delete it (an occurrence: cancel it) → `{deleted}` |
| `POST /_sandbox/graph/mailboxes/{login}/events/{id}/cancel` | | the organizer cancelled it (`isCancelled`) → event |
| `POST /_sandbox/graph/mailboxes/{login}/delta/expire` | | every sync token dies (next use: 410) → `{expired}` |
| `GET /_sandbox/graph/mailboxes/{login}/events` | `?startDateTime&endDateTime` | the truth: stored events in UTC, or the window's instances |

From the kit, on the same port: `POST /_sandbox/faults` (429/5xx/401 get Graph's error bodies
from `graph_error_response`, `retry_after` adds `Retry-After`), `GET /_sandbox/requests`, `POST /_sandbox/reset`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lineup_integrations.outlook_calendar.sandbox.events import (
    DeltaItem,
    EventRecord,
    GraphError,
    Mailbox,
    Removed,
    seed_events,
)
from lineup_integrations.outlook_calendar.sandbox.timezones import (
    UTC_NAME,
    TimeZoneNotSupported,
    parse_date_time_time_zone,
    parse_query_time,
    preferred_page_size,
    preferred_time_zone,
    render,
    zone,
)
from lineup_integrations.sandbox.app import bearer_token
from lineup_integrations.sandbox.control import CONTROL_PREFIX, hold_routes
from lineup_integrations.sandbox.kit import HoldGate, SandboxAccount, SandboxState, guid, per_state

GRAPH_PREFIX = "/v1.0"
MAX_TOP = 1000
MAX_SCHEDULES = 100
MAX_SCHEDULE_WINDOW = dt.timedelta(days=62)
JSON_MEDIA_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
READ_SCOPES = frozenset(
    {"calendars.read", "calendars.readwrite", "calendars.read.shared", "calendars.readwrite.shared"}
)
WRITE_SCOPES = frozenset({"calendars.readwrite", "calendars.readwrite.shared"})
USER_SCOPES = frozenset({"user.read", "user.readwrite", "user.readbasic.all", "user.read.all", "directory.read.all"})
_GRAPH_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is malformed or incorrect."),
    401: ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "The change key passed in the request does not match the current change key."),
    410: ("syncStateNotFound", "The sync state generation is not found or has expired."),
    412: ("ErrorIrresolvableConflict", "The change key passed in the request does not match the current change key."),
    429: ("TooManyRequests", "Please retry again later."),
    500: ("generalException", "An unspecified error has occurred."),
    502: ("BadGateway", "Bad Gateway"),
    503: ("ServiceNotAvailable", "Service Unavailable"),
    504: ("GatewayTimeout", "Gateway Timeout"),
}
_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
_DELTA_UNSUPPORTED = ("$select", "$expand", "$filter", "$orderby", "$search", "$top")
_EXPAND_IDS = re.compile(r"id\s+eq\s+'([^']+)'", re.IGNORECASE)
_FILTER_EXTENDED = re.compile(
    r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:"
    r"\s*\1/id\s+eq\s+'([^']+)'\s+and\s+\1/value\s+eq\s+'([^']*)'\s*\)$",
    re.IGNORECASE,
)
_FILTER_ICAL = re.compile(r"^iCalUId\s+eq\s+'([^']+)'$", re.IGNORECASE)
_ORDER_KEYS: dict[str, Callable[[EventRecord], Any]] = {
    "start/datetime": lambda event: event.start.astimezone(dt.UTC),
    "end/datetime": lambda event: event.end.astimezone(dt.UTC),
    "createddatetime": lambda event: event.created,
    "lastmodifieddatetime": lambda event: event.modified,
    "subject": lambda event: event.subject.casefold(),
}
_AVAILABILITY = {"free": "0", "workingElsewhere": "0", "tentative": "1", "busy": "2", "oof": "3", "unknown": "0"}


def graph_error_response(status: int) -> Response:
    """Graph's error body for an HTTP status: what fault injection answers on the Microsoft port
    (429 `TooManyRequests`, 5xx, 401 `InvalidAuthenticationToken`…)."""
    code, message = _GRAPH_ERRORS.get(status, ("generalException", "An unspecified error has occurred."))
    return error_response(GraphError(status, code, message))


def error_response(error: GraphError, request: Request | None = None) -> JSONResponse:
    request_id = guid()
    client_request_id = (request.headers.get("client-request-id") if request else None) or request_id
    inner = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id,
    }
    headers = {"request-id": request_id, "client-request-id": client_request_id} | error.headers
    if error.status == 401:
        headers.setdefault("WWW-Authenticate", _WWW_AUTHENTICATE)
    body = {"error": {"code": error.code, "message": error.message, "innerError": inner}}
    return JSONResponse(body, status_code=error.status, headers=headers)


class GraphConfig(BaseModel):
    """The Graph switches (`/_sandbox/graph/config`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_concurrency: int = Field(4, ge=1, description="concurrent requests per mailbox (Outlook: 4)")
    retry_after: float = Field(1.0, ge=0, description="seconds in Retry-After of a MailboxConcurrency 429")
    page_size: int = Field(10, ge=1, le=MAX_TOP, description="default page size of lists and delta")


class GraphConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_concurrency: int | None = Field(None, ge=1)
    retry_after: float | None = Field(None, ge=0)
    page_size: int | None = Field(None, ge=1, le=MAX_TOP)


class Usage(BaseModel):
    in_flight: int
    max_concurrency: int


class MailboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_zone: str = Field(description="a Windows or IANA zone name")


class CalendarRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)


class SeedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(20, ge=0, le=200_000, description="single events")
    seed: int = 0
    days: int = Field(30, ge=1, description="single and all-day events spread over this many days around now")
    recurring: int = Field(2, ge=0, le=100, description="series (weekly with no end, daily × 20)")
    all_day: int = Field(1, ge=0, le=1000)
    calendar_id: str | None = None


@dataclass(frozen=True)
class GraphCall:
    """An admitted Graph call: the request, the signed-in user's mailbox, and the returned times' zone."""

    request: Request
    mailbox: Mailbox
    account: SandboxAccount
    now: dt.datetime
    time_zone: str
    base_url: str

    def query(self, name: str) -> str | None:
        """A query parameter, its name compared case-insensitively (`startdatetime` works, as at Graph)."""
        wanted = name.casefold()
        return next((value for key, value in self.request.query_params.items() if key.casefold() == wanted), None)

    def has_query(self, name: str) -> bool:
        return self.query(name) is not None


class GraphWorld:
    """The Graph side of the Microsoft `SandboxState`: mailboxes, concurrency slots and the hold gate.

    Lock order: never call the kit's state while holding `_lock` (the kit calls `reset` with its own lock held).
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._lock = threading.RLock()
        self.config = GraphConfig()
        self._mailboxes: dict[str, Mailbox] = {}
        self._in_flight: dict[str, int] = {}
        self.gate = HoldGate()

    def reset(self) -> None:
        with self._lock:
            self.config = GraphConfig()
            self._mailboxes.clear()
            self._in_flight.clear()
            self.gate.release()

    def mailbox(self, account: SandboxAccount) -> Mailbox:
        """The account's mailbox, created empty (one default calendar) on first use."""
        with self._lock:
            mailbox = self._mailboxes.get(account.login)
            if mailbox is None:
                mailbox = self._mailboxes[account.login] = Mailbox(account.login, account.user_id)
            return mailbox

    def mailbox_of(self, login: str) -> Mailbox:
        """The mailbox of a sandbox account (control API); 404 when there is no such account."""
        account = self.state.account(login)
        if account is None:
            raise HTTPException(404, f"no sandbox account {login!r} (create it first)")
        return self.mailbox(account)

    def find_mailbox(self, address: str) -> Mailbox | None:
        account = next((a for a in self.state.accounts() if a.login.casefold() == address.casefold()), None)
        return self.mailbox(account) if account else None

    def usage(self, login: str) -> Usage:
        with self._lock:
            return Usage(in_flight=self._in_flight.get(login, 0), max_concurrency=self.config.max_concurrency)

    def _admit(self, login: str) -> bool:
        with self._lock:
            if self._in_flight.get(login, 0) >= self.config.max_concurrency:
                return False
            self._in_flight[login] = self._in_flight.get(login, 0) + 1
            return True

    def _finish(self, login: str) -> None:
        with self._lock:
            self._in_flight[login] -= 1

    async def serve(
        self, request: Request, scopes: frozenset[str], handler: Callable[[GraphCall], Awaitable[Response]]
    ) -> Response:
        """Authenticate, check the scope, admit under the mailbox's concurrency limit, run `handler`."""
        token = bearer_token(request.headers.get("authorization"))
        now = self.state.clock.now()
        if not token:
            return error_response(GraphError(401, "InvalidAuthenticationToken", "Access token is empty."), request)
        info = self.state.lookup_access_token(token)
        if info is None:
            message = "IDX14100: JWT is not well formed, there are no dots (.) or it was not issued for this resource."
            return error_response(GraphError(401, "InvalidAuthenticationToken", message), request)
        if info.revoked:
            message = "Access token has expired or is not yet valid."
            return error_response(GraphError(401, "InvalidAuthenticationToken", message), request)
        if not info.is_active(now):
            message = "Lifetime validation failed, the token is expired."
            return error_response(GraphError(401, "InvalidAuthenticationToken", message), request)
        granted = {scope.casefold().removeprefix("https://graph.microsoft.com/") for scope in info.scopes}
        if not granted & scopes:
            code = "Authorization_RequestDenied" if scopes is USER_SCOPES else "ErrorAccessDenied"
            message = (
                "Insufficient privileges to complete the operation."
                if scopes is USER_SCOPES
                else "Access is denied. Check credentials and try again."
            )
            return error_response(GraphError(403, code, message), request)
        user = request.path_params.get("user")
        if user is not None and user.casefold() not in (info.account.user_id.casefold(), info.account.login.casefold()):
            # delegated permissions reach the signed-in user's own mailbox only (no *.Shared scopes here)
            message = "Access is denied. Check credentials and try again."
            return error_response(GraphError(403, "ErrorAccessDenied", message), request)
        login = info.account.login
        if not self._admit(login):
            retry = f"{self.config.retry_after:g}"
            error = GraphError(
                429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.", {"Retry-After": retry}
            )
            return error_response(error, request)
        try:
            await self.gate.passed()
            call = GraphCall(
                request=request,
                mailbox=self.mailbox(info.account),
                account=info.account,
                now=now,
                time_zone=_prefer_time_zone(request),
                base_url=str(request.base_url).rstrip("/"),
            )
            response = await handler(call)
            if call.time_zone != UTC_NAME or "outlook.timezone" in prefer_header(request):
                response.headers.append("Preference-Applied", f'outlook.timezone="{call.time_zone}"')
        except GraphError as error:
            response = error_response(error, request)
        finally:
            self._finish(login)
        request_id = guid()
        response.headers.setdefault("request-id", request_id)
        response.headers.setdefault("client-request-id", request.headers.get("client-request-id") or request_id)
        return response


graph_world = per_state(GraphWorld)
"""The Graph world of a Microsoft sandbox state (one per state; reset with it)."""


def _prefer_time_zone(request: Request) -> str:
    try:
        return preferred_time_zone(prefer_header(request)) or UTC_NAME
    except TimeZoneNotSupported as error:
        raise GraphError(400, "TimeZoneNotSupportedException", str(error)) from None


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=JSON_MEDIA_TYPE, headers=dict(headers or {}))


# -- request parsing ----------------------------------------------------------------------------


def _int_query(call: GraphCall, name: str, default: int, high: int | None = None) -> int:
    raw = call.query(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query parameter '{name}'.") from None
    if value < 0:
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query parameter '{name}'.")
    return min(value, high) if high is not None else value


def _window(call: GraphCall) -> tuple[dt.datetime, dt.datetime]:
    start, end = call.query("startDateTime"), call.query("endDateTime")
    if not start or not end:
        raise GraphError(
            400, "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and "
            "EndDateTime.",
        )  # fmt: skip
    try:
        window = parse_query_time(start), parse_query_time(end)
    except ValueError as error:
        raise GraphError(400, "ErrorInvalidParameter", str(error)) from None
    if window[1] <= window[0]:
        message = "The parameter 'EndDateTime' must be later than 'StartDateTime'."
        raise GraphError(400, "ErrorInvalidParameter", message)
    return window


def _expanded_ids(call: GraphCall) -> list[str] | None:
    expand = call.query("$expand")
    if expand is None:
        return None
    if not expand.strip().casefold().startswith("singlevalueextendedproperties"):
        message = f"Parsing OData Select and Expand failed: Could not find a property named '{expand}'."
        raise GraphError(400, "BadRequest", message)
    return _EXPAND_IDS.findall(expand)


def _selected(call: GraphCall) -> set[str] | None:
    select = call.query("$select")
    if select is None:
        return None
    return {name.strip() for name in select.split(",") if name.strip()}


def _render(call: GraphCall, event: EventRecord) -> dict[str, Any]:
    body = event.to_json(call.time_zone, extended_ids=_expanded_ids(call))
    selected = _selected(call)
    if selected is None:
        return body
    keep = selected | {"@odata.type", "@odata.etag", "id", "singleValueExtendedProperties"}
    return {key: value for key, value in body.items() if key in keep}


def _filtered(call: GraphCall, events: list[EventRecord]) -> list[EventRecord]:
    raw = call.query("$filter")
    if raw is None:
        return events
    if match := _FILTER_EXTENDED.match(raw.strip()):
        wanted_id, wanted_value = " ".join(match.group(2).split()).casefold(), match.group(3)
        return [
            event
            for event in events
            if any(key.casefold() == wanted_id and value == wanted_value for key, value in event.extended)
        ]
    if match := _FILTER_ICAL.match(raw.strip()):
        return [event for event in events if event.ical_uid == match.group(1)]
    raise GraphError(400, "ErrorInvalidUrlQueryFilter", f"The query filter '{raw}' isn't supported by the sandbox.")


def _ordered(call: GraphCall, events: list[EventRecord]) -> list[EventRecord]:
    raw = call.query("$orderby")
    if raw is None:
        return events
    name, _, direction = raw.strip().partition(" ")
    key = _ORDER_KEYS.get(name.casefold())
    if key is None or direction.strip().casefold() not in ("", "asc", "desc"):
        raise GraphError(400, "ErrorInvalidProperty", f"The property '{name}' does not support sorting.")
    return sorted(events, key=key, reverse=direction.strip().casefold() == "desc")


def _page(call: GraphCall, events: list[EventRecord], context: str, default_size: int) -> Response:
    """A collection with `$top`/`$skip` paging: `@odata.nextLink` while more remain."""
    prefer_size = preferred_page_size(prefer_header(call.request))
    top = _int_query(call, "$top", prefer_size or default_size, MAX_TOP) or default_size
    skip = _int_query(call, "$skip", 0)
    body: dict[str, Any] = {"@odata.context": f"{call.base_url}{GRAPH_PREFIX}/$metadata#{context}"}
    if skip + top < len(events):
        params = [(key, value) for key, value in call.request.query_params.multi_items() if key.casefold() != "$skip"]
        params.append(("$skip", str(skip + top)))
        query = "&".join(f"{quote(key, safe='$')}={quote(value, safe='')}" for key, value in params)
        body["@odata.nextLink"] = f"{call.base_url}{call.request.url.path}?{query}"
    body["value"] = [_render(call, event) for event in events[skip : skip + top]]
    return json_response(body)


async def _json_body(call: GraphCall) -> dict[str, Any]:
    try:
        body = json.loads(await call.request.body() or b"null")
    except ValueError:
        message = (
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
            "valid JSON format."
        )
        raise GraphError(400, "BadRequest", message) from None
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    return body


# -- API handlers -------------------------------------------------------------------------------


async def _me(call: GraphCall) -> Response:
    mailbox = call.mailbox
    given, _, surname = mailbox.display_name.partition(" ")
    return json_response({
        "@odata.context": f"{call.base_url}{GRAPH_PREFIX}/$metadata#users/$entity",
        "businessPhones": [],
        "displayName": mailbox.display_name,
        "givenName": given,
        "jobTitle": None,
        "mail": mailbox.login,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": surname or None,
        "userPrincipalName": mailbox.login,
        "id": call.account.user_id,
    })  # fmt: skip


async def _calendars(call: GraphCall) -> Response:
    owner = call.mailbox.email_address
    return json_response({
        "@odata.context": f"{call.base_url}{GRAPH_PREFIX}/$metadata#users('{call.account.user_id}')/calendars",
        "value": [calendar.to_json(owner) for calendar in call.mailbox.calendars()],
    })  # fmt: skip


async def _calendar(call: GraphCall) -> Response:
    calendar_id = call.request.path_params.get("calendar_id")
    calendar = call.mailbox.calendar(calendar_id) if calendar_id else call.mailbox.default_calendar
    context = f"{call.base_url}{GRAPH_PREFIX}/$metadata#users('{call.account.user_id}')/calendars/$entity"
    return json_response({"@odata.context": context} | calendar.to_json(call.mailbox.email_address))


def _calendar_id(call: GraphCall) -> str | None:
    calendar_id = call.request.path_params.get("calendar_id")
    return call.mailbox.calendar(calendar_id).id if calendar_id else None


async def _list_events(call: GraphCall, page_size: int) -> Response:
    events = _ordered(call, _filtered(call, call.mailbox.events(_calendar_id(call))))
    return _page(call, events, f"users('{call.account.user_id}')/events", page_size)


async def _create_event(call: GraphCall) -> Response:
    event = call.mailbox.create(await _json_body(call), calendar_id=_calendar_id(call), now=call.now)
    context = f"{call.base_url}{GRAPH_PREFIX}/$metadata#users('{call.account.user_id}')/events/$entity"
    location = f"{call.base_url}{GRAPH_PREFIX}/me/events/{event.id}"
    return json_response({"@odata.context": context} | _render(call, event), 201, {"Location": location})


async def _get_event(call: GraphCall) -> Response:
    event = call.mailbox.get(call.request.path_params["event_id"])
    context = f"{call.base_url}{GRAPH_PREFIX}/$metadata#users('{call.account.user_id}')/events/$entity"
    return json_response({"@odata.context": context} | _render(call, event), headers={"ETag": event.etag})


async def _update_event(call: GraphCall) -> Response:
    body = await _json_body(call)
    event = call.mailbox.update(
        call.request.path_params["event_id"], body, now=call.now, if_match=call.request.headers.get("if-match")
    )
    context = f"{call.base_url}{GRAPH_PREFIX}/$metadata#users('{call.account.user_id}')/events/$entity"
    return json_response({"@odata.context": context} | _render(call, event), headers={"ETag": event.etag})


async def _delete_event(call: GraphCall) -> Response:
    call.mailbox.delete(call.request.path_params["event_id"], if_match=call.request.headers.get("if-match"))
    return Response(status_code=204)


async def _instances(call: GraphCall, page_size: int) -> Response:
    master = call.mailbox.get(call.request.path_params["event_id"])
    start, end = _window(call)
    events = call.mailbox.instances(start, end, master_id=master.id) if master.type == "seriesMaster" else []
    return _page(call, events, f"users('{call.account.user_id}')/events('{master.id}')/instances", page_size)


async def _calendar_view(call: GraphCall, page_size: int) -> Response:
    start, end = _window(call)
    events = _ordered(call, call.mailbox.instances(start, end, calendar_id=_calendar_id(call)))
    return _page(call, events, f"users('{call.account.user_id}')/calendarView", page_size)


def prefer_header(request: Request) -> str:
    """Every `Prefer` header of the request as one list: a client may send its preferences in one
    header (`odata.maxpagesize=50, outlook.timezone="…"`) or one header each, and Graph honours both."""
    return ", ".join(request.headers.getlist("prefer"))


async def _delta(call: GraphCall, default_size: int) -> Response:
    unsupported = [name for name in _DELTA_UNSUPPORTED if call.has_query(name)]
    if unsupported:
        raise GraphError(
            400, "ErrorInvalidUrlQuery",
            "The following parameters are not supported with change tracking over the 'CalendarView' resource: "
            f"'{', '.join(unsupported)}'.",
        )  # fmt: skip
    size = preferred_page_size(prefer_header(call.request))
    skip_token, delta_token = call.query("$skiptoken"), call.query("$deltatoken")
    mailbox = call.mailbox
    if skip_token is not None:
        token = skip_token
    elif delta_token is not None:
        token = mailbox.resume_delta(delta_token, page_size=size or default_size)
    else:
        start, end = _window(call)
        token = mailbox.begin_delta(start, end, page_size=size or default_size)
    items, following, last = mailbox.delta_page(token, page_size=size)
    link = f"{call.base_url}{GRAPH_PREFIX}/me/calendarView/delta?"
    body: dict[str, Any] = {"@odata.context": f"{call.base_url}{GRAPH_PREFIX}/$metadata#Collection(event)"}
    if last:
        body["@odata.deltaLink"] = f"{link}$deltatoken={following}"
    else:
        body["@odata.nextLink"] = f"{link}$skiptoken={following}"
    body["value"] = [_delta_json(call, item) for item in items]
    headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if size else {}
    return json_response(body, headers=headers)


def _delta_json(call: GraphCall, item: DeltaItem | Removed) -> dict[str, Any]:
    if isinstance(item, Removed):
        return item.to_json()
    return item.event.to_json(call.time_zone, stub=item.stub)


async def _get_schedule(call: GraphCall, world: GraphWorld) -> Response:
    # Action parameters are matched case-insensitively: msgraph-sdk sends `Schedules`, `StartTime`…
    names = {"schedules", "startTime", "endTime", "availabilityViewInterval"}
    body = {next((name for name in names if name.casefold() == key.casefold()), key): value
            for key, value in (await _json_body(call)).items()}  # fmt: skip
    schedules = body.get("schedules")
    if not isinstance(schedules, list) or not schedules or not all(isinstance(item, str) for item in schedules):
        message = "The parameter 'schedules' must be a non-empty list of SMTP addresses."
        raise GraphError(400, "ErrorInvalidParameter", message)
    if len(schedules) > MAX_SCHEDULES:
        raise GraphError(
            400, "ErrorMailboxDataArrayTooBig",
            f"The number of mailboxes in the request exceeds the maximum of {MAX_SCHEDULES}.",
        )  # fmt: skip
    if "availabilityViewInterval" in body and body["availabilityViewInterval"] is None:
        raise GraphError(500, "generalException", "An unspecified error has occurred.")  # pitfalls.md §25
    interval = body.get("availabilityViewInterval", 30)
    if not isinstance(interval, int) or not 5 <= interval <= 1440:
        raise GraphError(400, "ErrorInvalidParameter", "availabilityViewInterval must be between 5 and 1440 minutes.")
    try:
        start, _ = parse_date_time_time_zone(body.get("startTime"))
        end, _ = parse_date_time_time_zone(body.get("endTime"))
    except TimeZoneNotSupported as error:
        raise GraphError(400, "TimeZoneNotSupportedException", str(error)) from None
    except ValueError as error:
        message = f"startTime and endTime must be dateTimeTimeZone values: {error}"
        raise GraphError(400, "ErrorInvalidParameter", message) from None
    if end <= start:
        raise GraphError(400, "ErrorInvalidParameter", "The endTime must be later than the startTime.")
    if end - start > MAX_SCHEDULE_WINDOW:
        raise GraphError(
            400, "ErrorTimeIntervalTooBig",
            "The time duration specified is too long. The duration must be less than or equal to "
            f"{MAX_SCHEDULE_WINDOW.days} days.",
        )  # fmt: skip
    value = [
        _schedule(world.find_mailbox(address), address, start, end, interval, call.time_zone) for address in schedules
    ]
    return json_response({
        "@odata.context": f"{call.base_url}{GRAPH_PREFIX}/$metadata#Collection(microsoft.graph.scheduleInformation)",
        "value": value,
    })  # fmt: skip


def _schedule(
    mailbox: Mailbox | None, address: str, start: dt.datetime, end: dt.datetime, interval: int, label: str
) -> dict[str, Any]:
    if mailbox is None:
        return {
            "scheduleId": address,
            "availabilityView": "",
            "error": {
                "message": f"The mailbox '{address}' was not found.",
                "responseCode": "ErrorMailRecipientNotFound",
            },
            "scheduleItems": [],
            "workingHours": None,
        }
    busy = [event for event in mailbox.instances(start, end) if not event.is_cancelled and event.show_as != "free"]
    slots = math.ceil((end - start) / dt.timedelta(minutes=interval))
    view = []
    for index in range(slots):
        slot_start = start + dt.timedelta(minutes=interval * index)
        slot_end = slot_start + dt.timedelta(minutes=interval)
        digits = [_AVAILABILITY.get(event.show_as, "0") for event in busy if event.overlaps(slot_start, slot_end)]
        view.append(max(digits, default="0"))
    items = [
        {
            "isPrivate": event.sensitivity in ("private", "confidential"),
            "status": event.show_as,
            "subject": event.subject,
            "location": event.location.get("displayName", ""),
            "isMeeting": bool(event.attendees),
            "isRecurring": event.series_master_id is not None,
            "isException": event.type == "exception",
            "isReminderSet": event.is_reminder_on,
            "start": render(event.start, label),
            "end": render(event.end, label),
        }
        for event in busy
    ]
    return {
        "scheduleId": address,
        "availabilityView": "".join(view),
        "scheduleItems": items,
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": mailbox.time_zone},
        },
    }


def graph_routes(state: SandboxState) -> APIRouter:
    """The Graph calendar routes under `/v1.0` and their control API under `/_sandbox/graph`."""
    world = graph_world(state)
    router = APIRouter(tags=["Microsoft Graph"])

    def route(
        scopes: frozenset[str], handler: Callable[[GraphCall], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await world.serve(request, scopes, handler)

        return endpoint

    async def list_events(call: GraphCall) -> Response:
        return await _list_events(call, world.config.page_size)

    async def calendar_view(call: GraphCall) -> Response:
        return await _calendar_view(call, world.config.page_size)

    async def instances(call: GraphCall) -> Response:
        return await _instances(call, world.config.page_size)

    async def delta(call: GraphCall) -> Response:
        return await _delta(call, world.config.page_size)

    async def get_schedule(call: GraphCall) -> Response:
        return await _get_schedule(call, world)

    router.include_router(control_routes(world))
    add = router.add_api_route
    for me in (f"{GRAPH_PREFIX}/me", f"{GRAPH_PREFIX}/users/{{user}}"):  # `users/{id | UPN}` of the signed-in user
        add(me, route(USER_SCOPES, _me), methods=["GET"])
        add(f"{me}/calendars", route(READ_SCOPES, _calendars), methods=["GET"])
        add(f"{me}/calendar", route(READ_SCOPES, _calendar), methods=["GET"])
        add(f"{me}/calendar/getSchedule", route(READ_SCOPES, get_schedule), methods=["POST"])
        for function in ("delta", "delta()", "microsoft.graph.delta()"):  # OData spellings; the SDKs send `delta()`
            add(f"{me}/calendarView/{function}", route(READ_SCOPES, delta), methods=["GET"])
        add(f"{me}/calendarView", route(READ_SCOPES, calendar_view), methods=["GET"])
        add(f"{me}/events", route(READ_SCOPES, list_events), methods=["GET"])
        add(f"{me}/events", route(WRITE_SCOPES, _create_event), methods=["POST"])
        add(f"{me}/events/{{event_id}}", route(READ_SCOPES, _get_event), methods=["GET"])
        add(f"{me}/events/{{event_id}}", route(WRITE_SCOPES, _update_event), methods=["PATCH"])
        add(f"{me}/events/{{event_id}}", route(WRITE_SCOPES, _delete_event), methods=["DELETE"])
        add(f"{me}/events/{{event_id}}/instances", route(READ_SCOPES, instances), methods=["GET"])
        add(f"{me}/calendars/{{calendar_id}}", route(READ_SCOPES, _calendar), methods=["GET"])
        add(f"{me}/calendars/{{calendar_id}}/events", route(READ_SCOPES, list_events), methods=["GET"])
        add(f"{me}/calendars/{{calendar_id}}/events", route(WRITE_SCOPES, _create_event), methods=["POST"])
        add(f"{me}/calendars/{{calendar_id}}/calendarView", route(READ_SCOPES, calendar_view), methods=["GET"])
    return router


# -- control API --------------------------------------------------------------------------------


def control_routes(world: GraphWorld) -> APIRouter:
    """`/_sandbox/graph/…`: see the module docstring's table."""
    router = APIRouter(prefix=f"{CONTROL_PREFIX}/graph", tags=["sandbox control: Microsoft Graph"])

    def now() -> dt.datetime:
        return world.state.clock.now()

    def acting(action: Callable[[], Response]) -> Response:
        try:
            return action()
        except GraphError as error:
            return error_response(error)

    @router.get("/config")
    def read_config() -> GraphConfig:
        return world.config

    @router.post("/config")
    def change_config(update: GraphConfigUpdate) -> GraphConfig:
        world.config = world.config.model_copy(update=update.model_dump(exclude_none=True))
        return world.config

    router.include_router(hold_routes(world.gate))

    @router.get("/mailboxes/{login}/usage")
    def usage(login: str) -> Usage:
        return world.usage(world.mailbox_of(login).login)

    @router.post("/mailboxes/{login}/settings")
    def settings(login: str, body: MailboxSettings) -> dict[str, str]:
        mailbox = world.mailbox_of(login)
        try:
            zone(body.time_zone)
        except TimeZoneNotSupported as error:
            raise HTTPException(400, str(error)) from None
        mailbox.time_zone = body.time_zone
        return {"time_zone": mailbox.time_zone}

    @router.post("/mailboxes/{login}/calendars")
    def add_calendar(login: str, body: CalendarRequest) -> Response:
        mailbox = world.mailbox_of(login)
        return json_response(mailbox.add_calendar(body.name).to_json(mailbox.email_address), 201)

    @router.post("/mailboxes/{login}/seed")
    def seed(login: str, body: SeedRequest) -> Response:
        mailbox = world.mailbox_of(login)

        def run() -> Response:
            created = seed_events(
                mailbox, count=body.count, seed=body.seed, now=now(), days=body.days, recurring=body.recurring,
                all_day=body.all_day, calendar_id=body.calendar_id,
            )  # fmt: skip
            return json_response({"seeded": len(created), "ids": [event.id for event in created]})

        return acting(run)

    @router.post("/mailboxes/{login}/events")
    def create_event(login: str, body: dict[str, Any] = Body(...), calendar_id: str | None = None) -> Response:
        mailbox = world.mailbox_of(login)
        return acting(
            lambda: json_response(mailbox.create(body, calendar_id=calendar_id, now=now()).to_json(UTC_NAME), 201)
        )

    @router.patch("/mailboxes/{login}/events/{event_id}")
    def edit_event(login: str, event_id: str, body: dict[str, Any] = Body(...)) -> Response:
        mailbox = world.mailbox_of(login)
        return acting(lambda: json_response(mailbox.update(event_id, body, now=now()).to_json(UTC_NAME)))

    @router.delete("/mailboxes/{login}/events/{event_id}")
    def delete_event(login: str, event_id: str) -> Response:
        mailbox = world.mailbox_of(login)

        def run() -> Response:
            mailbox.delete(event_id)
            return json_response({"deleted": event_id})

        return acting(run)

    @router.post("/mailboxes/{login}/events/{event_id}/cancel")
    def cancel_event(login: str, event_id: str) -> Response:
        mailbox = world.mailbox_of(login)
        return acting(lambda: json_response(mailbox.cancel(event_id, now=now()).to_json(UTC_NAME)))

    @router.post("/mailboxes/{login}/delta/expire")
    def expire_delta(login: str) -> dict[str, int]:
        return {"expired": world.mailbox_of(login).expire_sync_tokens()}

    @router.get("/mailboxes/{login}/events")
    def truth(login: str, startDateTime: str | None = None, endDateTime: str | None = None) -> Response:
        mailbox = world.mailbox_of(login)
        if startDateTime is None or endDateTime is None:
            return json_response(mailbox.truth())
        try:
            start, end = parse_query_time(startDateTime), parse_query_time(endDateTime)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        instances = mailbox.instances(start, end)
        return json_response({"login": mailbox.login, "instances": [event.to_json(UTC_NAME) for event in instances]})

    return router
