"""The control API under `/_sandbox/`, mounted on every provider's port.

It is how tests and the demo act as "the world outside": create accounts (in a Zoho data
centre, or ones that deny consent), expire or revoke a user's tokens, change the sandbox's
switches, move its clock, queue faults, and read what the sandbox saw. It never exists on the
real services, so clients must not depend on it. Each endpoint acts on its own port's provider.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from lineup_integrations.sandbox.kit import Fault, HoldGate, IssuedSecret, SandboxAccount, SandboxState

CONTROL_PREFIX = "/_sandbox"


class AccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, description="the user's email; `login_hint` selects it")
    dc: str | None = Field(None, description="Zoho data centre: us, eu, in, au, jp, ca, cn, sa (default us)")
    deny: bool = Field(False, description="the user refuses consent: authorize redirects with error=access_denied")


class AccountView(BaseModel):
    login: str
    account_id: str
    user_id: str
    dc: str | None
    deny: bool

    @classmethod
    def of(cls, account: SandboxAccount) -> AccountView:
        return cls(
            login=account.login,
            account_id=account.account_id,
            user_id=account.user_id,
            dc=account.dc,
            deny=account.deny,
        )


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str


class ConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    access_token_ttl: int | None = Field(None, ge=0)
    code_ttl: int | None = Field(None, ge=0)
    rotate_refresh_tokens: bool | None = None
    redirect_uris: list[str] | None = Field(
        None, description="replaces the registered redirect URIs (each compared exactly at authorize and token)"
    )


class ConfigView(BaseModel):
    """The switches, without the client secret."""

    client_id: str
    access_token_ttl: int
    code_ttl: int
    rotate_refresh_tokens: bool
    redirect_uris: list[str]


class IssuedSecretView(BaseModel):
    kind: str = Field(description="code, access_token or refresh_token")
    value: str
    login: str
    client_id: str

    @classmethod
    def of(cls, secret: IssuedSecret) -> IssuedSecretView:
        return cls(kind=secret.kind, value=secret.value, login=secret.login, client_id=secret.client_id)


class IssuedSecrets(BaseModel):
    count: int
    tokens: list[IssuedSecretView]


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0)


class ClockView(BaseModel):
    now: dt.datetime


class RequestCounts(BaseModel):
    count: int
    by_endpoint: dict[str, int]


def control_router(state: SandboxState) -> APIRouter:
    """The `/_sandbox/` endpoints acting on `state`:

    - `POST /_sandbox/accounts {"login", "dc"?, "deny"?}`: create (or update) an account → its ids
      (`account_id` = Zoho org id / Microsoft directory id / Google user id, `user_id`); `GET` lists them.
    - `POST /_sandbox/tokens/expire {"login"}`: that user's access tokens expire now → `{"expired": n}`.
    - `POST /_sandbox/tokens/revoke {"login"}`: revoke that user's grants (refresh → the provider's
      invalid-grant error, access tokens → 401) → `{"revoked": n}`.
    - `GET /_sandbox/tokens?login=`: every code, access token and refresh token issued since the last
      reset, live or not → `{"count", "tokens": [{"kind", "value", "login", "client_id"}]}`; leak tests
      search logs, responses and tables for each value. (Test-only by nature: it hands out secrets.)
    - `GET /_sandbox/stats`: `{"token_requests", "token_requests_by_grant": {"authorization_code",
      "refresh_token"}, "accounts", "active_access_tokens", "active_refresh_tokens", "requests"}`.
    - `GET /_sandbox/requests?login=&account_id=&endpoint=`: `{"count", "by_endpoint": {"GET /path": n}}`
      of the request log (`endpoint` is a shell pattern over `"METHOD /path"`).
    - `GET|POST /_sandbox/config {"rotate_refresh_tokens", "access_token_ttl", "code_ttl",
      "client_id", "client_secret", "redirect_uris"}`: read or change the switches (the secret is never
      shown); `redirect_uris` replaces the client's registered redirect URIs (default `kit.DEFAULT_REDIRECT_URIS`).
    - `GET /_sandbox/clock`, `POST /_sandbox/clock/advance {"seconds"}`: the sandbox's clock, which
      expires codes and tokens; moving it forward avoids waiting in tests.
    - `POST /_sandbox/faults {"endpoint", "kind", "status", "retry_after", "delay", "login", "count"}`,
      `GET` lists the queue, `DELETE` empties it (see `kit.Fault`).
    - `POST /_sandbox/keys/rotate`: a new id-token signing key (see `SandboxState.rotate_signing_key`) → `{"kid"}`.
    - `POST /_sandbox/reset`: back to a fresh sandbox.
    """
    router = APIRouter(prefix=CONTROL_PREFIX, tags=["sandbox control"])

    def known_login(login: str) -> str:
        if state.account(login) is None:
            raise HTTPException(404, f"no sandbox account {login!r}")
        return login

    @router.post("/accounts")
    def create_account(body: AccountRequest) -> AccountView:
        try:
            return AccountView.of(state.create_account(body.login, dc=body.dc, deny=body.deny))
        except ValueError as error:
            raise HTTPException(400, str(error)) from None

    @router.get("/accounts")
    def list_accounts() -> list[AccountView]:
        return [AccountView.of(account) for account in state.accounts()]

    @router.post("/tokens/expire")
    def expire_tokens(body: LoginRequest) -> dict[str, int]:
        return {"expired": state.expire_access_tokens(known_login(body.login))}

    @router.post("/tokens/revoke")
    def revoke_tokens(body: LoginRequest) -> dict[str, int]:
        return {"revoked": state.revoke_grants(known_login(body.login))}

    @router.get("/tokens")
    def issued_tokens(login: str | None = None) -> IssuedSecrets:
        tokens = [IssuedSecretView.of(secret) for secret in state.issued_secrets(login)]
        return IssuedSecrets(count=len(tokens), tokens=tokens)

    @router.get("/stats")
    def stats() -> dict[str, object]:
        return state.stats()

    @router.get("/requests")
    def requests(login: str | None = None, account_id: str | None = None, endpoint: str = Query("*")) -> RequestCounts:
        counts = state.requests.by_endpoint(login=login, account_id=account_id, endpoint=endpoint)
        return RequestCounts(count=sum(counts.values()), by_endpoint=counts)

    @router.get("/config")
    def read_config() -> ConfigView:
        return ConfigView.model_validate(state.config.model_dump(exclude={"client_secret"}))

    @router.post("/config")
    def change_config(body: ConfigUpdate) -> ConfigView:
        state.configure(**body.model_dump(exclude_none=True))
        return read_config()

    @router.get("/clock")
    def read_clock() -> ClockView:
        return ClockView(now=state.clock.now())

    @router.post("/clock/advance")
    def advance_clock(body: ClockAdvance) -> ClockView:
        return ClockView(now=state.clock.advance(body.seconds))

    @router.post("/faults")
    def add_fault(fault: Fault) -> list[Fault]:
        state.faults.add(fault)
        return state.faults.pending()

    @router.get("/faults")
    def list_faults() -> list[Fault]:
        return state.faults.pending()

    @router.delete("/faults")
    def clear_faults() -> list[Fault]:
        state.faults.clear()
        return state.faults.pending()

    @router.post("/keys/rotate")
    def rotate_signing_key() -> dict[str, str]:
        return {"kid": state.rotate_signing_key()}

    @router.post("/reset")
    def reset() -> dict[str, bool]:
        state.reset()
        return {"reset": True}

    return router


def hold_routes(gate: HoldGate) -> APIRouter:
    """`POST /hold` and `POST /release` of a twin's control API (mounted under its own prefix)."""
    router = APIRouter()

    @router.post("/hold")
    def hold() -> dict[str, bool]:
        gate.hold()
        return {"held": True}

    @router.post("/release")
    def release() -> dict[str, bool]:
        gate.release()
        return {"held": False}

    return router
