"""Typed errors for calls to provider APIs, shared by every provider client.

The error *type* carries the retry decision (`retryable`): the HTTP layer retries exactly the
errors whose class says so, and callers above it (the Dagster assets) branch on the type, not on
status codes. A provider's error-classification hook (`ErrorClassifier`) turns its own error
bodies into these types, so "Zoho 400 is final" and "Google 403 rateLimitExceeded is transient"
live in the provider package, not here.

Messages are built only from the status, the provider's error code and the provider's own error
text; never from the request, whose headers carry the bearer token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx

MAX_MESSAGE_CHARS = 300


class ApiError(Exception):
    """A provider API call failed. `status` is None when no HTTP response came back."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        *,
        provider: str = "",
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message[:MAX_MESSAGE_CHARS]
        self.provider = provider
        # The provider's parsed error body (never the request): some APIs put per-item results in it.
        self.payload = payload
        # Seconds the server asked us to wait (`Retry-After`), set by the HTTP layer when present.
        self.retry_after: float | None = None
        super().__init__(status, code, self.message)

    def __str__(self) -> str:
        where = f"{self.provider} API" if self.provider else "API"
        status_text = f"HTTP {self.status}" if self.status is not None else "no response"
        return f"{where} error ({status_text}, {self.code}): {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, provider={self.provider!r})"


class RateLimitedError(ApiError):
    """Too many requests right now (HTTP 429 or the provider's equivalent); retried with backoff."""

    retryable = True


class QuotaExhaustedError(ApiError):
    """The provider's daily credit/quota is used up: waiting seconds will not help, so no HTTP retry."""


class AuthenticationError(ApiError):
    """The access token was rejected (HTTP 401): refresh the token, do not retry blindly."""


class ScopeError(ApiError):
    """The grant lacks a scope or the user lacks a permission: only re-consent or an admin fixes it."""


class RetryableServerError(ApiError):
    """A transient server-side failure (500/502/503/504, or a garbled body); retried with backoff."""

    retryable = True


class TransportFailure(ApiError):
    """No usable HTTP response: timeout, refused or dropped connection. Retried with backoff."""

    retryable = True


ErrorClassifier = Callable[[httpx.Response], ApiError]
"""A provider hook: the typed error for a response with status >= 400."""

_STATUS_ERRORS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: ScopeError,
    429: RateLimitedError,
    500: RetryableServerError,
    502: RetryableServerError,
    503: RetryableServerError,
    504: RetryableServerError,
}


def error_for_status(
    status: int, code: str, message: str, *, provider: str = "", payload: Mapping[str, Any] | None = None
) -> ApiError:
    """The generic mapping from status to error type; provider hooks fall back to it for unknown codes."""
    error_type = _STATUS_ERRORS.get(status, ApiError)
    return error_type(status, code, message, provider=provider, payload=payload)


def classify_by_status(response: httpx.Response) -> ApiError:
    """The default classifier: the status alone decides (for providers without a hook)."""
    status = response.status_code
    return error_for_status(status, f"HTTP_{status}", response.reason_phrase or "request failed")
