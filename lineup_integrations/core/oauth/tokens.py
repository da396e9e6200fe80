"""Token values at the engine's two boundaries: what a token endpoint returns, and what callers get.

Both keep secrets out of their reprs, so a token never reaches a log line or a traceback by
being printed along with its container.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, SecretStr

# A token response without `expires_in` still gets an expiry, so it is refreshed at some point
# (an endpoint that omits it would otherwise leave a token that is never refreshed and dies).
DEFAULT_TOKEN_LIFETIME = dt.timedelta(hours=1)
ID_TOKEN_ALGORITHMS = ("RS256",)  # what Google and Microsoft sign with; never "none" or an HMAC
ID_TOKEN_LEEWAY = dt.timedelta(minutes=2)  # clock skew tolerated on `exp`/`iat`/`nbf`
_SCOPE_SEPARATORS = re.compile(r"[\s,]+")
JWKS_MAX_AGE = dt.timedelta(hours=6)  # a key set is fetched again after this long, even if every kid is known
JWKS_MIN_REFETCH_INTERVAL = dt.timedelta(minutes=1)  # an unknown kid refetches a key set at most this often
JWKS_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class TokenResponse(BaseModel):
    """A successful token-endpoint body, whichever provider sent it (unknown fields ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    id_token: SecretStr | None = None
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    api_domain: str | None = None  # Zoho: where this tenant's API lives

    def expires_at(self, now: dt.datetime) -> dt.datetime:
        lifetime = dt.timedelta(seconds=self.expires_in) if self.expires_in is not None else DEFAULT_TOKEN_LIFETIME
        return now + lifetime

    def granted_scopes(self, requested: tuple[str, ...]) -> list[str]:
        """The scopes the provider reports (space- or comma-separated), else the ones requested."""
        if not self.scope:
            return list(requested)
        return [scope for scope in _SCOPE_SEPARATORS.split(self.scope) if scope]

    def id_token_claims(self) -> dict[str, Any]:
        """The OpenID Connect claims of `id_token`, or {} when there is none or it is malformed.

        The signature is not checked: the token came straight from the provider's token endpoint
        over TLS, which OpenID Connect Core §3.1.3.7 accepts in place of the signature, and the
        claims are used only to label the account, never to authorise anything. The engine uses
        this only for a provider that publishes no key set; otherwise `verified_id_token_claims`.
        """
        if self.id_token is None:
            return {}
        try:
            claims = jwt.decode(self.id_token.get_secret_value(), options={"verify_signature": False})
        except jwt.PyJWTError:
            return {}
        return claims if isinstance(claims, dict) else {}

    def id_token_kid(self) -> str | None:
        """The `kid` the id_token's (unverified) header names: which published key to verify it with.
        Raises `jwt.PyJWTError` when the token is malformed."""
        if self.id_token is None:
            return None
        kid = jwt.get_unverified_header(self.id_token.get_secret_value()).get("kid")
        return kid if isinstance(kid, str) else None

    def verified_id_token_claims(
        self, jwks: Mapping[str, Any], *, audience: str, issuers: Sequence[str]
    ) -> dict[str, Any]:
        """The claims of `id_token` once verified against the provider's key set `jwks` (a JWKS
        document): RS256 signature by the key its `kid` names, `aud` = `audience`, not expired,
        and `iss` one of `issuers` (`{tid}` in an issuer stands for the token's `tid` claim, as in
        Microsoft's multi-tenant issuer). {} when there is no id_token.

        Raises `jwt.PyJWTError` (bad signature, audience, issuer or expiry, no such key) or
        `KeyError` (the key set has no key for the token's `kid`).
        """
        if self.id_token is None:
            return {}
        token = self.id_token.get_secret_value()
        key_set = jwt.PyJWKSet.from_dict(dict(jwks))
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            if len(key_set.keys) != 1:
                raise jwt.InvalidTokenError("the id_token names no key and the key set has several")
            key = key_set.keys[0]
        else:
            key = key_set[kid]
        claims = jwt.decode(
            token,
            key,
            algorithms=list(ID_TOKEN_ALGORITHMS),
            audience=audience,
            leeway=ID_TOKEN_LEEWAY,
            options={"require": ["iss", "aud", "exp", "iat"]},
        )
        tenant = claims.get("tid")
        expected = {issuer.replace("{tid}", tenant) if isinstance(tenant, str) else issuer for issuer in issuers}
        if claims.get("iss") not in expected or "{tid}" in claims["iss"]:
            raise jwt.InvalidIssuerError("the id_token was issued by an unexpected issuer")
        return claims


@dataclass(frozen=True)
class AccessToken:
    """A usable access token of one integration; `value` is the secret (left out of the repr).

    `api_domain` is where this tenant's API calls go (Zoho: per data centre; others: the
    provider's API host, or the sandbox standing in for it).
    """

    value: str = field(repr=False)
    expires_at: dt.datetime
    api_domain: str | None
    integration_id: str

    def expires_within(self, margin: dt.timedelta, *, now: dt.datetime | None = None) -> bool:
        return self.expires_at - (now or dt.datetime.now(dt.UTC)) <= margin


@dataclass
class _CachedKeySet:
    jwks: Mapping[str, Any]
    kids: frozenset[str]
    fetched_at: float
    attempted_at: float


class JwksCache:
    """The identity providers' published signing keys (JWKS documents), fetched once per URL and reused.

    Every connect of a Google or Microsoft account verifies an id_token; fetching the key set for
    each would double the provider calls of a callback and tie connecting to the key endpoint's
    availability. The contract of `key_set(url, kid)`:
    - the first call for a URL fetches it; later calls reuse it for `max_age`;
    - a `kid` the cached set does not hold means the provider rotated its keys: the set is fetched
      again, but at most once per `min_refetch_interval` per URL (counting failed fetches), so a
      stream of tokens naming a bogus kid cannot turn into a stream of requests;
    - a failed refetch keeps the keys already cached; a failed first fetch raises (`fetch`'s error).
    Thread-safe; one fetch at a time (concurrent callers wait for it rather than repeat it).
    Fetches go through `http` (the engine's pooled client). `clock` (seconds, monotonic) is
    injectable so the intervals can be tested without waiting.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        max_age: dt.timedelta = JWKS_MAX_AGE,
        min_refetch_interval: dt.timedelta = JWKS_MIN_REFETCH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._max_age = max_age.total_seconds()
        self._min_refetch_interval = min_refetch_interval.total_seconds()
        self._clock = clock
        self._entries: dict[str, _CachedKeySet] = {}
        self._lock = threading.Lock()

    def key_set(self, url: str, kid: str | None) -> Mapping[str, Any]:
        """The key set published at `url` that should hold `kid` (see the class docstring)."""
        with self._lock:
            entry = self._entries.get(url)
            now = self._clock()
            if entry is None:
                return self._load(url, now, None).jwks
            stale = now - entry.fetched_at >= self._max_age
            rotated = kid is not None and kid not in entry.kids
            if (stale or rotated) and now - entry.attempted_at >= self._min_refetch_interval:
                return self._load(url, now, entry).jwks
            return entry.jwks

    def _load(self, url: str, now: float, previous: _CachedKeySet | None) -> _CachedKeySet:
        try:
            jwks = self._fetch(url)
        except (httpx.HTTPError, ValueError):
            if previous is None:
                raise
            previous.attempted_at = now  # rate-limit failed refetches too; keep serving the old keys
            return previous
        keys = jwks.get("keys")
        kids = (
            frozenset(key["kid"] for key in keys if isinstance(key, Mapping) and isinstance(key.get("kid"), str))
            if isinstance(keys, list)
            else frozenset()
        )
        entry = _CachedKeySet(jwks=jwks, kids=kids, fetched_at=now, attempted_at=now)
        self._entries[url] = entry
        return entry

    def _fetch(self, url: str) -> Mapping[str, Any]:
        response = self._http.get(url, timeout=JWKS_TIMEOUT)
        response.raise_for_status()
        jwks = response.json()  # a body that is not JSON raises a ValueError
        if not isinstance(jwks, dict):
            raise ValueError("the key set is not a JSON object")
        return jwks
