"""The fake provider's offline twin, built with the sandbox kit like the calendars' twins: an
authorize endpoint that approves at once and a token endpoint, next to the kit's control API."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from lineup_integrations.sandbox.app import (
    GRANT_CREDENTIALS,
    issue_code_from_query,
    redeem_grant,
    redirect_to,
    sandbox_app,
    token_params,
)
from lineup_integrations.sandbox.kit import GrantRejected, SandboxState, numeric_id, sandbox_profile

SANDBOX_PROFILE = sandbox_profile("fake_crm", new_id=numeric_id(8))


def create_sandbox_app(state: SandboxState) -> FastAPI:
    return sandbox_app(state, oauth_routes(state), title="Fake CRM sandbox", error_response=api_error)


def api_error(status: int) -> Response:
    return JSONResponse({"error": {"status": status}}, status_code=status)


def oauth_routes(state: SandboxState) -> APIRouter:
    router = APIRouter(tags=["Fake CRM OAuth"])

    @router.get("/oauth/authorize")
    async def authorize(request: Request) -> Response:
        query = request.query_params
        if not state.is_known_client(query.get("client_id")):
            return api_error(401)
        account = state.account_for_login_hint(query.get("login_hint"))
        code = issue_code_from_query(state, account, query, scopes=query.get("scope", "").split(), offline=True)
        return redirect_to(query["redirect_uri"], {"state": query.get("state"), "code": code})

    @router.post("/oauth/token")
    async def token(request: Request) -> Response:
        params = await token_params(state, request)
        if params.get("grant_type") not in GRANT_CREDENTIALS:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            issued = redeem_grant(state, params)
        except GrantRejected:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(
            {
                "access_token": issued.access_token,
                "refresh_token": issued.refresh_token,
                "expires_in": issued.expires_in,
                "token_type": "Bearer",
            }
        )

    return router
