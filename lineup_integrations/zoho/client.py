"""The Zoho CRM REST client for one tenant's organisation (facts: provider-apis.md §A).

Every call goes through the shared `RetryingClient` with this module's error hook, so Zoho's
error codes become the core's typed errors: `INVALID_TOKEN` → `AuthenticationError` (the client
then asks `on_unauthorized` for a new token and retries that request exactly once),
`OAUTH_SCOPE_MISMATCH`/`NO_PERMISSION` → `ScopeError` (final), `TOO_MANY_REQUESTS`/
`RATE_LIMIT_EXCEEDED` → `RateLimitedError` (retried with backoff), other 4xx final, 5xx retried.

Paging (Get Records, v8 docs): `page` (1–10) × `per_page` (≤200) reaches only the first 2,000
records; the `next_page_token` each page returns reaches 100,000. The client follows the token
from the first page on whenever Zoho returns one (see `PageInfo.next_position`) — one mechanism
for the whole range, and a cursor rather than an offset, so concurrent edits cannot make it skip
records. A token is bound to the query: it is always sent with the same `fields`, `per_page`,
sort and `If-Modified-Since` as the request that returned it (else `TOKEN_BOUND_DATA_MISMATCH`),
and it expires (`page_token_expiry`; then `EXPIRED_VALUE`, and the caller restarts its pass).
Every page carries `next_position()`, what a caller checkpoints after committing the page.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

import httpx
from pydantic import ValidationError

from lineup_integrations.core.http import (
    ApiError,
    AuthenticationError,
    AuthorizedApi,
    QuotaExhaustedError,
    RateLimitedError,
    RateLimitTracker,
    RetryingClient,
    ScopeError,
    error_for_status,
)
from lineup_integrations.zoho.models import (
    ContactPage,
    DeletedPage,
    PagePosition,
    UpsertResult,
    ZohoField,
    ZohoOrg,
)

PROVIDER = "zoho"
MAX_PER_PAGE = 200
MAX_FIELDS = 50
UPSERT_BATCH = 100
SortBy = Literal["id", "Created_Time", "Modified_Time"]
SortOrder = Literal["asc", "desc"]
DeletedType = Literal["all", "recycle", "permanent"]
T = TypeVar("T")

_ERRORS_BY_CODE: dict[str, type[ApiError]] = {
    "INVALID_TOKEN": AuthenticationError,
    "AUTHENTICATION_FAILURE": AuthenticationError,
    "OAUTH_SCOPE_MISMATCH": ScopeError,
    "NO_PERMISSION": ScopeError,
    "TOO_MANY_REQUESTS": RateLimitedError,
    "RATE_LIMIT_EXCEEDED": RateLimitedError,
    "LIMIT_REACHED": QuotaExhaustedError,  # the organisation's daily API credits are spent
}


def classify_zoho_error(response: httpx.Response) -> ApiError:
    """Zoho's error hook: `{"code", "message", "status": "error", "details"}`, at the top level or
    as `data[0]` (deleted-records and write endpoints wrap it); unknown codes fall back to the status."""
    status = response.status_code
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
    body = payload if isinstance(payload, dict) else {}
    entries = body.get("data")
    first = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else body
    code = str(first.get("code") or f"HTTP_{status}")
    message = str(first.get("message") or response.reason_phrase or "request failed")
    error_type = _ERRORS_BY_CODE.get(code)
    if error_type is None:
        return error_for_status(status, code, message, provider=PROVIDER, payload=body or None)
    return error_type(status, code, message, provider=PROVIDER, payload=body or None)


class ZohoClient:
    """Zoho CRM API calls for one organisation. Thread-safe (a sync prefetches on a helper thread).

    `access_token` is called for every request, so the caller (the Dagster resource) can refresh
    ahead of expiry; `on_unauthorized(stale_token)` is called on a 401 `INVALID_TOKEN` and returns
    a new token, with which the request is retried once. `quota` counts this tenant's calls.
    """

    def __init__(
        self,
        http: RetryingClient,
        *,
        api_domain: str,
        access_token: Callable[[], str],
        on_unauthorized: Callable[[str], str] | None = None,
        api_version: str = "v8",
        quota: RateLimitTracker,
    ) -> None:
        if not api_domain.startswith(("https://", "http://")):
            raise ValueError("api_domain must be an absolute http(s) URL (the token response's api_domain)")
        self._api = AuthorizedApi(
            http, base_url=f"{api_domain.rstrip('/')}/crm/{api_version}", access_token=access_token,
            on_unauthorized=on_unauthorized, quota=quota, classify=classify_zoho_error, scheme="Zoho-oauthtoken",
        )  # fmt: skip
        self.quota = quota

    # -- records -------------------------------------------------------------------------------

    def contacts_page(
        self,
        *,
        fields: Sequence[str],
        per_page: int = MAX_PER_PAGE,
        page: int | None = None,
        page_token: str | None = None,
        modified_since: dt.datetime | None = None,
        sort_by: SortBy = "Modified_Time",
        sort_order: SortOrder = "asc",
    ) -> ContactPage | None:
        """One page of Contacts (`page` or `page_token`, not both), or None when Zoho answers
        204 (nothing matches) or 304 (nothing modified since `modified_since`)."""
        if not fields or len(fields) > MAX_FIELDS:
            raise ValueError(f"fields: between 1 and {MAX_FIELDS} field API names are required")
        _check_per_page(per_page)
        if page is not None and page_token is not None:
            raise ValueError("page and page_token are mutually exclusive")
        params: dict[str, Any] = {
            "fields": ",".join(fields), "per_page": per_page, "sort_by": sort_by, "sort_order": sort_order,
        }  # fmt: skip
        if page_token is not None:
            params["page_token"] = page_token
        else:
            params["page"] = page or 1
        return self._get_optional("Contacts", params, modified_since, ContactPage.from_payload)

    def iter_contact_pages(
        self,
        *,
        fields: Sequence[str],
        per_page: int = MAX_PER_PAGE,
        modified_since: dt.datetime | None = None,
        sort_by: SortBy = "Modified_Time",
        sort_order: SortOrder = "asc",
        start: PagePosition | None = None,
    ) -> Iterator[ContactPage]:
        """Every page from `start` (a checkpointed `next_position()`, default the first page) to the last."""
        position: PagePosition | None = start or PagePosition()
        while position is not None:
            page = self.contacts_page(
                fields=fields, per_page=per_page, modified_since=modified_since, sort_by=sort_by,
                sort_order=sort_order, page=None if position.page_token else position.page,
                page_token=position.page_token,
            )  # fmt: skip
            if page is None:
                return
            yield page
            position = page.next_position()

    def deleted_page(
        self,
        *,
        page: int = 1,
        per_page: int = MAX_PER_PAGE,
        modified_since: dt.datetime | None = None,
        deleted_type: DeletedType = "all",
    ) -> DeletedPage | None:
        """One page of deleted Contacts (this endpoint pages by number only), or None on 204/304."""
        _check_per_page(per_page)
        params = {"type": deleted_type, "page": page, "per_page": per_page}
        return self._get_optional("Contacts/deleted", params, modified_since, DeletedPage.model_validate)

    def iter_deleted_pages(
        self,
        *,
        since: dt.datetime | None = None,
        per_page: int = MAX_PER_PAGE,
        deleted_type: DeletedType = "all",
        start_page: int = 1,
    ) -> Iterator[DeletedPage]:
        """Every page of Contacts deleted since `since` (all of them when None)."""
        position: PagePosition | None = PagePosition(page=start_page)
        while position is not None:
            page = self.deleted_page(
                page=position.page, per_page=per_page, modified_since=since, deleted_type=deleted_type
            )
            if page is None:
                return
            yield page
            position = page.next_position()

    def upsert_contacts(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        duplicate_check_fields: Sequence[str] = ("Email",),
        trigger: Sequence[str] = (),
    ) -> list[UpsertResult]:
        """Insert-or-update Contacts in calls of ≤100; one result per record, in input order.

        Upsert (not insert) because a retried write must not create duplicates. `trigger` lists
        the automations Zoho should run (`workflow`, `approval`, `blueprint`); the default, none,
        keeps Lineup's own writes from firing the tenant's workflow webhooks back at us.
        """
        results: list[UpsertResult] = []
        for start in range(0, len(records), UPSERT_BATCH):
            chunk = [dict(record) for record in records[start : start + UPSERT_BATCH]]
            body = {"data": chunk, "duplicate_check_fields": list(duplicate_check_fields), "trigger": list(trigger)}

            def parse(payload: dict[str, Any], expected: int = len(chunk)) -> list[UpsertResult]:
                data = payload.get("data")
                if not isinstance(data, list) or len(data) != expected:
                    raise ValueError("upsert results do not match the records sent")
                return [UpsertResult.model_validate(item) for item in data]

            try:
                results.extend(self._call("POST", "Contacts/upsert", json_body=body, decode=_decoder(parse)))
            except ApiError as error:
                # A batch whose every record failed comes back as 400 with one result per record.
                data = (error.payload or {}).get("data")
                if error.status != 400 or not isinstance(data, list) or len(data) != len(chunk):
                    raise
                results.extend(_parse_payload(400, dict(error.payload or {}), parse))
        return results

    # -- metadata ------------------------------------------------------------------------------

    def fields(self, module: str = "Contacts") -> list[ZohoField]:
        """The module's fields (API names, types, read-only flags), to validate field mappings."""
        fields = self._call(
            "GET", "settings/fields", params={"module": module},
            decode=_decoder(lambda payload: [ZohoField.model_validate(item) for item in payload["fields"]], empty=True),
        )  # fmt: skip
        return fields or []

    def org(self) -> ZohoOrg:
        """The organisation behind the token; its `id` maps Zoho events to a tenant."""
        return self._call("GET", "org", decode=_decoder(lambda payload: ZohoOrg.model_validate(payload["org"][0])))

    # -- plumbing ------------------------------------------------------------------------------

    def _get_optional(
        self,
        path: str,
        params: Mapping[str, Any],
        modified_since: dt.datetime | None,
        parse: Callable[[dict[str, Any]], T],
    ) -> T | None:
        headers = {"If-Modified-Since": _zoho_timestamp(modified_since)} if modified_since else None
        return self._call("GET", path, params=params, headers=headers, decode=_decoder(parse, empty=True))

    def _call(
        self,
        method: str,
        path: str,
        *,
        decode: Callable[[httpx.Response], T],
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> T:
        return self._api.request(
            method, f"/{path}", decode=decode, params=params, headers=headers, json_body=json_body
        )  # fmt: skip


def _check_per_page(per_page: int) -> None:
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")


def _zoho_timestamp(moment: dt.datetime) -> str:
    """ISO 8601 with an explicit offset, as Zoho's If-Modified-Since expects (2019-07-25T15:26:49+05:30)."""
    if moment.tzinfo is None:
        raise ValueError("modified_since must be timezone-aware")
    return moment.isoformat(timespec="seconds")


def _decoder(parse: Callable[[dict[str, Any]], T], *, empty: bool = False) -> Callable[[httpx.Response], T]:
    """A decode step for the HTTP layer. It runs inside the retry loop: a body that is not JSON
    raises `JSONDecodeError` there and is retried; a JSON body of the wrong shape is final.
    With `empty`, Zoho's empty answers — 204 (no records) and 304 (not modified) — decode to None."""

    def decode(response: httpx.Response) -> T:
        if empty and response.status_code in (204, 304):
            return None  # type: ignore[return-value]
        return _parse_payload(response.status_code, response.json(), parse)

    return decode


def _parse_payload(status: int, payload: Any, parse: Callable[[dict[str, Any]], T]) -> T:
    try:
        if not isinstance(payload, dict):
            raise TypeError("the body is not a JSON object")
        return parse(payload)
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors(include_input=False)[0]["loc"])
        raise ApiError(
            status, "UNEXPECTED_RESPONSE", f"unexpected response shape at {where}", provider=PROVIDER
        ) from None
    except KeyError as exc:
        raise ApiError(status, "UNEXPECTED_RESPONSE", f"the response has no {exc}", provider=PROVIDER) from None
    except IndexError:
        raise ApiError(status, "UNEXPECTED_RESPONSE", "the response list is empty", provider=PROVIDER) from None
    except (ValueError, TypeError) as exc:
        # Our parsers' own messages; never the body itself (it holds contact data).
        raise ApiError(status, "UNEXPECTED_RESPONSE", f"unexpected response shape: {exc}", provider=PROVIDER) from None
