"""Zoho CRM's REST API in the sandbox, on the same port as Zoho's OAuth twin (`zoho/sandbox.py`).

API routes — US at the root, every other data centre under `/{dc}` (as the token's
`api_domain` says), API versions v2–v8:

- `GET  /crm/{v}/Contacts` — `fields` (required from v3: 400 REQUIRED_PARAM_MISSING; ≤ 50),
  `per_page` (≤ 200, default 200), `page`, `page_token` (v3+; opaque, server-side, 24 h, not
  with `page`), `sort_by` id|Created_Time|Modified_Time, `sort_order` desc|asc (default
  id desc), header `If-Modified-Since` (records modified after it; 304 when none). 204 with no
  body when nothing matches. From v3, `page` reaches the first 2,000 records
  (DISCRETE_PAGINATION_LIMIT_EXCEEDED beyond) and page tokens reach 100,000
  (PAGINATION_LIMIT_EXCEEDED). v2 has only `page`/`per_page`, without either limit.
- `GET  /crm/{v}/Contacts/deleted?type=all|recycle|permanent&page&per_page` (+ If-Modified-Since).
- `POST /crm/{v}/Contacts/upsert` — `{"data": [≤ 100], "duplicate_check_fields": ["Email"]}`;
  per-record results (`action` insert|update, `duplicate_field`); 200, 207 when mixed, 400 when
  every record failed.
- `GET  /crm/{v}/settings/fields?module=Contacts|Accounts|Leads|Deals` (field metadata; only Contacts
  holds records), `GET /crm/{v}/org`.
- `GET  /crm/{v}/users?type=CurrentUser|AllUsers|ActiveUsers|AdminUsers|…&page&per_page` →
  `{"users": [{id, full_name, email, role{name,id}, profile{name,id}, status, …}], "info"}`
  (`CurrentUser` = the token's user, what Zoho's SDK asks after every token grant); 204 when none.

Every call needs `Authorization: Zoho-oauthtoken <access token>` issued by this sandbox for
a user whose organisation lives in the data centre the call reached (else 401 INVALID_TOKEN;
another scheme such as `Bearer` → 401 AUTHENTICATION_FAILURE), and the scope the endpoint
needs (401 OAUTH_SCOPE_MISMATCH): `ZohoCRM.modules.{ALL|READ…}` or
`ZohoCRM.modules.contacts.{…}` for records (upsert needs CREATE and UPDATE, or WRITE/ALL),
`ZohoCRM.settings.{ALL|READ}` or `ZohoCRM.settings.fields.{…}` for fields, `ZohoCRM.org.{ALL|READ}`
for the org, `ZohoCRM.users.{ALL|READ}` for users. Each admitted call costs one credit of the organisation's rolling 24-hour budget
(default 5,000) and holds one of its concurrent slots (default 10); beyond either, 429
TOO_MANY_REQUESTS. `Retry-After` and `X-RATELIMIT-LIMIT/-REMAINING/-RESET` (RESET = seconds
until a credit frees) are off by default: clients must not depend on them.

Control API (test and demo only; never on the real service) — `{org}` is the Zoho org id,
the `account_id` that `POST /_sandbox/accounts` returns:

| Method and path | Body / query | Effect and answer |
|---|---|---|
| `GET/POST /_sandbox/crm/config` | `daily_credits`, `max_concurrency`, `rate_limit_headers`, `retry_after`, `page_token_record_limit`, `page_token_ttl` | read / change the CRM switches (every org) |
| `POST /_sandbox/crm/orgs/{org}/limits` | `daily_credits`, `max_concurrency` | this org's own budget and concurrency → its usage |
| `GET /_sandbox/crm/orgs/{org}/usage` | | `{daily_credits, credits_used, credits_remaining, max_concurrency, in_flight, reset_in}` |
| `POST /_sandbox/crm/orgs/{org}/seed` | `count`, `seed` (0), `days` (365) | add `count` generated contacts (deterministic per seed; Modified_Time spread over the past `days`) → `{seeded, contacts}` |
| `POST /_sandbox/crm/orgs/{org}/contacts` | Zoho field values; `?user_id=` | create one contact as a Zoho user → `{id, Modified_Time}` (400 with Zoho's per-record error) |
| `PATCH /_sandbox/crm/orgs/{org}/contacts/{id}` | Zoho field values; `?user_id=` | edit it (Modified_Time = now) → `{id, Modified_Time}` |
| `DELETE /_sandbox/crm/orgs/{org}/contacts/{id}` | `?permanent=false&user_id=` | delete it (recycle bin, or permanently) → `{ids}` |
| `POST /_sandbox/crm/orgs/{org}/contacts/edit-random` | `count`, `seed` | edit `count` random contacts (Title, Mobile) → `{ids, Modified_Time}` |
| `POST /_sandbox/crm/orgs/{org}/contacts/delete-random` | `count`, `seed`, `permanent` | delete `count` random contacts → `{ids}` |
| `GET /_sandbox/crm/orgs/{org}/truth` | `?fields=Email,Last_Name` | the org's truth: `{org_id, contacts: [{id, Modified_Time, …}], deleted: [{id, type, deleted_time}]}` |
| `POST /_sandbox/crm/hold`, `POST /_sandbox/crm/release` | | hold every admitted API call (holding its concurrency slot) until released |

Control writes act as a Zoho user other than the one who connected (default: the org's
second user; `?user_id=` picks another), so an integration can tell them from its own writes.
From the kit, on the same port: `POST /_sandbox/faults` (429/500/503/401 bodies, timeout,
connection reset, invalid JSON; for the next `count` matching requests or a seeded `rate`
share of them), `GET /_sandbox/requests?account_id={org}` (API calls per endpoint of an org),
`POST /_sandbox/clock/advance`, `POST /_sandbox/reset` (also empties every org).

Choices where Zoho's documentation is silent (provider-apis.md marks them [unv]): unknown names
in `fields` are ignored; `per_page` outside 1–200 and `page_token` on v2 are 400 INVALID_DATA;
deleted records come newest first; a page chain is bound to its `fields`, sort and
If-Modified-Since (a request that repeats them must repeat them unchanged).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
import re
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lineup_integrations.sandbox.control import CONTROL_PREFIX, hold_routes
from lineup_integrations.sandbox.kit import HoldGate, SandboxAccount, SandboxState, per_state
from lineup_integrations.zoho.sandbox.data import (
    DELETED_TYPES,
    DUPLICATE_CHECK_FIELDS,
    FIELDS_BY_NAME,
    MAX_FIELDS,
    MAX_PER_PAGE,
    MAX_UPSERT_RECORDS,
    MODULE,
    MODULE_FIELDS,
    SORT_KEYS,
    SORT_ORDERS,
    USER_TYPES,
    CrmError,
    CrmUser,
    OrgContacts,
    Page,
    PagingRules,
    RecordQuery,
    invalid_param,
    required_param_missing,
)

DAY_SECONDS = 86_400
_VERSION = re.compile(r"v([2-8])")
_CONTROL_ACTOR = 1  # control writes: the org's second user, not the one who connected
_WRITE_OPERATIONS = ("CREATE", "UPDATE", "DELETE")
ScopeNeed = tuple[str, str | None, str]
"""What an endpoint needs of the token's scopes: (group, resource or None, operation), e.g.
("modules", "contacts", "READ") or ("org", None, "READ")."""


class CrmConfig(BaseModel):
    """The CRM switches shared by every organisation (`/_sandbox/crm/config`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily_credits: int = Field(5_000, ge=0, description="API credits per organisation per rolling 24 h")
    max_concurrency: int = Field(10, ge=1, description="concurrent API calls per organisation")
    rate_limit_headers: bool = Field(False, description="send X-RATELIMIT-LIMIT/-REMAINING/-RESET")
    retry_after: bool = Field(False, description="send Retry-After on 429")
    page_token_record_limit: int = Field(100_000, ge=1, description="records a page-token chain reaches")
    page_token_ttl: int = Field(DAY_SECONDS, ge=1, description="seconds a page token lives")


class CrmConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_credits: int | None = Field(None, ge=0)
    max_concurrency: int | None = Field(None, ge=1)
    rate_limit_headers: bool | None = None
    retry_after: bool | None = None
    page_token_record_limit: int | None = Field(None, ge=1)
    page_token_ttl: int | None = Field(None, ge=1)


class OrgLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_credits: int | None = Field(None, ge=0)
    max_concurrency: int | None = Field(None, ge=1)


class Usage(BaseModel):
    daily_credits: int
    credits_used: int
    credits_remaining: int
    max_concurrency: int
    in_flight: int
    reset_in: int = Field(description="seconds until the oldest credit of the window frees (0 when none used)")


class SeedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0, le=2_000_000)
    seed: int = 0
    days: int = Field(365, ge=1)


class RandomEditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0)
    seed: int | None = None


class RandomDeleteRequest(RandomEditRequest):
    permanent: bool = False


@dataclass
class _Usage:
    calls: deque[float] = field(default_factory=deque)
    in_flight: int = 0


@dataclass(frozen=True)
class CrmCall:
    """An admitted API call: who makes it, against which org, at what sandbox time."""

    request: Request
    org: OrgContacts
    version: int
    now: float
    account: SandboxAccount | None = None  # the token's user (None only for calls made outside `serve`)

    @property
    def current_version(self) -> bool:
        return self.version >= 3


class CrmWorld:
    """The CRM side of one Zoho `SandboxState`: every organisation's records, limits and the hold gate.

    Lock order: never call the kit's state while holding `_lock` (the kit calls `reset` with its own lock held).
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._lock = threading.RLock()
        self.config = CrmConfig()
        self._orgs: dict[str, OrgContacts] = {}
        self._usage: dict[str, _Usage] = {}
        self._limits: dict[str, OrgLimits] = {}
        self.gate = HoldGate()

    def reset(self) -> None:
        with self._lock:
            self.config = CrmConfig()
            self._orgs.clear()
            self._usage.clear()
            self._limits.clear()
            self.gate.release()  # free any call still held

    def now(self) -> float:
        return self.state.clock.now().timestamp()

    def paging_rules(self) -> PagingRules:
        return PagingRules(token_record_limit=self.config.page_token_record_limit, token_ttl=self.config.page_token_ttl)

    # -- organisations -----------------------------------------------------------------------------

    def org_of(self, account: SandboxAccount) -> OrgContacts:
        """The organisation of a sandbox account, created empty on first use."""
        with self._lock:
            org = self._orgs.get(account.account_id)
            if org is None:
                local, _, domain = account.login.partition("@")
                company = (domain.split(".")[0] or "sandbox").capitalize()
                name = " ".join(part.capitalize() for part in re.split(r"[._-]", local) if part)
                admin = CrmUser(account.user_id, name, account.login)
                org = OrgContacts(account.account_id, dc=account.dc or self._root_dc, admin=admin, company=company)
                self._orgs[account.account_id] = org
            return org

    def org_by_id(self, org_id: str) -> OrgContacts:
        """The organisation with this id; 404 when no sandbox account belongs to it."""
        account = next((a for a in self.state.accounts() if a.account_id == org_id), None)
        if account is None:
            raise HTTPException(404, f"no sandbox organisation {org_id!r} (create an account first)")
        return self.org_of(account)

    @property
    def _root_dc(self) -> str:
        return self.state.profile.data_centres[0]

    # -- limits ------------------------------------------------------------------------------------

    def set_limits(self, org_id: str, limits: OrgLimits) -> None:
        with self._lock:
            current = self._limits.get(org_id, OrgLimits())
            self._limits[org_id] = current.model_copy(update=limits.model_dump(exclude_none=True))

    def usage(self, org_id: str, now: float) -> Usage:
        with self._lock:
            usage = self._window(org_id, now)
            daily, concurrency = self._limits_of(org_id)
            reset_in = math.ceil(usage.calls[0] + DAY_SECONDS - now) if usage.calls else 0
            return Usage(
                daily_credits=daily,
                credits_used=len(usage.calls),
                credits_remaining=max(daily - len(usage.calls), 0),
                max_concurrency=concurrency,
                in_flight=usage.in_flight,
                reset_in=reset_in,
            )

    def admit(self, org_id: str, now: float) -> tuple[str, int] | None:
        """Take a credit and a slot for a call; None when admitted, else (why, seconds to wait)."""
        with self._lock:
            usage = self._window(org_id, now)
            daily, concurrency = self._limits_of(org_id)
            if len(usage.calls) >= daily:
                wait = math.ceil(usage.calls[0] + DAY_SECONDS - now) if usage.calls else DAY_SECONDS
                return "the organisation's daily API credits are exhausted", max(wait, 1)
            if usage.in_flight >= concurrency:
                return "too many concurrent requests for the organisation", 1
            usage.calls.append(now)
            usage.in_flight += 1
            return None

    def finish(self, org_id: str) -> None:
        with self._lock:
            self._usage[org_id].in_flight -= 1

    def _window(self, org_id: str, now: float) -> _Usage:
        usage = self._usage.setdefault(org_id, _Usage())
        while usage.calls and usage.calls[0] <= now - DAY_SECONDS:
            usage.calls.popleft()
        return usage

    def _limits_of(self, org_id: str) -> tuple[int, int]:
        own = self._limits.get(org_id, OrgLimits())
        return (
            self.config.daily_credits if own.daily_credits is None else own.daily_credits,
            self.config.max_concurrency if own.max_concurrency is None else own.max_concurrency,
        )

    # -- serving an API call -----------------------------------------------------------------------

    async def serve(
        self, request: Request, scopes: Sequence[ScopeNeed], handler: Callable[[CrmCall], Awaitable[Response]]
    ) -> Response:
        """Authenticate, check the scope, admit under the org's limits, then run `handler`."""
        version = _VERSION.fullmatch(request.path_params["version"])
        dc = request.path_params.get("dc", self._root_dc)
        prefixed_root = "dc" in request.path_params and dc == self._root_dc  # the US lives at the root
        if version is None or dc not in self.state.profile.data_centres or prefixed_root:
            return error_response(
                CrmError(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
            )
        scheme, _, token = (request.headers.get("authorization") or "").strip().partition(" ")
        if scheme and scheme != "Zoho-oauthtoken":
            return error_response(CrmError(401, "AUTHENTICATION_FAILURE", "Authentication failed"))
        info = self.state.lookup_access_token(token.strip()) if token.strip() else None
        now = self.state.clock.now()
        if info is None or not info.is_active(now) or (info.account.dc or self._root_dc) != dc:
            return error_response(CrmError(401, "INVALID_TOKEN", "invalid oauth token"))
        if not all(scope_grants(info.scopes, *need) for need in scopes):
            return error_response(CrmError(401, "OAUTH_SCOPE_MISMATCH", "Unauthorized"))
        org = self.org_of(info.account)
        moment = now.timestamp()
        refusal = self.admit(org.org_id, moment)
        if refusal is not None:
            reason, wait = refusal
            response: Response = error_response(CrmError(429, "TOO_MANY_REQUESTS", reason))
            if self.config.retry_after:
                response.headers["Retry-After"] = str(wait)
        else:
            try:
                await self.gate.passed()
                response = await handler(CrmCall(request, org, int(version.group(1)), moment, info.account))
            except CrmError as error:
                response = error_response(error)
            finally:
                self.finish(org.org_id)
        if self.config.rate_limit_headers:
            usage = self.usage(org.org_id, moment)
            response.headers["X-RATELIMIT-LIMIT"] = str(usage.daily_credits)
            response.headers["X-RATELIMIT-REMAINING"] = str(usage.credits_remaining)
            response.headers["X-RATELIMIT-RESET"] = str(usage.reset_in)
        return response


crm_world = per_state(CrmWorld)
"""The CRM world of a Zoho sandbox state (one per state; reset with it)."""


def scope_grants(granted: Sequence[str], group: str, resource: str | None, operation: str) -> bool:
    """Whether Zoho scopes (`ZohoCRM.<group>[.<resource>].<operation>`, case-insensitive) allow an
    operation; ALL allows every operation and WRITE allows CREATE, UPDATE and DELETE."""
    for scope in granted:
        parts = scope.casefold().split(".")
        if len(parts) not in (3, 4) or parts[0] != "zohocrm" or parts[1] != group:
            continue
        if len(parts) == 4 and parts[2] != (resource or "").casefold():
            continue
        allowed = parts[-1]
        if allowed in ("all", operation.casefold()) or (allowed == "write" and operation in _WRITE_OPERATIONS):
            return True
    return False


def error_response(error: CrmError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


def page_response(page: Page) -> Response:
    return Response(page.body(), status_code=page.status, media_type="application/json" if page.status == 200 else None)


# -- request parsing ----------------------------------------------------------------------------


def _int_param(call: CrmCall, name: str, high: int | None = None) -> int | None:
    """A positive integer query parameter (at most `high`), None when absent."""
    raw = call.request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(name) from None
    if value < 1 or (high is not None and value > high):
        raise invalid_param(name)
    return value


def _choice(call: CrmCall, name: str, choices: Sequence[str]) -> str | None:
    value = call.request.query_params.get(name)
    if value is not None and value not in choices:
        raise invalid_param(name, supported_values=list(choices))
    return value


def _modified_since(call: CrmCall) -> int | None:
    """`If-Modified-Since` as epoch seconds: ISO 8601 as Zoho documents (no offset = the org's
    time zone), or an HTTP date."""
    raw = call.request.headers.get("if-modified-since")
    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            raise CrmError(400, "INVALID_DATA", "invalid data", {"header_name": "If-Modified-Since"}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=call.org.tz)
    return math.floor(moment.timestamp())


def _fields(call: CrmCall) -> tuple[str, ...] | None:
    raw = call.request.query_params.get("fields")
    names = [name.strip() for name in (raw or "").split(",") if name.strip()]
    if not names:
        if call.current_version:
            raise required_param_missing("fields")
        return None
    if len(names) > MAX_FIELDS:
        raise CrmError(400, "LIMIT_EXCEEDED", "limit exceeded", {"limit": MAX_FIELDS, "param_name": "fields"})
    return tuple(dict.fromkeys(name for name in names if name in FIELDS_BY_NAME))  # unknown names are ignored


def _module(call: CrmCall) -> None:
    if call.request.path_params["module"] != MODULE:
        raise CrmError(400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": 0})


# -- API handlers -------------------------------------------------------------------------------


async def _list_records(call: CrmCall, rules: PagingRules) -> Response:
    _module(call)
    query = RecordQuery(
        per_page=_int_param(call, "per_page", MAX_PER_PAGE) or MAX_PER_PAGE,
        fields=_fields(call),
        sort_by=_choice(call, "sort_by", SORT_KEYS),
        sort_order=_choice(call, "sort_order", SORT_ORDERS),
        since=_modified_since(call),
        page=_int_param(call, "page"),
        page_token=call.request.query_params.get("page_token"),
        current_version=call.current_version,
    )
    return page_response(call.org.list_records(query, now=call.now, rules=rules))


async def _list_deleted(call: CrmCall) -> Response:
    _module(call)
    page = call.org.list_deleted(
        kind=_choice(call, "type", DELETED_TYPES) or "all",
        page=_int_param(call, "page") or 1,
        per_page=_int_param(call, "per_page", MAX_PER_PAGE) or MAX_PER_PAGE,
        since=_modified_since(call),
    )
    return page_response(page)


async def _upsert(call: CrmCall) -> Response:
    _module(call)
    try:
        body = json.loads(await call.request.body())
    except ValueError:
        raise CrmError(400, "INVALID_DATA", "the input is not valid JSON", {}) from None
    records = body.get("data") if isinstance(body, dict) else None
    if not isinstance(records, list) or not records:
        details: dict[str, object] = {"api_name": "data", "json_path": "$.data"}
        raise CrmError(400, "MANDATORY_NOT_FOUND", "required field not found", details)
    if len(records) > MAX_UPSERT_RECORDS:
        details = {"limit": MAX_UPSERT_RECORDS, "api_name": "data", "json_path": "$.data"}
        raise CrmError(400, "LIMIT_EXCEEDED", "limit exceeded", details)
    check_fields = body.get("duplicate_check_fields") or list(DUPLICATE_CHECK_FIELDS)
    if not isinstance(check_fields, list):
        check_fields = [check_fields]
    for index, name in enumerate(check_fields):
        if name not in DUPLICATE_CHECK_FIELDS:
            raise CrmError(
                400,
                "INVALID_DATA",
                "invalid data",
                {
                    "api_name": "duplicate_check_fields",
                    "json_path": f"$.duplicate_check_fields[{index}]",
                    "supported_values": list(DUPLICATE_CHECK_FIELDS),
                },
            )
    results = call.org.upsert(records, duplicate_check_fields=check_fields, actor=0, now=call.now)
    succeeded = sum(result["status"] == "success" for result in results)
    status = 200 if succeeded == len(results) else 400 if succeeded == 0 else 207
    return JSONResponse({"data": results}, status_code=status)


async def _fields_metadata(call: CrmCall) -> Response:
    module = call.request.query_params.get("module")
    if not module:
        raise required_param_missing("module")
    if module not in MODULE_FIELDS:
        raise invalid_param("module")
    return JSONResponse(call.org.fields_json(module))


async def _users(call: CrmCall) -> Response:
    kind = _choice(call, "type", USER_TYPES) or "AllUsers"
    users = call.org.users_json(
        kind,
        current_user_id=call.account.user_id if call.account else call.org.users[0].id,
        page=_int_param(call, "page") or 1,
        per_page=_int_param(call, "per_page", MAX_PER_PAGE) or MAX_PER_PAGE,
    )
    return Response(status_code=204) if users is None else JSONResponse(users)


async def _org(call: CrmCall) -> Response:
    return JSONResponse(call.org.org_json())


_RECORDS_READ: tuple[ScopeNeed, ...] = (("modules", "contacts", "READ"),)
_RECORDS_WRITE: tuple[ScopeNeed, ...] = (("modules", "contacts", "CREATE"), ("modules", "contacts", "UPDATE"))
_FIELDS_READ: tuple[ScopeNeed, ...] = (("settings", "fields", "READ"),)
_ORG_READ: tuple[ScopeNeed, ...] = (("org", None, "READ"),)
_USERS_READ: tuple[ScopeNeed, ...] = (("users", None, "READ"),)


def crm_routes(state: SandboxState) -> APIRouter:
    """The CRM API routes (at the root and under every data-centre prefix) and their control API."""
    world = crm_world(state)
    router = APIRouter(tags=["Zoho CRM"])

    def route(
        scopes: Sequence[ScopeNeed], handler: Callable[[CrmCall], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await world.serve(request, scopes, handler)

        return endpoint

    async def list_records(call: CrmCall) -> Response:
        return await _list_records(call, world.paging_rules())

    router.include_router(control_routes(world))  # first, so no API pattern can shadow a control path
    for prefix in ("", "/{dc}"):
        base = f"{prefix}/crm/{{version}}"
        router.add_api_route(f"{base}/org", route(_ORG_READ, _org), methods=["GET"])
        router.add_api_route(f"{base}/settings/fields", route(_FIELDS_READ, _fields_metadata), methods=["GET"])
        router.add_api_route(f"{base}/users", route(_USERS_READ, _users), methods=["GET"])  # before `{module}`
        router.add_api_route(f"{base}/{{module}}", route(_RECORDS_READ, list_records), methods=["GET"])
        router.add_api_route(f"{base}/{{module}}/deleted", route(_RECORDS_READ, _list_deleted), methods=["GET"])
        router.add_api_route(f"{base}/{{module}}/upsert", route(_RECORDS_WRITE, _upsert), methods=["POST"])
    return router


# -- control API --------------------------------------------------------------------------------


def control_routes(world: CrmWorld) -> APIRouter:
    """`/_sandbox/crm/…`: see the module docstring's table."""
    router = APIRouter(prefix=f"{CONTROL_PREFIX}/crm", tags=["sandbox control: Zoho CRM"])

    def actor(org: OrgContacts, user_id: str | None) -> int:
        if user_id is None:
            return _CONTROL_ACTOR
        for index, user in enumerate(org.users):
            if user.id == user_id:
                return index
        raise HTTPException(404, f"no user {user_id!r} in organisation {org.org_id}")

    def row(org: OrgContacts, record_id: str) -> int:
        try:
            return org.row_of(record_id)
        except KeyError:
            raise HTTPException(404, f"no live contact {record_id!r}") from None

    @router.get("/config")
    def read_config() -> CrmConfig:
        return world.config

    @router.post("/config")
    def change_config(update: CrmConfigUpdate) -> CrmConfig:
        world.config = world.config.model_copy(update=update.model_dump(exclude_none=True))
        return world.config

    router.include_router(hold_routes(world.gate))

    @router.get("/orgs/{org_id}/usage")
    def usage(org_id: str) -> Usage:
        return world.usage(world.org_by_id(org_id).org_id, world.now())

    @router.post("/orgs/{org_id}/limits")
    def set_limits(org_id: str, limits: OrgLimits) -> Usage:
        world.set_limits(world.org_by_id(org_id).org_id, limits)
        return world.usage(org_id, world.now())

    @router.post("/orgs/{org_id}/seed")
    def seed(org_id: str, request: SeedRequest) -> dict[str, int]:
        org = world.org_by_id(org_id)
        rows = org.seed(request.count, seed=request.seed, now=world.now(), days=request.days)
        return {"seeded": len(rows), "contacts": org.live_count}

    @router.post("/orgs/{org_id}/contacts")
    def create_contact(org_id: str, values: dict[str, Any] = Body(...), user_id: str | None = None) -> JSONResponse:
        org = world.org_by_id(org_id)
        change = org.validate(values, 0, inserting=True)
        if isinstance(change, dict):
            return JSONResponse(change, status_code=400)
        created = org.create(change, actor=actor(org, user_id), now=world.now())
        return JSONResponse(org.summary(created), status_code=201)

    @router.patch("/orgs/{org_id}/contacts/{record_id}")
    def edit_contact(
        org_id: str, record_id: str, values: dict[str, Any] = Body(...), user_id: str | None = None
    ) -> JSONResponse:
        org = world.org_by_id(org_id)
        edited = row(org, record_id)
        change = org.validate(values, 0, inserting=False)
        if isinstance(change, dict):
            return JSONResponse(change, status_code=400)
        org.update(edited, change, actor=actor(org, user_id), now=world.now())
        return JSONResponse(org.summary(edited))

    @router.delete("/orgs/{org_id}/contacts/{record_id}")
    def delete_contact(
        org_id: str, record_id: str, permanent: bool = False, user_id: str | None = None
    ) -> dict[str, list[str]]:
        org = world.org_by_id(org_id)
        deleted = org.delete([row(org, record_id)], actor=actor(org, user_id), now=world.now(), permanent=permanent)
        return {"ids": deleted}

    @router.post("/orgs/{org_id}/contacts/edit-random")
    def edit_random(org_id: str, request: RandomEditRequest) -> dict[str, Any]:
        org = world.org_by_id(org_id)
        now = world.now()
        ids = org.edit_random(request.count, seed=request.seed, actor=_CONTROL_ACTOR, now=now)
        return {"ids": ids, "Modified_Time": org.format_time(now)}

    @router.post("/orgs/{org_id}/contacts/delete-random")
    def delete_random(org_id: str, request: RandomDeleteRequest) -> dict[str, list[str]]:
        org = world.org_by_id(org_id)
        rows = org.pick_live(request.count, seed=request.seed)
        return {"ids": org.delete(rows, actor=_CONTROL_ACTOR, now=world.now(), permanent=request.permanent)}

    @router.get("/orgs/{org_id}/truth")
    def truth(org_id: str, fields: str = Query("")) -> Response:
        names = [name for name in fields.split(",") if name in FIELDS_BY_NAME and name != "Modified_Time"]
        return Response(world.org_by_id(org_id).truth_json(names), media_type="application/json")

    return router
