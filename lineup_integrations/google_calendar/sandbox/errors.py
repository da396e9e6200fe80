"""Google's API error shape for the Calendar twin, and the errors the Calendar v3 API answers with.

Every error is `{"error":{"errors":[{"domain","reason","message"[,"locationType","location"]}],"code","message"}}`
(provider-apis.md §B5). The reasons and messages are Google's own, so a client that branches on
`reason` (`fullSyncRequired`, `conditionNotMet`, `rateLimitExceeded`…) meets what it would in production.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi.responses import JSONResponse, Response

RATE_LIMIT_REASONS: tuple[str, ...] = ("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded")
_RATE_LIMIT_MESSAGES: dict[str, str] = {
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "quotaExceeded": "Calendar usage limits exceeded.",
}
_FULL_SYNC_MESSAGE = "Sync token is no longer valid, a full sync is required."
_AUTHENTICATE = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'


class ApiError(Exception):
    """A request the Calendar API refuses; `response()` renders it in Google's shape."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type

    def body(self) -> dict[str, Any]:
        detail: dict[str, str] = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location is not None:
            detail |= {"locationType": self.location_type or "parameter", "location": self.location}
        return {"error": {"errors": [detail], "code": self.status, "message": self.message}}

    def response(self) -> JSONResponse:
        response = JSONResponse(self.body(), status_code=self.status)
        if self.status == 401:
            response.headers["WWW-Authenticate"] = _AUTHENTICATE
        return response


def auth_error() -> ApiError:
    """A missing, unknown, expired or revoked access token (what makes google-auth refresh)."""
    return ApiError(401, "authError", "Invalid Credentials", location="Authorization", location_type="header")


def insufficient_scopes() -> ApiError:
    return ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")


def rate_limited(status: int, reason: str = "rateLimitExceeded") -> ApiError:
    return ApiError(status, reason, _RATE_LIMIT_MESSAGES.get(reason, "Rate Limit Exceeded"), domain="usageLimits")


def not_found() -> ApiError:
    return ApiError(404, "notFound", "Not Found")


def invalid(name: str, message: str | None = None) -> ApiError:
    """A query parameter Google rejects (`invalid`, located at the parameter)."""
    return ApiError(400, "invalid", message or f"Invalid value for: {name}", location=name)


def invalid_field(message: str) -> ApiError:
    """A request-body value Google rejects (`invalid`, no location)."""
    return ApiError(400, "invalid", message)


def required(message: str, location: str | None = None) -> ApiError:
    return ApiError(400, "required", message, location=location)


def bad_request(message: str = "Bad Request") -> ApiError:
    return ApiError(400, "badRequest", message)


def time_range_empty(location: str = "timeMax") -> ApiError:
    return ApiError(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar", location=location)


def full_sync_required() -> ApiError:
    return ApiError(410, "fullSyncRequired", _FULL_SYNC_MESSAGE, domain="calendar", location="syncToken")


def condition_not_met() -> ApiError:
    return ApiError(412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header")


def duplicate() -> ApiError:
    return ApiError(409, "duplicate", "The requested identifier already exists.")


def deleted() -> ApiError:
    return ApiError(410, "deleted", "Resource has been deleted")


def backend_error(status: int = 500) -> ApiError:
    return ApiError(status, "backendError", "Backend Error")


def status_error(status: int, reasons: Mapping[int, str] | None = None) -> ApiError:
    """The error Google answers with a given HTTP status, for injected faults. `reasons` overrides the
    rate-limit reason of 403/429 (`rateLimitExceeded`, `userRateLimitExceeded`, `quotaExceeded`)."""
    chosen = (reasons or {}).get(status)
    if status in (403, 429):
        return rate_limited(status, chosen or "rateLimitExceeded")
    fixed: dict[int, Callable[[], ApiError]] = {
        400: bad_request,
        401: auth_error,
        404: not_found,
        409: duplicate,
        410: full_sync_required,
        412: condition_not_met,
    }
    return fixed[status]() if status in fixed else backend_error(status)


def error_responder(reasons: Callable[[], Mapping[int, str]]) -> Callable[[int], Response]:
    """The sandbox's fault responder (`sandbox_app(error_response=…)`) rendering Google's bodies;
    `reasons()` is read per fault so `/_sandbox/calendar/config` can switch 403's reason at run time."""

    def respond(status: int) -> Response:
        return status_error(status, reasons()).response()

    return respond
