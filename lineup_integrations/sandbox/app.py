"""Assembling one provider's sandbox app, and the HTTP helpers its wire twin shares.

`sandbox_app` mounts the provider's routers next to the control API and wraps them in the
middleware that logs every request and applies queued faults, so a provider part (OAuth, CRM,
calendar) only writes its own endpoints and gets fault injection and request counting for free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lineup_integrations.sandbox.control import CONTROL_PREFIX, control_router
from lineup_integrations.sandbox.kit import Fault, LoggedRequest, SandboxState

ErrorResponder = Callable[[int], Response]
"""Renders the provider's own error body for an HTTP status (401 = the provider's invalid-token error)."""

TRUNCATED_JSON = b'{"data":[{"id":"'


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

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            fault = self.state.faults.take(method, path, login)
            if fault is None:
                await self.app(scope, receive, send_logged)
            else:
                await self._serve_fault(fault, scope, receive, send_logged)
        finally:
            self.state.requests.record(
                LoggedRequest(
                    method=method,
                    path=path,
                    login=login,
                    account_id=info.account.account_id if info else None,
                    status=status,
                    at=self.state.clock.now(),
                )
            )

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
