"""Provider-agnostic HTTP: pooled clients, retries with backoff and Retry-After, quota tracking, typed errors."""

from lineup_integrations.core.http.authorized import AuthorizedApi
from lineup_integrations.core.http.errors import (
    ApiError,
    AuthenticationError,
    ErrorClassifier,
    QuotaExhaustedError,
    RateLimitedError,
    RetryableServerError,
    ScopeError,
    TransportFailure,
    classify_by_status,
    error_for_status,
)
from lineup_integrations.core.http.pool import HttpClientPool, HttpClientSettings, shared_pool
from lineup_integrations.core.http.quota import QuotaSnapshot, RateLimitTracker
from lineup_integrations.core.http.retrying import RetryingClient, RetrySettings, parse_retry_after

__all__ = [
    "ApiError",
    "AuthenticationError",
    "AuthorizedApi",
    "ErrorClassifier",
    "HttpClientPool",
    "HttpClientSettings",
    "QuotaExhaustedError",
    "QuotaSnapshot",
    "RateLimitTracker",
    "RateLimitedError",
    "RetrySettings",
    "RetryableServerError",
    "RetryingClient",
    "ScopeError",
    "TransportFailure",
    "classify_by_status",
    "error_for_status",
    "parse_retry_after",
    "shared_pool",
]
