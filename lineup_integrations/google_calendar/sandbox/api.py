"""Google Calendar API v3 in the sandbox, on the same port as Google's OAuth twin.

`GOOGLE_BASE_URL` stands in for `https://www.googleapis.com`; googleapiclient reaches it with
`build("calendar", "v3", credentials=…, client_options={"api_endpoint": f"{base}/calendar/v3/"})`.
Routes (parameters and enums as the discovery document `calendar.v3.json` declares them):

- `GET /calendar/v3/users/me/calendarList` — `maxResults` (default 100, at most 250), `pageToken`,
  `syncToken`, `minAccessRole`, `showDeleted`, `showHidden`.
- `GET /calendar/v3/calendars/{calendarId|primary}/events` — `pageToken`, `maxResults` (default
  250, at most 2500: larger values are served as 2500), `syncToken`, `singleEvents`, `orderBy`
  startTime|updated (startTime needs `singleEvents`), `timeMin` (exclusive bound on the end) /
  `timeMax` (exclusive bound on the start; both RFC 3339 with an offset, timeMin < timeMax),
  `showDeleted`, `updatedMin`, `iCalUID`, `privateExtendedProperty`/`sharedExtendedProperty`
  (repeatable `name=value`), `q`, `eventTypes`, `timeZone`. `syncToken` with iCalUID, orderBy,
  q, timeMin, timeMax, updatedMin or an extended-property constraint, or with `showDeleted=false`,
  is 400 `invalid`; a dead or unknown sync token is 410 `fullSyncRequired`.
- `POST …/events` (insert; `id` honoured, 409 `duplicate`), `GET|PUT|PATCH|DELETE …/events/{eventId}`
  (`If-Match` → 412 `conditionNotMet`; `If-None-Match` on GET → 304; DELETE → 204, twice → 410
  `deleted`), `GET …/events/{eventId}/instances` (`timeMin`, `timeMax`, `originalStart`,
  `showDeleted`, `maxResults`, `pageToken`, `timeZone`). `sendUpdates` all|externalOnly|none is
  accepted (the sandbox sends no mail).
- `POST /calendar/v3/freeBusy` `{"timeMin","timeMax","timeZone"?,"items":[{"id"}],"calendarExpansionMax"?}`
  → `{"kind":"calendar#freeBusy","timeMin","timeMax","calendars":{id:{"busy":[…]} | {"busy":[],"errors":[…]}}}`.

Every call needs `Authorization: Bearer <access token>` issued by this sandbox (else 401
`authError`, with `WWW-Authenticate`, which makes google-auth refresh), and a scope the
discovery document lists for the method (else 403 `insufficientPermissions`). Errors use
Google's body (`errors.py`); injected faults too (`error_responder`).

Choices where Google's documentation is silent: the message of the syncToken-conflict 400;
`instances` of a non-recurring event is an empty list; a bad RFC 3339 value is 400 `badRequest`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import QueryParams

from lineup_integrations.google_calendar.sandbox import errors
from lineup_integrations.google_calendar.sandbox.calendars import AccountCalendars
from lineup_integrations.google_calendar.sandbox.control import control_routes
from lineup_integrations.google_calendar.sandbox.events import EVENT_TYPES, parse_rfc3339, zone_of
from lineup_integrations.google_calendar.sandbox.queries import EventQuery, render_busy
from lineup_integrations.google_calendar.sandbox.store import CalendarWorld, PageRequest, calendar_world
from lineup_integrations.sandbox.app import ErrorResponder
from lineup_integrations.sandbox.kit import SandboxState

API_PREFIX = "/calendar/v3"
EVENTS_PAGE = (250, 2500)  # (default, largest) maxResults of events.list and events.instances
CALENDAR_LIST_PAGE = (100, 250)
FREEBUSY_MAX_CALENDARS = 50
FREEBUSY_MAX_GROUP = 100
ORDER_BY: tuple[str, ...] = ("startTime", "updated")
SEND_UPDATES: tuple[str, ...] = ("all", "externalOnly", "none")
ACCESS_ROLES: tuple[str, ...] = ("freeBusyReader", "owner", "reader", "writer", "writerWithoutPrivateAccess")
SYNC_EXCLUSIVE: tuple[str, ...] = (
    "iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin",
)  # fmt: skip
_UNBOUND = frozenset({"pageToken", "maxResults", "alt", "fields", "prettyPrint", "quotaUser", "key", "oauth_token",
                      "access_token", "userIp", "$.xgafv", "callback"})  # fmt: skip
"""Query parameters a page token is not bound to: the page size and Google's global parameters."""

_SCOPE = "https://www.googleapis.com/auth/"
READ_EVENTS = frozenset(_SCOPE + s for s in (
    "calendar", "calendar.app.created", "calendar.events", "calendar.events.freebusy", "calendar.events.owned",
    "calendar.events.owned.readonly", "calendar.events.public.readonly", "calendar.events.readonly",
    "calendar.readonly",
))  # fmt: skip
WRITE_EVENTS = frozenset(_SCOPE + s for s in ("calendar", "calendar.app.created", "calendar.events",
                                              "calendar.events.owned"))  # fmt: skip
READ_CALENDAR_LIST = frozenset(_SCOPE + s for s in ("calendar", "calendar.calendarlist",
                                                    "calendar.calendarlist.readonly", "calendar.readonly"))  # fmt: skip
QUERY_FREEBUSY = frozenset(_SCOPE + s for s in ("calendar", "calendar.events.freebusy", "calendar.freebusy",
                                                "calendar.readonly"))  # fmt: skip
"""The scopes the discovery document lists per method (any one of them admits the call)."""


@dataclass(frozen=True)
class CalendarCall:
    """An authenticated API call: the request and the calendars of the token's account."""

    request: Request
    data: AccountCalendars

    @property
    def params(self) -> QueryParams:
        return self.request.query_params

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])


Handler = Callable[[CalendarWorld, CalendarCall], Awaitable[Response]]


def calendar_routes(state: SandboxState) -> APIRouter:
    """The Calendar v3 routes and their control API (`/_sandbox/calendar/…`, see `control.py`)."""
    world = calendar_world(state)
    router = APIRouter(tags=["Google Calendar v3"])
    router.include_router(control_routes(world))

    def route(scopes: Collection[str], handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                call = CalendarCall(request, _authorize(world, request, scopes))
                return await handler(world, call)
            except errors.ApiError as error:
                return error.response()

        return endpoint

    events = f"{API_PREFIX}/calendars/{{calendarId}}/events"
    calendar_list = route(READ_CALENDAR_LIST, _calendar_list)
    router.add_api_route(f"{API_PREFIX}/users/me/calendarList", calendar_list, methods=["GET"])
    router.add_api_route(f"{API_PREFIX}/freeBusy", route(QUERY_FREEBUSY, _free_busy), methods=["POST"])
    router.add_api_route(events, route(READ_EVENTS, _list_events), methods=["GET"])
    router.add_api_route(events, route(WRITE_EVENTS, _insert_event), methods=["POST"])
    router.add_api_route(f"{events}/{{eventId}}/instances", route(READ_EVENTS, _instances), methods=["GET"])
    router.add_api_route(f"{events}/{{eventId}}", route(READ_EVENTS, _get_event), methods=["GET"])
    router.add_api_route(f"{events}/{{eventId}}", route(WRITE_EVENTS, _update_event), methods=["PUT"])
    router.add_api_route(f"{events}/{{eventId}}", route(WRITE_EVENTS, _patch_event), methods=["PATCH"])
    router.add_api_route(f"{events}/{{eventId}}", route(WRITE_EVENTS, _delete_event), methods=["DELETE"])
    return router


def calendar_error_response(state: SandboxState) -> ErrorResponder:
    """The fault responder of the Google sandbox: Google's error bodies, with the 403 reason that
    `/_sandbox/calendar/config {"forbidden_reason"}` chose."""
    return errors.error_responder(calendar_world(state).fault_reasons)


def _authorize(world: CalendarWorld, request: Request, scopes: Collection[str]) -> AccountCalendars:
    header = request.headers.get("authorization")
    token: str | None = None
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    else:
        token = request.query_params.get("access_token") or request.query_params.get("oauth_token")
    info = world.state.lookup_access_token(token) if token else None
    if info is None or not info.is_active(world.now()):
        raise errors.auth_error()
    if not set(info.scopes) & set(scopes):
        raise errors.insufficient_scopes()
    return world.account_data(info.account)


# -- parameters -----------------------------------------------------------------------------------


def _bool(params: QueryParams, name: str) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise errors.invalid(name)
    return raw.lower() == "true"


def _choice(params: QueryParams, name: str, choices: Collection[str]) -> str | None:
    value = params.get(name)
    if value is not None and value not in choices:
        raise errors.invalid(name)
    return value


def _time(params: QueryParams, name: str) -> dt.datetime | None:
    raw = params.get(name)
    return None if raw is None else parse_rfc3339(raw, name)


def _zone(params: QueryParams) -> str | None:
    name = params.get("timeZone")
    if name is None:
        return None
    try:
        zone_of(name)
    except KeyError:
        raise errors.invalid("timeZone") from None
    return name


def _page(params: QueryParams, sizes: tuple[int, int]) -> PageRequest:
    """The page a list request asks for; `maxResults` beyond the largest page is served as the largest."""
    default, largest = sizes
    raw = params.get("maxResults")
    size = default
    if raw is not None:
        try:
            size = int(raw)
        except ValueError:
            raise errors.invalid("maxResults") from None
        if size < 1:
            raise errors.invalid("maxResults")
    fingerprint = tuple(sorted((k, v) for k, v in params.multi_items() if k not in _UNBOUND))
    return PageRequest(page_token=params.get("pageToken"), max_results=min(size, largest), fingerprint=fingerprint)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise errors.ApiError(400, "parseError", "Parse Error") from None


def _write_params(params: QueryParams) -> None:
    """`sendUpdates` and `conferenceDataVersion` of a write: validated, then accepted (no mail is sent)."""
    _choice(params, "sendUpdates", SEND_UPDATES)
    _bool(params, "sendNotifications")
    version = params.get("conferenceDataVersion")
    if version is not None and version not in ("0", "1"):
        raise errors.invalid("conferenceDataVersion")


def _limit_attendees(resource: dict[str, Any], params: QueryParams) -> dict[str, Any]:
    """`maxAttendees`: at most that many attendees, with `attendeesOmitted` when some were left out."""
    raw = params.get("maxAttendees")
    if raw is None:
        return resource
    try:
        limit = int(raw)
    except ValueError:
        raise errors.invalid("maxAttendees") from None
    if limit < 1:
        raise errors.invalid("maxAttendees")
    attendees = resource.get("attendees", [])
    if len(attendees) > limit:
        resource["attendees"] = attendees[:limit]
        resource["attendeesOmitted"] = True
    return resource


# -- handlers -------------------------------------------------------------------------------------


async def _calendar_list(world: CalendarWorld, call: CalendarCall) -> Response:
    params = call.params
    _choice(params, "minAccessRole", ACCESS_ROLES)
    _bool(params, "showDeleted")
    _bool(params, "showHidden")
    body = world.calendar_list(call.data, params.get("syncToken"), _page(params, CALENDAR_LIST_PAGE))
    return JSONResponse(body)


async def _list_events(world: CalendarWorld, call: CalendarCall) -> Response:
    params = call.params
    calendar = world.calendar(call.data, call.path("calendarId"))
    sync_token = params.get("syncToken")
    if sync_token is not None:
        for name in SYNC_EXCLUSIVE:
            if name in params:
                raise errors.invalid(name, f"The syncToken parameter cannot be combined with {name}.")
        if _bool(params, "showDeleted") is False:
            raise errors.invalid("showDeleted", "showDeleted=false is not allowed with a syncToken.")
    single_events = _bool(params, "singleEvents") or False
    order_by = _choice(params, "orderBy", ORDER_BY)
    if order_by == "startTime" and not single_events:
        raise errors.invalid("orderBy", "The requested ordering is not available for the particular query.")
    time_min, time_max = _time(params, "timeMin"), _time(params, "timeMax")
    if time_min is not None and time_max is not None and time_min >= time_max:
        raise errors.time_range_empty()
    event_types = tuple(params.getlist("eventTypes"))
    if any(kind not in EVENT_TYPES for kind in event_types):
        raise errors.invalid("eventTypes")
    _bool(params, "showHiddenInvitations")
    _bool(params, "alwaysIncludeEmail")
    query = EventQuery(
        single_events=single_events,
        show_deleted=_bool(params, "showDeleted") or False,
        order_by=order_by,
        time_min=time_min,
        time_max=time_max,
        updated_min=_time(params, "updatedMin"),
        ical_uid=params.get("iCalUID"),
        private=tuple(params.getlist("privateExtendedProperty")),
        shared=tuple(params.getlist("sharedExtendedProperty")),
        q=params.get("q"),
        event_types=event_types,
        response_zone=_zone(params),
        sync_token=sync_token,
    )
    body = world.list_events(call.data, calendar, query, _page(params, EVENTS_PAGE))
    body["items"] = [_limit_attendees(item, params) for item in body["items"]]
    return JSONResponse(body)


async def _instances(world: CalendarWorld, call: CalendarCall) -> Response:
    params = call.params
    calendar = world.calendar(call.data, call.path("calendarId"))
    time_min, time_max = _time(params, "timeMin"), _time(params, "timeMax")
    if time_min is not None and time_max is not None and time_min >= time_max:
        raise errors.time_range_empty()
    original: dt.datetime | dt.date | None = None
    raw_original = params.get("originalStart")
    if raw_original is not None:
        try:
            original = dt.date.fromisoformat(raw_original) if len(raw_original) == 10 else None
        except ValueError:
            raise errors.bad_request() from None
        if original is None:
            original = parse_rfc3339(raw_original, "originalStart")
    body = world.instances(
        call.data,
        calendar,
        call.path("eventId"),
        time_min=time_min,
        time_max=time_max,
        original_start=original,
        show_deleted=_bool(params, "showDeleted") or False,
        response_zone=_zone(params),
        page=_page(params, EVENTS_PAGE),
    )
    return JSONResponse(body)


async def _get_event(world: CalendarWorld, call: CalendarCall) -> Response:
    calendar = world.calendar(call.data, call.path("calendarId"))
    with world.lock:
        event = world.get_event(calendar, call.path("eventId"))
        resource = world.render_event(calendar, event, _zone(call.params))
    if call.request.headers.get("if-none-match") == resource["etag"]:
        return Response(status_code=304, headers={"ETag": resource["etag"]})
    return JSONResponse(_limit_attendees(resource, call.params), headers={"ETag": resource["etag"]})


async def _insert_event(world: CalendarWorld, call: CalendarCall) -> Response:
    _write_params(call.params)
    calendar = world.calendar(call.data, call.path("calendarId"))
    body = await _json_body(call.request)
    with world.lock:
        event = world.insert(call.data, calendar, body)
        return JSONResponse(world.render_event(calendar, event))


async def _update_event(world: CalendarWorld, call: CalendarCall) -> Response:
    return await _modify(world, call, patch=False)


async def _patch_event(world: CalendarWorld, call: CalendarCall) -> Response:
    return await _modify(world, call, patch=True)


async def _modify(world: CalendarWorld, call: CalendarCall, *, patch: bool) -> Response:
    _write_params(call.params)
    calendar = world.calendar(call.data, call.path("calendarId"))
    body = await _json_body(call.request)
    with world.lock:
        event = world.modify(
            call.data, calendar, call.path("eventId"), body, patch=patch, if_match=call.request.headers.get("if-match")
        )
        return JSONResponse(world.render_event(calendar, event))


async def _delete_event(world: CalendarWorld, call: CalendarCall) -> Response:
    _write_params(call.params)
    calendar = world.calendar(call.data, call.path("calendarId"))
    world.delete(call.data, calendar, call.path("eventId"), if_match=call.request.headers.get("if-match"))
    return Response(status_code=204)


async def _free_busy(world: CalendarWorld, call: CalendarCall) -> Response:
    body = await _json_body(call.request)
    if not isinstance(body, Mapping):
        raise errors.bad_request()
    bounds: dict[str, dt.datetime] = {}
    for name in ("timeMin", "timeMax"):
        if not body.get(name):
            raise errors.required("Required", location=name)
        bounds[name] = parse_rfc3339(str(body[name]), name)
    low, high = bounds["timeMin"], bounds["timeMax"]
    if low >= high:
        raise errors.time_range_empty()
    zone_name = body.get("timeZone") or "UTC"
    try:
        zone = zone_of(str(zone_name))
    except KeyError:
        raise errors.invalid("timeZone") from None
    expansion = _bounded_int(body, "calendarExpansionMax", FREEBUSY_MAX_CALENDARS)
    _bounded_int(body, "groupExpansionMax", FREEBUSY_MAX_GROUP)
    items = body.get("items") or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) and i.get("id") for i in items):
        raise errors.required("Required", location="items.id")
    accounts = world.state.accounts()  # read from the kit before taking the world's lock
    calendars: dict[str, Any] = {}
    for index, item in enumerate(items):
        calendar_id = str(item["id"])
        if index >= expansion:
            too_many = {"domain": "calendar", "reason": "tooManyCalendarsRequested"}
            calendars[calendar_id] = {"busy": [], "errors": [too_many]}
            continue
        found = world.find_calendar(call.data, calendar_id, accounts)
        if found is None:
            calendars[calendar_id] = {"busy": [], "errors": [{"domain": "global", "reason": "notFound"}]}
        else:
            calendars[calendar_id] = {"busy": render_busy(world.busy(found, low, high), zone)}
    return JSONResponse({
        "kind": "calendar#freeBusy",
        "timeMin": _format_bound(low),
        "timeMax": _format_bound(high),
        "calendars": calendars,
    })  # fmt: skip


def _bounded_int(body: Mapping[str, Any], name: str, largest: int) -> int:
    raw = body.get(name)
    if raw is None:
        return largest
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= largest:
        raise errors.invalid(name)
    return raw


def _format_bound(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.000Z")
