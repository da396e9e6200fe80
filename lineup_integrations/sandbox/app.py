"""Assembling one provider's sandbox app, and the HTTP helpers its wire twin shares.

`sandbox_app` mounts the provider's routers next to the control API and wraps them in the
middleware that logs every request and applies queued faults, so a provider part (OAuth, CRM,
calendar) only writes its own endpoints and gets fault injection and request counting for free.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import parse_qsl, unquote_plus

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lineup_integrations.sandbox.control import CONTROL_PREFIX, control_router
from lineup_integrations.sandbox.kit import Fault, IssuedTokens, LoggedRequest, SandboxAccount, SandboxState

ErrorResponder = Callable[[int], Response]
"""Renders the provider's own error body for an HTTP status (401 = the provider's invalid-token error)."""

TRUNCATED_JSON = b'{"data":[{"id":"'
GRANT_CREDENTIALS: Mapping[str, str] = {"authorization_code": "code", "refresh_token": "refresh_token"}
"""The grant types every provider's token endpoint serves, and the form parameter carrying each one's credential."""


def sandbox_app(state: SandboxState, *routers: APIRouter, title: str, error_response: ErrorResponder) -> FastAPI:
    """The ASGI app of one provider's sandbox: its `routers`, the `/_sandbox/` control API, and
    fault injection + request logging on every non-control path."""
    app = FastAPI(title=title, description=f"Offline twin of {state.provider}; control API under {CONTROL_PREFIX}/")
    app.include_router(control_router(state))
    for router in routers:
        app.include_router(router)
    app.add_middleware(FaultInjectionMiddleware, state=state, error_response=error_response)
    return app


def redirect_to(redirect_uri: str, params: Mapping[str, str | None]) -> RedirectResponse:
    """A 302 to `redirect_uri` with `params` added to the query it already has (None values left out)."""
    present = {name: value for name, value in params.items() if value is not None}
    return RedirectResponse(str(httpx.URL(redirect_uri).copy_merge_params(present)), status_code=302)


async def form_params(request: Request, *, include_query: bool = False) -> dict[str, str]:
    """The parameters of an OAuth POST: the urlencoded body, over the query string when the
    provider also reads parameters from there (Zoho does; Google and Microsoft do not)."""
    params = dict(request.query_params) if include_query else {}
    content_type = request.headers.get("content-type", "application/x-www-form-urlencoded")
    if content_type.startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    return params


async def token_params(
    state: SandboxState, request: Request, *, include_query: bool = False, basic_auth: bool = False
) -> dict[str, str]:
    """The parameters of a token request (see `form_params`), counted by grant type in the
    sandbox's stats before the provider checks anything. With `basic_auth` (a provider that accepts
    `client_secret_basic`, as Google does and requests-oauthlib uses by default), HTTP Basic client
    credentials (RFC 6749 §2.3.1, form-urlencoded id and secret) fill `client_id`/`client_secret`."""
    params = await form_params(request, include_query=include_query)
    if basic_auth:
        params = _basic_client_credentials(request.headers.get("authorization")) | params
    state.count_token_request(params.get("grant_type"))
    return params


def _basic_client_credentials(authorization: str | None) -> dict[str, str]:
    """`client_id` and `client_secret` of an `Authorization: Basic …` header; empty when there is none."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        client_id, sep, client_secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return {}
    return {"client_id": unquote_plus(client_id), "client_secret": unquote_plus(client_secret)} if sep else {}


def issue_code_from_query(
    state: SandboxState, account: SandboxAccount, query: Mapping[str, str], *, scopes: Sequence[str], offline: bool
) -> str:
    """The code of an authorize request `account` approved. Client, redirect URI and PKCE challenge
    come from the standard query parameters (RFC 6749 §4.1.1, RFC 7636 §4.3), which the provider
    has checked already; `scopes` and `offline` are its own reading of the request."""
    return state.issue_code(
        account,
        client_id=query["client_id"],
        redirect_uri=query["redirect_uri"],
        scopes=scopes,
        offline=offline,
        code_challenge=query.get("code_challenge"),
        code_challenge_method=query.get("code_challenge_method"),
    )


def redeem_grant(
    state: SandboxState, params: Mapping[str, str], *, scopes: Sequence[str] | None = None, dc: str | None = None
) -> IssuedTokens:
    """Tokens for a token request's grant, from its standard form parameters (RFC 6749 §4.1.3 and
    §6, RFC 7636 §4.5), or raise `GrantRejected`. The provider has checked the client and that the
    grant type is one of `GRANT_CREDENTIALS`; `scopes` narrow a refresh, `dc` is the data centre
    the request reached."""
    grant_type, client_id = params.get("grant_type"), params["client_id"]
    if grant_type == "authorization_code":
        return state.redeem_code(
            params.get("code", ""),
            client_id=client_id,
            redirect_uri=params.get("redirect_uri"),
            code_verifier=params.get("code_verifier"),
            dc=dc,
        )
    if grant_type == "refresh_token":
        return state.refresh(params.get("refresh_token", ""), client_id=client_id, scopes=scopes, dc=dc)
    raise ValueError(f"unsupported grant type {grant_type!r}")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization` header, whatever its scheme (`Bearer`, `Zoho-oauthtoken`)."""
    if not authorization:
        return None
    parts = authorization.split(None, 1)
    return parts[1].strip() if len(parts) == 2 else None


class FaultInjectionMiddleware:
    """Logs each request in `state.requests` and serves it the next queued fault that matches.

    Pure ASGI (not `BaseHTTPMiddleware`) so that a fault can hold a response open, drop the
    connection mid-response, or pass the untouched request on to the app.
    """

    def __init__(self, app: ASGIApp, *, state: SandboxState, error_response: ErrorResponder) -> None:
        self.app = app
        self.state = state
        self.error_response = error_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        token = bearer_token(_header(scope, b"authorization"))
        info = self.state.lookup_access_token(token) if token else None
        login = info.account.login if info else None
        status: int | None = None
        recorded = False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                self.state.requests.record(LoggedRequest(
                    method=method, path=path, login=login, account_id=info.account.account_id if info else None,
                    status=status, at=self.state.clock.now(),
                ))  # fmt: skip

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                record()  # before the client can read the answer, so a test that reads the log next sees it
            await send(message)

        try:
            fault = self.state.faults.take(method, path, login)
            if fault is None:
                await self.app(scope, receive, send_logged)
            else:
                await self._serve_fault(fault, scope, receive, send_logged)
        finally:
            record()  # a dropped or held connection never started a response

    async def _serve_fault(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        if fault.kind == "status":
            response = self.error_response(fault.status)
            if fault.retry_after is not None:
                response.headers["Retry-After"] = f"{fault.retry_after:g}"
            await response(scope, receive, send)
        elif fault.kind == "invalid_json":
            await Response(TRUNCATED_JSON, media_type="application/json")(scope, receive, send)
        elif fault.kind == "reset":
            # Headers promise a body that never comes; the server then closes the connection.
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
        else:
            replay = await _hold(receive, fault.delay)
            if replay is not None:
                await self.app(scope, replay, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _hold(receive: Receive, delay: float) -> Receive | None:
    """Hold a request for `delay` seconds; None if the client gave up meanwhile, else a `receive`
    that replays the request body to the app."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    try:
        await asyncio.wait_for(receive(), timeout=delay)
        return None  # after the body, the only message left is the client's disconnect
    except TimeoutError:
        pass
    pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
