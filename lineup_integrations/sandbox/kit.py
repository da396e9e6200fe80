"""The provider-agnostic sandbox kit: the in-memory state one provider's sandbox runs on.

A `SandboxState` is shared by a provider's OAuth part and its API parts (and by the tests that
drive them): accounts, the registered OAuth client, authorization codes, grants with their
access and refresh tokens, a settable clock, a fault-injection queue, a request log and token
request counters. It knows nothing about HTTP; each provider's `sandbox.py` turns it into that
provider's wire protocol, so the same rules (single-use codes, PKCE, expiry, revocation,
rotation) behave identically behind three different wire shapes.

Every method is thread-safe: the sandbox serves requests on its own event-loop thread while
tests and the control API read and change the same state.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import hmac
import random
import secrets
import threading
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal, Protocol, TypeVar

import jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, ConfigDict, Field, SecretStr

DEFAULT_LOGIN = "sandbox.user@example.com"
PKCE_METHODS = ("S256", "plain")  # the `code_challenge_method`s of RFC 7636
ID_TOKEN_TTL = dt.timedelta(hours=1)
DEFAULT_REDIRECT_URIS: tuple[str, ...] = (
    "http://localhost:4000/api/v1/integrations/callback",  # the project's default `<P>_REDIRECT_URI`
    "http://127.0.0.1:4000/api/v1/integrations/callback",  # `make demo`'s gateway
    "http://testserver/api/v1/integrations/callback",  # the gateway under FastAPI's TestClient
)
"""What the sandbox's client registration allows as `redirect_uri` until `/_sandbox/config` changes it."""


def numeric_id(digits: int) -> Callable[[], str]:
    """A factory of random numeric-string ids of a fixed length (Zoho's 19 digits, Google's 21)."""

    def new_id() -> str:
        return str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))

    return new_id


def guid() -> str:
    """A random GUID, the shape of Microsoft's object and directory ids."""
    return str(uuid.uuid4())


class SandboxConfig(BaseModel):
    """The switches of one provider's sandbox; `POST /_sandbox/config` changes them at run time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str
    client_secret: SecretStr
    access_token_ttl: int = Field(3600, ge=0, description="seconds an access token lives")
    code_ttl: int = Field(600, ge=0, description="seconds an authorization code can be redeemed")
    rotate_refresh_tokens: bool = Field(
        False, description="every refresh returns a new refresh token; the old one stays valid"
    )
    redirect_uris: tuple[str, ...] = Field(
        DEFAULT_REDIRECT_URIS,
        description="the client's registered redirect URIs; authorize and token accept only these, compared exactly",
    )


@dataclass(frozen=True)
class AccessTokenGrant:
    """What one access token is issued for: a format that renders claims (Microsoft's JWTs) reads it."""

    account: SandboxAccount
    client_id: str
    scopes: tuple[str, ...]
    issued_at: dt.datetime
    expires_at: dt.datetime


AccessTokenMaker = Callable[["SandboxState", AccessTokenGrant], str]
"""Renders a new access token's value; it must be unique (the sandbox looks tokens up by value)."""


def opaque_token(prefix: str = "", nbytes: int = 32) -> Callable[[], str]:
    """A factory of `prefix` + `nbytes` random bytes as URL-safe base64 (Google's `ya29.…`, `1//…`)."""

    def new_token() -> str:
        return prefix + secrets.token_urlsafe(nbytes)

    return new_token


def opaque_access_token(prefix: str = "", nbytes: int = 32) -> AccessTokenMaker:
    """An `AccessTokenMaker` of opaque tokens (see `opaque_token`), whatever they are issued for."""
    new_token = opaque_token(prefix, nbytes)

    def make(_state: SandboxState, _grant: AccessTokenGrant) -> str:
        return new_token()

    return make


@dataclass(frozen=True)
class TokenFormat:
    """How the sandbox's tokens look, so that a client meets the provider's shapes and lengths
    (Zoho's `1000.<hex>.<hex>`, Google's `ya29.…`, Microsoft's JWTs) rather than one generic string.
    Every value must be unpredictable and unique: the sandbox finds tokens by value."""

    access: AccessTokenMaker = field(default_factory=opaque_access_token)
    refresh: Callable[[], str] = field(default_factory=opaque_token)
    code: Callable[[], str] = field(default_factory=opaque_token)


@dataclass(frozen=True)
class IssuedSecret:
    """One secret value the sandbox handed out (`GET /_sandbox/tokens`), for leak tests to search for."""

    kind: Literal["code", "access_token", "refresh_token"]
    value: str = field(repr=False)
    login: str
    client_id: str


@dataclass(frozen=True)
class SandboxProfile:
    """What differs between providers at the kit level; each provider's `sandbox.py` declares one."""

    provider: str
    defaults: SandboxConfig
    new_account_id: Callable[[], str]
    new_user_id: Callable[[], str]
    data_centres: tuple[str, ...] = ()
    token_format: TokenFormat = TokenFormat()


def sandbox_profile(
    provider: str,
    *,
    new_id: Callable[[], str],
    token_format: TokenFormat = TokenFormat(),
    data_centres: tuple[str, ...] = (),
    code_ttl: int = 600,
    rotate_refresh_tokens: bool = False,
) -> SandboxProfile:
    """A provider's profile with the sandbox's client registration (`sandbox-{provider}-client`,
    secret `sandbox-{provider}-secret`, what `make demo` configures), hour-long access tokens and
    `new_id` making both account and user ids."""
    return SandboxProfile(
        provider=provider,
        defaults=SandboxConfig(
            client_id=f"sandbox-{provider}-client",
            client_secret=SecretStr(f"sandbox-{provider}-secret"),
            access_token_ttl=3600,
            code_ttl=code_ttl,
            rotate_refresh_tokens=rotate_refresh_tokens,
        ),
        new_account_id=new_id,
        new_user_id=new_id,
        data_centres=data_centres,
        token_format=token_format,
    )


@dataclass(frozen=True)
class SandboxAccount:
    """A user who can approve a consent.

    `account_id` is the organisation the integration is bound to (Zoho org id, Microsoft
    directory tenant id; for Google the user id itself); `user_id` is the user. `dc` is the Zoho
    data centre (None for providers without one). `deny` makes the authorize endpoint answer
    `error=access_denied`, so the denied path is testable.
    """

    login: str
    account_id: str
    user_id: str
    dc: str | None = None
    deny: bool = False


@dataclass(frozen=True)
class AuthorizationCode:
    value: str = field(repr=False)
    login: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    offline: bool
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: dt.datetime


@dataclass(frozen=True)
class IssuedTokens:
    """The result of a successful code or refresh grant; the provider renders it on the wire."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int
    scopes: tuple[str, ...]
    account: SandboxAccount


@dataclass(frozen=True)
class AccessTokenInfo:
    """What the sandbox knows about an access token, whether or not it is still usable."""

    account: SandboxAccount
    scopes: tuple[str, ...]
    expires_at: dt.datetime
    revoked: bool

    def is_active(self, now: dt.datetime) -> bool:
        return not self.revoked and now < self.expires_at


class Rejection(StrEnum):
    """Why a code or refresh grant was refused; each provider maps these to its own error body."""

    UNKNOWN_CODE = "unknown_code"
    CODE_USED = "code_used"
    CODE_EXPIRED = "code_expired"
    CLIENT_MISMATCH = "client_mismatch"
    REDIRECT_URI_MISMATCH = "redirect_uri_mismatch"
    REDIRECT_URI_NOT_REGISTERED = "redirect_uri_not_registered"
    PKCE_MISSING = "pkce_missing"
    PKCE_MISMATCH = "pkce_mismatch"
    UNKNOWN_REFRESH_TOKEN = "unknown_refresh_token"
    REVOKED = "revoked"
    SCOPE_NOT_GRANTED = "scope_not_granted"
    WRONG_DATA_CENTRE = "wrong_data_centre"


class GrantRejected(Exception):
    """A token request the provider refuses; `reason` says which rule it broke (never a token)."""

    def __init__(self, reason: Rejection) -> None:
        super().__init__(reason.value)
        self.reason = reason


class ClientCheck(StrEnum):
    OK = "ok"
    UNKNOWN_CLIENT = "unknown_client"
    WRONG_SECRET = "wrong_secret"


class SandboxClock:
    """Real UTC time plus an offset that tests move forward to expire codes and tokens without waiting."""

    def __init__(self) -> None:
        self._offset = dt.timedelta()
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return dt.datetime.now(dt.UTC) + self._offset

    def advance(self, seconds: float) -> dt.datetime:
        with self._lock:
            self._offset += dt.timedelta(seconds=seconds)
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = dt.timedelta()


FaultKind = Literal["status", "timeout", "reset", "invalid_json"]


class Fault(BaseModel):
    """ "The next `count` requests matching `endpoint` (and `login`, when set) get this fault."

    `endpoint` is a shell-style pattern over `"METHOD /path"` (e.g. `"GET /crm/v8/Contacts*"`) or,
    without a space, over the path alone (`"/crm/*"`). Kinds:
    - `status`: the provider's own error body for `status` (429, 500, 503, 401 = invalid token…),
      with `Retry-After: retry_after` when set;
    - `timeout`: the response is held for `delay` seconds (the client times out first);
    - `reset`: the connection is dropped mid-response;
    - `invalid_json`: HTTP 200 with a truncated JSON body.

    `rate` < 1 makes the fault hit only that share of the matching requests (drawn from a
    random generator seeded with `seed`, so a run is reproducible); `count` still bounds how
    many requests it hits.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str = "*"
    kind: FaultKind = "status"
    status: int = Field(500, ge=400, le=599)
    retry_after: float | None = Field(None, ge=0)
    delay: float = Field(30.0, ge=0, le=600)
    login: str | None = None
    count: int = Field(1, ge=1)
    rate: float = Field(1.0, gt=0, le=1)
    seed: int = 0

    def matches(self, method: str, path: str, login: str | None) -> bool:
        if self.login is not None and self.login != login:
            return False
        subject = f"{method.upper()} {path}" if " " in self.endpoint else path
        return fnmatch.fnmatchcase(subject, self.endpoint)


class FaultQueue:
    """Queued faults, consumed first-in first-out by the requests they match."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[Fault, int, random.Random]] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._pending.append((fault, fault.count, random.Random(fault.seed)))

    def take(self, method: str, path: str, login: str | None) -> Fault | None:
        """The fault this request gets, if any; counts it against that fault's `count`."""
        with self._lock:
            for index, (fault, remaining, draws) in enumerate(self._pending):
                if fault.matches(method, path, login) and (fault.rate >= 1 or draws.random() < fault.rate):
                    if remaining > 1:
                        self._pending[index] = (fault, remaining - 1, draws)
                    else:
                        del self._pending[index]
                    return fault
            return None

    def pending(self) -> list[Fault]:
        """The faults still queued, each with `count` = how many requests it will still hit."""
        with self._lock:
            return [fault.model_copy(update={"count": remaining}) for fault, remaining, _ in self._pending]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    login: str | None
    account_id: str | None
    status: int | None
    at: dt.datetime

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


class RequestLog:
    """Every request the provider's port served (control API excluded), attributed to an account
    when it carried an access token the sandbox issued (even an expired one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(
        self, *, login: str | None = None, account_id: str | None = None, endpoint: str = "*"
    ) -> list[LoggedRequest]:
        """Requests in arrival order, filtered by account and by a shell pattern over `"METHOD /path"`."""
        with self._lock:
            entries = list(self._entries)
        return [
            entry
            for entry in entries
            if (login is None or entry.login == login)
            and (account_id is None or entry.account_id == account_id)
            and fnmatch.fnmatchcase(entry.endpoint, endpoint)
        ]

    def count(self, *, login: str | None = None, account_id: str | None = None, endpoint: str = "*") -> int:
        return len(self.entries(login=login, account_id=account_id, endpoint=endpoint))

    def by_endpoint(
        self, *, login: str | None = None, account_id: str | None = None, endpoint: str = "*"
    ) -> dict[str, int]:
        entries = self.entries(login=login, account_id=account_id, endpoint=endpoint)
        return dict(Counter(entry.endpoint for entry in entries))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class _Grant:
    """One consent of an account to the client; all its tokens die when it is revoked."""

    login: str
    client_id: str
    scopes: tuple[str, ...]
    offline: bool
    revoked: bool = False


@dataclass
class _AccessToken:
    grant: _Grant
    expires_at: dt.datetime


class SandboxState:
    """The whole in-memory world of one provider's sandbox (see the module docstring)."""

    def __init__(self, profile: SandboxProfile) -> None:
        self.profile = profile
        self.clock = SandboxClock()
        self.faults = FaultQueue()
        self.requests = RequestLog()
        self._lock = threading.RLock()
        self._config = profile.defaults
        self._accounts: dict[str, SandboxAccount] = {}
        self._codes: dict[str, tuple[AuthorizationCode, bool]] = {}
        self._grants: list[_Grant] = []
        self._access_tokens: dict[str, _AccessToken] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._token_requests: Counter[str] = Counter()
        self._signing_key: tuple[str, rsa.RSAPrivateKey] | None = None
        self._reset_hooks: list[Callable[[], None]] = []

    @property
    def provider(self) -> str:
        return self.profile.provider

    # -- configuration -------------------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        return self._config

    def configure(self, **changes: object) -> SandboxConfig:
        """Change some switches (validated like `SandboxConfig`); returns the new configuration."""
        with self._lock:
            self._config = SandboxConfig.model_validate(self._config.model_dump() | changes)
            return self._config

    def reset(self) -> None:
        """Back to a fresh sandbox: default switches, no accounts, tokens, faults, log or counters."""
        with self._lock:
            self._config = self.profile.defaults
            self._accounts.clear()
            self._codes.clear()
            self._grants.clear()
            self._access_tokens.clear()
            self._refresh_tokens.clear()
            self._token_requests.clear()
            self.clock.reset()
            self.faults.clear()
            self.requests.clear()
            for hook in self._reset_hooks:
                hook()

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Also run `hook` on every `reset()`: how a provider's API part (e.g. Zoho's CRM records)
        keeps its own state beside the kit's and is reset with it."""
        with self._lock:
            self._reset_hooks.append(hook)

    # -- accounts ------------------------------------------------------------------------------

    def create_account(self, login: str, *, dc: str | None = None, deny: bool = False) -> SandboxAccount:
        """Create the account, or update `dc`/`deny` of an existing one (its ids stay).

        Raises ValueError for a data centre the provider does not have.
        """
        if dc is not None and dc not in self.profile.data_centres:
            known = ", ".join(self.profile.data_centres) or "none"
            raise ValueError(f"unknown data centre {dc!r} for {self.provider} (known: {known})")
        with self._lock:
            existing = self._accounts.get(login)
            if existing is not None:
                account = replace(existing, dc=dc or existing.dc, deny=deny)
            else:
                account = SandboxAccount(
                    login=login,
                    account_id=self.profile.new_account_id(),
                    user_id=self.profile.new_user_id(),
                    dc=dc or next(iter(self.profile.data_centres), None),
                    deny=deny,
                )
            self._accounts[login] = account
            return account

    def account(self, login: str) -> SandboxAccount | None:
        with self._lock:
            return self._accounts.get(login)

    def accounts(self) -> list[SandboxAccount]:
        with self._lock:
            return list(self._accounts.values())

    def account_for_login_hint(self, login_hint: str | None) -> SandboxAccount:
        """The account that approves an authorize request: the hinted one, created on first use."""
        login = login_hint or DEFAULT_LOGIN
        with self._lock:
            return self._accounts.get(login) or self.create_account(login)

    # -- the OAuth client ----------------------------------------------------------------------

    def is_known_client(self, client_id: str | None) -> bool:
        return client_id is not None and hmac.compare_digest(client_id.encode(), self._config.client_id.encode())

    def check_client(self, client_id: str | None, client_secret: str | None) -> ClientCheck:
        if not self.is_known_client(client_id):
            return ClientCheck.UNKNOWN_CLIENT
        expected = self._config.client_secret.get_secret_value()
        if client_secret is None or not hmac.compare_digest(client_secret.encode(), expected.encode()):
            return ClientCheck.WRONG_SECRET
        return ClientCheck.OK

    def is_registered_redirect_uri(self, redirect_uri: str | None) -> bool:
        """Whether `redirect_uri` is one the client registered, character for character (scheme,
        host, port, path, query and trailing slash all count), as the three providers compare it."""
        return redirect_uri is not None and redirect_uri in self._config.redirect_uris

    def register_redirect_uri(self, redirect_uri: str) -> SandboxConfig:
        """Add a redirect URI to the client's registration (a no-op when it is there already)."""
        with self._lock:
            if redirect_uri in self._config.redirect_uris:
                return self._config
            return self.configure(redirect_uris=(*self._config.redirect_uris, redirect_uri))

    # -- codes and tokens ------------------------------------------------------------------------

    def has_live_grant(self, login: str, client_id: str) -> bool:
        """Whether the account already holds an unrevoked offline grant for the client (providers
        that issue a refresh token only on first consent ask this)."""
        with self._lock:
            return any(
                grant.login == login and grant.client_id == client_id and grant.offline and not grant.revoked
                for grant in self._grants
            )

    def issue_code(
        self,
        account: SandboxAccount,
        *,
        client_id: str,
        redirect_uri: str,
        scopes: Sequence[str],
        offline: bool,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> str:
        """A fresh single-use code; `offline` says whether redeeming it yields a refresh token."""
        value = self.profile.token_format.code()
        code = AuthorizationCode(
            value=value,
            login=account.login,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=tuple(scopes),
            offline=offline,
            code_challenge=code_challenge,
            code_challenge_method=(code_challenge_method or "plain") if code_challenge else None,
            expires_at=self.clock.now() + dt.timedelta(seconds=self._config.code_ttl),
        )
        with self._lock:
            self._codes[value] = (code, False)
        return value

    def redeem_code(
        self,
        code: str,
        *,
        client_id: str,
        redirect_uri: str | None,
        code_verifier: str | None,
        dc: str | None = None,
    ) -> IssuedTokens:
        """Exchange a code for tokens, or raise `GrantRejected`.

        A code is spent by its first redemption attempt, successful or not, except when the
        request went to another data centre (`dc`): that server never saw the code. The
        `redirect_uri` must be the authorize request's and still be registered.
        """
        with self._lock:
            entry = self._codes.get(code)
            if entry is None:
                raise GrantRejected(Rejection.UNKNOWN_CODE)
            record, used = entry
            account = self._accounts[record.login]
            if dc is not None and account.dc != dc:
                raise GrantRejected(Rejection.WRONG_DATA_CENTRE)
            self._codes[code] = (record, True)
            if used:
                raise GrantRejected(Rejection.CODE_USED)
            if self.clock.now() >= record.expires_at:
                raise GrantRejected(Rejection.CODE_EXPIRED)
            if record.client_id != client_id:
                raise GrantRejected(Rejection.CLIENT_MISMATCH)
            if not self.is_registered_redirect_uri(redirect_uri):
                raise GrantRejected(Rejection.REDIRECT_URI_NOT_REGISTERED)
            if record.redirect_uri != redirect_uri:
                raise GrantRejected(Rejection.REDIRECT_URI_MISMATCH)
            _verify_pkce(record, code_verifier)
            grant = _Grant(login=record.login, client_id=client_id, scopes=record.scopes, offline=record.offline)
            self._grants.append(grant)
            refresh_token = self._new_refresh_token(grant) if record.offline else None
            return self._issue_access_token(grant, account, refresh_token)

    def refresh(
        self,
        refresh_token: str,
        *,
        client_id: str,
        scopes: Sequence[str] | None = None,
        dc: str | None = None,
    ) -> IssuedTokens:
        """A new access token for a refresh token, or raise `GrantRejected`.

        `scopes` (when the provider lets the client narrow them) must be granted already.
        With rotation on, a new refresh token is returned and the old one stays valid, as at
        Microsoft; otherwise `refresh_token` of the result is None.
        """
        with self._lock:
            grant = self._refresh_tokens.get(refresh_token)
            if grant is None:
                raise GrantRejected(Rejection.UNKNOWN_REFRESH_TOKEN)
            account = self._accounts[grant.login]
            if dc is not None and account.dc != dc:
                raise GrantRejected(Rejection.WRONG_DATA_CENTRE)
            if grant.client_id != client_id:
                raise GrantRejected(Rejection.CLIENT_MISMATCH)
            if grant.revoked:
                raise GrantRejected(Rejection.REVOKED)
            if scopes is not None and not set(scopes) <= set(grant.scopes):
                raise GrantRejected(Rejection.SCOPE_NOT_GRANTED)
            rotated = self._new_refresh_token(grant) if self._config.rotate_refresh_tokens else None
            return self._issue_access_token(grant, account, rotated, scopes=tuple(scopes or grant.scopes))

    def revoke_token(self, token: str) -> bool:
        """Revoke the grant an access or refresh token belongs to; False for an unknown or dead token."""
        with self._lock:
            grant = self._refresh_tokens.get(token)
            if grant is None and token in self._access_tokens:
                grant = self._access_tokens[token].grant
            if grant is None or grant.revoked:
                return False
            grant.revoked = True
            return True

    def revoke_grants(self, login: str) -> int:
        """Revoke every grant of an account (refresh → invalid grant, access tokens → unauthorised)."""
        with self._lock:
            live = [grant for grant in self._grants if grant.login == login and not grant.revoked]
            for grant in live:
                grant.revoked = True
            return len(live)

    def expire_access_tokens(self, login: str) -> int:
        """Make every live access token of an account expire now; returns how many."""
        with self._lock:
            now = self.clock.now()
            live = [t for t in self._access_tokens.values() if t.grant.login == login and t.expires_at > now]
            for token in live:
                token.expires_at = now
            return len(live)

    def lookup_access_token(self, access_token: str) -> AccessTokenInfo | None:
        """Whatever token the sandbox issued, live or not (for attributing requests); None if never issued."""
        with self._lock:
            token = self._access_tokens.get(access_token)
            if token is None:
                return None
            return AccessTokenInfo(
                account=self._accounts[token.grant.login],
                scopes=token.grant.scopes,
                expires_at=token.expires_at,
                revoked=token.grant.revoked,
            )

    def issued_secrets(self, login: str | None = None) -> list[IssuedSecret]:
        """Every code, access token and refresh token the sandbox issued (since the last reset),
        live or not, oldest first within each kind; only `login`'s when given."""
        with self._lock:
            secrets_: list[IssuedSecret] = [
                IssuedSecret("code", value, code.login, code.client_id) for value, (code, _) in self._codes.items()
            ]
            secrets_ += [
                IssuedSecret("access_token", value, token.grant.login, token.grant.client_id)
                for value, token in self._access_tokens.items()
            ]
            secrets_ += [
                IssuedSecret("refresh_token", value, grant.login, grant.client_id)
                for value, grant in self._refresh_tokens.items()
            ]
        return [secret for secret in secrets_ if login is None or secret.login == login]

    def authenticate(self, access_token: str) -> SandboxAccount | None:
        """The account a bearer token acts for; None when unknown, expired or revoked."""
        info = self.lookup_access_token(access_token)
        if info is None or not info.is_active(self.clock.now()):
            return None
        return info.account

    # -- OpenID Connect ------------------------------------------------------------------------

    def sign_id_token(self, claims: Mapping[str, object]) -> str:
        """An RS256 `id_token` for the registered client carrying the provider's `claims`; `aud`,
        `iat` and `exp` come from the sandbox (its clock). Verifiable with `jwks()`."""
        now = self.clock.now()
        return self.sign_jwt({"aud": self._config.client_id, "iat": now, "exp": now + ID_TOKEN_TTL} | dict(claims))

    def sign_jwt(self, claims: Mapping[str, object]) -> str:
        """`claims` as an RS256 JWT with header `{"typ":"JWT","alg":"RS256","kid"}`, signed with the
        key `jwks()` publishes (id tokens, and Microsoft's JWT-shaped access tokens)."""
        kid, key = self._id_token_key()
        return jwt.encode(dict(claims), key, algorithm="RS256", headers={"typ": "JWT", "kid": kid})

    def jwks(self) -> dict[str, list[dict[str, object]]]:
        """The public key set that verifies this sandbox's id tokens (a JWKS document)."""
        kid, key = self._id_token_key()
        public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        return {"keys": [public | {"kid": kid, "alg": "RS256", "use": "sig"}]}

    def rotate_signing_key(self) -> str:
        """Replace the id-token signing key (a provider rotating its keys): later id tokens name a
        new `kid`, and `jwks()` publishes only the new key. Returns the new `kid`."""
        with self._lock:
            self._signing_key = (secrets.token_hex(8), rsa.generate_private_key(public_exponent=65537, key_size=2048))
            return self._signing_key[0]

    def _id_token_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        """Made on first use (a sandbox that never signs an id token or a JWT access token never
        pays for RSA key generation) and kept across resets, like a provider's published keys."""
        with self._lock:
            if self._signing_key is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                self._signing_key = (secrets.token_hex(8), key)
            return self._signing_key

    # -- counters ------------------------------------------------------------------------------

    def count_token_request(self, grant_type: str | None) -> None:
        """Count one request to the token endpoint, whatever its outcome."""
        with self._lock:
            self._token_requests[grant_type or "none"] += 1

    def stats(self) -> dict[str, object]:
        with self._lock:
            now = self.clock.now()
            return {
                "provider": self.provider,
                "token_requests": sum(self._token_requests.values()),
                "token_requests_by_grant": dict(self._token_requests),
                "accounts": len(self._accounts),
                "active_access_tokens": sum(
                    1 for t in self._access_tokens.values() if not t.grant.revoked and t.expires_at > now
                ),
                "active_refresh_tokens": sum(1 for g in self._refresh_tokens.values() if not g.revoked),
                "requests": self.requests.count(),
            }

    # -- internals -----------------------------------------------------------------------------

    def _new_refresh_token(self, grant: _Grant) -> str:
        value = self.profile.token_format.refresh()
        self._refresh_tokens[value] = grant
        return value

    def _issue_access_token(
        self,
        grant: _Grant,
        account: SandboxAccount,
        refresh_token: str | None,
        *,
        scopes: tuple[str, ...] | None = None,
    ) -> IssuedTokens:
        ttl = self._config.access_token_ttl
        now = self.clock.now()
        expires_at = now + dt.timedelta(seconds=ttl)
        granted = scopes or grant.scopes
        issued_for = AccessTokenGrant(
            account=account, client_id=grant.client_id, scopes=granted, issued_at=now, expires_at=expires_at
        )
        value = self.profile.token_format.access(self, issued_for)
        self._access_tokens[value] = _AccessToken(grant=grant, expires_at=expires_at)
        return IssuedTokens(
            access_token=value,
            refresh_token=refresh_token,
            expires_in=ttl,
            scopes=granted,
            account=account,
        )


def _verify_pkce(code: AuthorizationCode, verifier: str | None) -> None:
    """RFC 7636: when the authorize request carried a challenge, the verifier must match it."""
    if code.code_challenge is None:
        return
    if not verifier:
        raise GrantRejected(Rejection.PKCE_MISSING)
    if not CODE_VERIFIER_PATTERN.match(verifier):
        raise GrantRejected(Rejection.PKCE_MISMATCH)
    derived = create_s256_code_challenge(verifier) if code.code_challenge_method == "S256" else verifier
    if not hmac.compare_digest(derived.encode(), code.code_challenge.encode()):
        raise GrantRejected(Rejection.PKCE_MISMATCH)


class _Resettable(Protocol):
    def reset(self) -> None: ...


class HoldGate:
    """Holds every admitted API call of a twin until released (`POST /_sandbox/<api>/hold`,
    `/release`): a test can then see how many calls a client keeps in flight, without timing.
    Thread-safe: the control API, the tests and a reset all touch it."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def passed(self) -> None:
        """Return once the gate is open (at once when it is)."""
        if not self._open.is_set():
            await asyncio.to_thread(self._open.wait)


_World = TypeVar("_World", bound=_Resettable)


def per_state(make: Callable[[SandboxState], _World]) -> Callable[[SandboxState], _World]:
    """`world_of(state)`: one `make(state)` per sandbox state, made on first use and reset with the
    state: how a provider's API twin (Zoho's CRM, Google's calendars, Graph) keeps its data beside the kit's."""
    worlds: weakref.WeakKeyDictionary[SandboxState, _World] = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    def world_of(state: SandboxState) -> _World:
        with lock:
            world = worlds.get(state)
            if world is None:
                world = worlds[state] = make(state)
                state.on_reset(world.reset)
            return world

    return world_of
