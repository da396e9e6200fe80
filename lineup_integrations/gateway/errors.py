"""One JSON error shape for every failure the gateway returns, and the handlers that produce it.

Every error body is `{"error": {"code": ..., "message": ..., "field": ...?, "details": [...]?}}`:
`code` is a stable machine-readable string, `message` a sentence for humans, `field` the request
field at fault (its JSON name), `details` one entry per problem when there are several. A
callback's `code`/`state` or a token must never come back in a response, so validation errors
report where and what, never the input (only a provider name is ever quoted back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from lineup_integrations.core.oauth import (
    AuthorizationDeniedError,
    IntegrationNotFoundError,
    InvalidAuthorizationCodeError,
    InvalidStateError,
    OAuthError,
    ReauthorizationRequiredError,
    TokenExchangeError,
    TokenRefreshError,
    UntrustedAccountsServerError,
)
from lineup_integrations.core.provider import UnknownProviderError


class FieldProblem(BaseModel):
    field: str | None = None
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    details: list[FieldProblem] | None = None


class ErrorResponse(BaseModel):
    """The documented shape of every non-2xx response (used in the OpenAPI schema too)."""

    error: ErrorBody


class ApiError(Exception):
    """Raise from a route to answer with the stable error shape; `message` must not carry secrets."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: Sequence[FieldProblem] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = ErrorBody(code=code, message=message, field=field, details=list(details) if details else None)
        self.headers = dict(headers) if headers is not None else None

    def response(self) -> JSONResponse:
        return JSONResponse(
            ErrorResponse(error=self.body).model_dump(exclude_none=True),
            status_code=self.status_code,
            headers=self.headers,
        )


# The HTTP status of each OAuth engine failure (first match wins); the body's code is the engine's
# own stable `code` and its `field` the callback parameter at fault. A callback whose `code` is
# missing, invalid, expired or already used is the caller's bad request (400, field `code`); any
# other failed code exchange or refresh is the provider failing or unreachable (outage, network,
# wrong client registration): a bad gateway. The messages name the provider's error code only,
# never a URL, a token or the provider's description.
_OAUTH_STATUS: tuple[tuple[type[OAuthError], int], ...] = (
    (InvalidStateError, 400),
    (AuthorizationDeniedError, 400),
    (UntrustedAccountsServerError, 400),
    (InvalidAuthorizationCodeError, 400),
    (TokenExchangeError, 502),
    (TokenRefreshError, 502),
    (IntegrationNotFoundError, 404),
    (ReauthorizationRequiredError, 409),
)

_HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def oauth_error(error: OAuthError) -> ApiError:
    """The API error for an OAuth engine failure (the engine's messages are secret-free by contract)."""
    status_code = next((status for error_type, status in _OAUTH_STATUS if isinstance(error, error_type)), 400)
    return ApiError(status_code, error.code, str(error), field=error.field)


def _field_name(location: Sequence[Any]) -> str | None:
    # FastAPI locations are ("body"|"query"|"path"|"header", name, ...); the field is what follows.
    parts = [str(part) for part in location[1:] if not isinstance(part, int)]
    return ".".join(parts) if parts else (str(location[0]) if location else None)


def _validation_response(_request: Request, error: RequestValidationError) -> JSONResponse:
    problems = [
        FieldProblem(field=_field_name(item.get("loc", ())), message=item.get("msg", "invalid value"))
        for item in error.errors()
    ]
    first = problems[0] if problems else FieldProblem(message="invalid request")
    message = f"{first.field}: {first.message}" if first.field else first.message
    return ApiError(422, "validation_error", message, field=first.field, details=problems).response()


def _http_response(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(error.status_code, "http_error")
    return ApiError(error.status_code, code, str(error.detail), headers=error.headers).response()


def _api_response(_request: Request, error: ApiError) -> JSONResponse:
    return error.response()


def _oauth_response(_request: Request, error: OAuthError) -> JSONResponse:
    return oauth_error(error).response()


def _unknown_provider_response(request: Request, error: UnknownProviderError) -> JSONResponse:
    available = ", ".join(sorted(request.app.state.oauth.providers)) or "none"
    message = f"unknown or unconfigured provider {error.name!r}; available: {available}"
    return ApiError(400, "unknown_provider", message, field="provider").response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_response)  # type: ignore[arg-type]
    app.add_exception_handler(UnknownProviderError, _unknown_provider_response)  # type: ignore[arg-type]
    app.add_exception_handler(OAuthError, _oauth_response)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_response)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_response)  # type: ignore[arg-type]


def internal_error() -> JSONResponse:
    return ApiError(500, "internal_error", "internal error; see the gateway log").response()
