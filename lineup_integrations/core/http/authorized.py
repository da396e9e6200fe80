"""Calls made with one account's OAuth bearer token, refreshed once on a 401.

Every provider client that acts for a connected account needs the same three things around the
retrying request: the current token on each call (the caller refreshes ahead of expiry), one more
try with a fresh token when the provider answers 401 all the same (revoked early, clock skew),
and the account's quota counting every call. This is that, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from lineup_integrations.core.http.errors import AuthenticationError, ErrorClassifier
from lineup_integrations.core.http.quota import RateLimitTracker
from lineup_integrations.core.http.retrying import RetryingClient

T = TypeVar("T")


def _json(response: httpx.Response) -> Any:
    return response.json()


class AuthorizedApi:
    """Requests to one API base for one account. `access_token()` is called per request;
    `on_unauthorized(stale)` returns a fresh token after a 401, and the request is sent once more
    with it. Thread-safe when its callables are (the sync fetches ahead on a helper thread)."""

    def __init__(
        self,
        http: RetryingClient,
        *,
        base_url: str,
        access_token: Callable[[], str],
        on_unauthorized: Callable[[str], str] | None,
        quota: RateLimitTracker,
        classify: ErrorClassifier,
        scheme: str = "Bearer",
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an absolute http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.quota = quota
        self._http = http
        self._access_token = access_token
        self._on_unauthorized = on_unauthorized
        self._classify = classify
        self._scheme = scheme

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        decode: Callable[[httpx.Response], T] = _json,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> T:
        """`decode(response)` (default: its JSON) of the first response below 400. `path_or_url` is a
        path under the base, or an absolute URL the API returned (a next link) — only under the base,
        so a token is never sent to another host."""
        url = path_or_url if path_or_url.startswith(("https://", "http://")) else f"{self.base_url}{path_or_url}"
        if not url.startswith(f"{self.base_url}/"):
            raise ValueError("the API returned a link outside its own base URL; not following it")
        token = self._access_token()
        try:
            return self._send(token, method, url, decode, params, headers, json_body)
        except AuthenticationError:
            if self._on_unauthorized is None:
                raise
            return self._send(self._on_unauthorized(token), method, url, decode, params, headers, json_body)

    def _send(
        self,
        token: str,
        method: str,
        url: str,
        decode: Callable[[httpx.Response], T],
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        json_body: Any,
    ) -> T:
        return self._http.request(
            method,
            url,
            decode=decode,
            quota=self.quota,
            params=params,
            headers={**(headers or {}), "Authorization": f"{self._scheme} {token}"},
            json_body=json_body,
            classify=self._classify,
        )
