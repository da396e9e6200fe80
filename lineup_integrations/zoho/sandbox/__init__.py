"""Zoho's offline twin: Zoho Accounts OAuth, multi data centre (and the CRM API, see below).

Layout of the sandbox's port, mirroring the real hosts: the US accounts server and API domain
are the root (`http://127.0.0.1:PORT`), every other data centre is the prefix `/{dc}`
(eu, in, au, jp, ca, cn, sa) for both accounts and API, so `ZOHO_BASE_URL` replaces both
`https://accounts.zoho.com` and `https://www.zohoapis.com`.

Wire behaviour kept from Zoho (provider-apis.md §A):
- `GET /oauth/v2/auth` (comma-separated `scope`, `access_type` online|offline, `prompt`) may go to
  any data centre; it redirects with `state`, `code`, `location=<dc>` and
  `accounts-server=<accounts URL of the user's dc>`. A code lives 2 minutes. A `redirect_uri`
  that is not exactly one of the client's registered URIs (`/_sandbox/config`) gets Zoho's
  "Invalid Redirect Uri" page (400, no redirect).
- Codes, access and refresh tokens look like Zoho's: `1000.` + 32 hex + `.` + 32 hex.
- `POST /oauth/v2/token` reads its parameters from the query or the form. Errors are HTTP 200
  with only an `error` field: `invalid_code` (unknown, used or expired code, a bad PKCE
  verifier, and also a revoked or unknown refresh token), `invalid_client` (unknown client, or
  the token call reached another data centre than the user's), `invalid_client_secret`,
  `invalid_redirect_uri` (not the authorize request's, or not registered), `unsupported_grant_type`.
  A refresh token comes only with `access_type=offline`, on the first consent or with
  `prompt=consent`; refreshing never rotates it (unless switched on through `/_sandbox/config`).
- `POST /oauth/v2/token/revoke?token=<refresh token>` → `{"status":"success"}`, 400 when invalid.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from lineup_integrations.sandbox.app import (
    GRANT_CREDENTIALS,
    form_params,
    issue_code_from_query,
    redeem_grant,
    redirect_to,
    sandbox_app,
    token_params,
)
from lineup_integrations.sandbox.kit import (
    AccessTokenGrant,
    ClientCheck,
    GrantRejected,
    IssuedTokens,
    Rejection,
    SandboxState,
    TokenFormat,
    numeric_id,
    sandbox_profile,
)
from lineup_integrations.zoho.sandbox.crm import crm_routes

US = "us"
DATA_CENTRES: tuple[str, ...] = (US, "eu", "in", "au", "jp", "ca", "cn", "sa")


def zoho_token() -> str:
    """A value shaped like Zoho's grant, access and refresh tokens: `1000.` + 32 hex + `.` + 32 hex."""
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


def _zoho_access_token(_state: SandboxState, _grant: AccessTokenGrant) -> str:
    return zoho_token()


SANDBOX_PROFILE = sandbox_profile(
    "zoho",
    new_id=numeric_id(19),
    token_format=TokenFormat(access=_zoho_access_token, refresh=zoho_token, code=zoho_token),
    data_centres=DATA_CENTRES,
    code_ttl=120,
)

_CODE_REJECTION = {
    Rejection.WRONG_DATA_CENTRE: "invalid_client",
    Rejection.CLIENT_MISMATCH: "invalid_client",
    Rejection.REDIRECT_URI_MISMATCH: "invalid_redirect_uri",
    Rejection.REDIRECT_URI_NOT_REGISTERED: "invalid_redirect_uri",
}
_API_ERRORS: dict[int, tuple[str, str]] = {
    401: ("INVALID_TOKEN", "invalid oauth token"),
    403: ("NO_PERMISSION", "permission denied"),
    404: ("INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"),
    429: ("TOO_MANY_REQUESTS", "too many requests"),
}


class ZohoTokenResponse(BaseModel):
    access_token: str
    refresh_token: str | None = None
    scope: str
    api_domain: str
    token_type: str = "Bearer"
    expires_in: int


def create_sandbox_app(state: SandboxState) -> FastAPI:
    """The Zoho sandbox: Accounts OAuth at the root and under every data-centre prefix (and the CRM API)."""
    return sandbox_app(state, oauth_routes(state), crm_routes(state), title="Zoho sandbox", error_response=api_error)


def api_error(status: int) -> Response:
    """Zoho CRM's top-level error body for an HTTP status (`{"code","details","message","status"}`)."""
    code, message = _API_ERRORS.get(status, ("INTERNAL_ERROR", "Internal Server Error"))
    return JSONResponse({"code": code, "details": {}, "message": message, "status": "error"}, status_code=status)


def dc_base_url(request: Request, dc: str) -> str:
    """The accounts server (= API domain) of a data centre on this sandbox port."""
    root = str(request.base_url).rstrip("/")
    return root if dc == US else f"{root}/{dc}"


def oauth_routes(state: SandboxState) -> APIRouter:
    router = APIRouter(tags=["Zoho Accounts OAuth"])

    def data_centre(request: Request) -> str | None:
        """The data centre a request reached (its path prefix), None for a prefix that is not one."""
        prefix = request.path_params.get("prefix")
        if prefix is None:
            return US
        return prefix if prefix in DATA_CENTRES and prefix != US else None

    async def authorize(request: Request) -> Response:
        if data_centre(request) is None:
            return api_error(404)
        query = request.query_params
        if not state.is_known_client(query.get("client_id")):
            return PlainTextResponse("Invalid Client", status_code=400)
        redirect_uri = query.get("redirect_uri")
        if not redirect_uri or query.get("response_type") != "code":
            return PlainTextResponse("Invalid Redirect Uri or response type", status_code=400)
        if not state.is_registered_redirect_uri(redirect_uri):
            # Zoho shows an error page rather than redirect to an address the client never registered.
            message = "Invalid Redirect Uri\nRedirect URI passed does not match with the one configured"
            return PlainTextResponse(f"{message} (invalid_redirect_uri)", status_code=400)
        scopes = [scope.strip() for scope in query.get("scope", "").split(",") if scope.strip()]
        if not scopes:
            return redirect_to(redirect_uri, {"error": "invalid_scope", "state": query.get("state")})
        account = state.account_for_login_hint(query.get("login_hint"))
        if account.deny:
            return redirect_to(redirect_uri, {"error": "access_denied", "state": query.get("state")})
        offline = query.get("access_type") == "offline" and (
            query.get("prompt") == "consent" or not state.has_live_grant(account.login, query["client_id"])
        )
        code = issue_code_from_query(state, account, query, scopes=scopes, offline=offline)
        dc = account.dc or US
        return redirect_to(
            redirect_uri,
            {"state": query.get("state"), "code": code, "location": dc, "accounts-server": dc_base_url(request, dc)},
        )

    async def token(request: Request) -> Response:
        dc = data_centre(request)
        if dc is None:
            return api_error(404)
        params = await token_params(state, request, include_query=True)
        client = state.check_client(params.get("client_id"), params.get("client_secret"))
        if client is ClientCheck.UNKNOWN_CLIENT:
            return _token_error("invalid_client")
        if client is ClientCheck.WRONG_SECRET:
            return _token_error("invalid_client_secret")
        if params.get("grant_type") not in GRANT_CREDENTIALS:
            return _token_error("unsupported_grant_type")
        try:
            issued = redeem_grant(state, params, dc=dc)
        except GrantRejected as rejected:
            return _token_error(_CODE_REJECTION.get(rejected.reason, "invalid_code"))
        return _token_response(issued, request)

    async def revoke(request: Request) -> Response:
        if data_centre(request) is None:
            return api_error(404)
        params = await form_params(request, include_query=True)
        if not state.revoke_token(params.get("token", "")):
            return JSONResponse({"error": "invalid_token"}, status_code=400)
        return JSONResponse({"status": "success"})

    for path_prefix in ("", "/{prefix}"):
        router.add_api_route(f"{path_prefix}/oauth/v2/auth", authorize, methods=["GET"])
        router.add_api_route(f"{path_prefix}/oauth/v2/token", token, methods=["POST"])
        router.add_api_route(f"{path_prefix}/oauth/v2/token/revoke", revoke, methods=["POST"])
    return router


def _token_error(error: str) -> Response:
    """Zoho reports token errors as HTTP 200 with only an `error` field."""
    return JSONResponse({"error": error})


def _token_response(issued: IssuedTokens, request: Request) -> Response:
    body = ZohoTokenResponse(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        scope=" ".join(issued.scopes),
        api_domain=dc_base_url(request, issued.account.dc or US),
        expires_in=issued.expires_in,
    )
    return JSONResponse(body.model_dump(exclude_none=True))
