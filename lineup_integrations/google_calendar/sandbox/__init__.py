"""Google's offline twin: Google OAuth 2.0 for web-server apps, and the Calendar v3 API (`api.py`).

`GOOGLE_BASE_URL` stands in for both `https://accounts.google.com` (authorize) and
`https://oauth2.googleapis.com` (token, revoke). Wire behaviour kept from Google
(provider-apis.md §B1):
- `GET /o/oauth2/v2/auth` (space-separated `scope`, `access_type`, `prompt`, `login_hint`,
  PKCE `code_challenge` + `code_challenge_method` S256|plain) redirects with `state`, `code`,
  `scope`, or with `error=access_denied`. Request errors (unknown client, missing parameter, a
  `redirect_uri` not exactly one of the client's registered URIs → "Error 400: redirect_uri_mismatch")
  end on Google's error page, not on a redirect.
- Tokens look like Google's: access `ya29.a0…` (~170 URL-safe characters), refresh `1//0…`, code `4/0A…`.
- `POST /token`, form-encoded: `authorization_code` and `refresh_token` grants. Success
  `{"access_token","expires_in","token_type":"Bearer","scope","refresh_token"?}`; the refresh
  token comes only with `access_type=offline`, on the first consent or with `prompt=consent`;
  refreshing never rotates it (unless switched on through `/_sandbox/config`). With the `openid`
  scope an RS256 `id_token` comes too (`sub` = user id, `email` with the `email` scope; keys at
  `GET /oauth2/v3/certs`, issuer = the base URL). Errors are
  `{"error","error_description"}`: 400 `invalid_grant` (e.g. "Token has been expired or
  revoked."), 400 `redirect_uri_mismatch` (not the authorize request's, or not registered),
  401 `invalid_client`, 400 `unsupported_grant_type`.
- `POST /revoke?token=` (access or refresh token; also form) → 200; 400 `invalid_token`.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from lineup_integrations.google_calendar.sandbox.api import calendar_error_response, calendar_routes
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
    PKCE_METHODS,
    ClientCheck,
    GrantRejected,
    IssuedTokens,
    Rejection,
    SandboxState,
    TokenFormat,
    numeric_id,
    opaque_access_token,
    opaque_token,
    sandbox_profile,
)

SANDBOX_PROFILE = sandbox_profile(
    "google_calendar",
    new_id=numeric_id(21),
    token_format=TokenFormat(
        access=opaque_access_token("ya29.a0", 120), refresh=opaque_token("1//0", 72), code=opaque_token("4/0A", 54)
    ),
)

EXPIRED_OR_REVOKED = "Token has been expired or revoked."
_REJECTIONS: dict[Rejection, tuple[int, str, str]] = {
    Rejection.UNKNOWN_CODE: (400, "invalid_grant", "Malformed auth code."),
    Rejection.CODE_USED: (400, "invalid_grant", "Bad Request"),
    Rejection.CODE_EXPIRED: (400, "invalid_grant", "Bad Request"),
    Rejection.CLIENT_MISMATCH: (400, "invalid_grant", "Bad Request"),
    Rejection.REDIRECT_URI_MISMATCH: (400, "redirect_uri_mismatch", "Bad Request"),
    Rejection.REDIRECT_URI_NOT_REGISTERED: (400, "redirect_uri_mismatch", "Bad Request"),
    Rejection.PKCE_MISSING: (400, "invalid_grant", "Missing code verifier."),
    Rejection.PKCE_MISMATCH: (400, "invalid_grant", "Invalid code verifier."),
    Rejection.UNKNOWN_REFRESH_TOKEN: (400, "invalid_grant", EXPIRED_OR_REVOKED),
    Rejection.REVOKED: (400, "invalid_grant", EXPIRED_OR_REVOKED),
    Rejection.SCOPE_NOT_GRANTED: (400, "invalid_scope", "Bad Request"),
}


class GoogleTokenResponse(BaseModel):
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    scope: str
    token_type: str = "Bearer"
    id_token: str | None = None


def create_sandbox_app(state: SandboxState) -> FastAPI:
    """The Google sandbox: OAuth endpoints and the Calendar v3 API (`api.py`), with Google's error
    bodies for injected faults (`api.calendar_error_response`)."""
    return sandbox_app(
        state, oauth_routes(state), calendar_routes(state), title="Google sandbox",
        error_response=calendar_error_response(state),
    )  # fmt: skip


def oauth_routes(state: SandboxState) -> APIRouter:
    router = APIRouter(tags=["Google OAuth 2.0"])

    @router.get("/o/oauth2/v2/auth")
    async def authorize(request: Request) -> Response:
        query = request.query_params
        if not state.is_known_client(query.get("client_id")):
            return _error_page(401, "invalid_client", "The OAuth client was not found.")
        for required in ("redirect_uri", "response_type", "scope"):
            if not query.get(required):
                return _error_page(400, "invalid_request", f"Missing required parameter: {required}")
        if query["response_type"] != "code":
            return _error_page(400, "unsupported_response_type", f"Invalid response_type: {query['response_type']}")
        challenge, method = query.get("code_challenge"), query.get("code_challenge_method")
        if challenge and method not in (None, *PKCE_METHODS):
            return _error_page(400, "invalid_request", "Invalid code_challenge_method")
        redirect_uri, client_id = query["redirect_uri"], query["client_id"]
        if not state.is_registered_redirect_uri(redirect_uri):
            return _error_page(
                400,
                "redirect_uri_mismatch",
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy.\n"
                "If you're the app developer, register the redirect URI in the Google Cloud Console.\n"
                f"Request details: redirect_uri={redirect_uri}",
            )
        account = state.account_for_login_hint(query.get("login_hint"))
        if account.deny:
            return redirect_to(redirect_uri, {"error": "access_denied", "state": query.get("state")})
        scopes = query["scope"].split()
        offline = query.get("access_type") == "offline" and (
            "consent" in query.get("prompt", "").split() or not state.has_live_grant(account.login, client_id)
        )
        code = issue_code_from_query(state, account, query, scopes=scopes, offline=offline)
        return redirect_to(redirect_uri, {"state": query.get("state"), "code": code, "scope": " ".join(scopes)})

    @router.post("/token")
    async def token(request: Request) -> Response:
        params = await token_params(state, request, basic_auth=True)  # Google takes client_secret_basic too
        grant_type = params.get("grant_type", "")
        if grant_type not in GRANT_CREDENTIALS:
            return _token_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        client = state.check_client(params.get("client_id"), params.get("client_secret"))
        if client is ClientCheck.UNKNOWN_CLIENT:
            return _token_error(401, "invalid_client", "The OAuth client was not found.")
        if client is ClientCheck.WRONG_SECRET:
            return _token_error(401, "invalid_client", "Unauthorized")
        credential = GRANT_CREDENTIALS[grant_type]
        if not params.get(credential):
            return _token_error(400, "invalid_request", f"Missing required parameter: {credential}")
        scope = params.get("scope")  # a refresh may narrow the granted scopes
        try:
            issued = redeem_grant(state, params, scopes=scope.split() if scope else None)
        except GrantRejected as rejected:
            return _token_error(*_REJECTIONS.get(rejected.reason, (400, "invalid_grant", "Bad Request")))
        return _token_response(state, issued, issuer=str(request.base_url).rstrip("/"))

    @router.get("/oauth2/v3/certs")
    async def certs() -> Response:
        return JSONResponse(state.jwks())

    @router.post("/revoke")
    async def revoke(request: Request) -> Response:
        params = await form_params(request, include_query=True)
        if not state.revoke_token(params.get("token", "")):
            return _token_error(400, "invalid_token", "Token expired or revoked")
        return JSONResponse({})

    return router


def _error_page(status: int, error: str, description: str) -> Response:
    """Google shows request errors of the authorize step to the user instead of redirecting."""
    return PlainTextResponse(f"Error {status}: {error}\n{description}", status_code=status)


def _token_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _token_response(state: SandboxState, issued: IssuedTokens, *, issuer: str) -> Response:
    body = GoogleTokenResponse(
        access_token=issued.access_token,
        # Google reports one second less than the lifetime (3599 for an hour).
        expires_in=max(issued.expires_in - 1, 0),
        refresh_token=issued.refresh_token,
        scope=" ".join(issued.scopes),
        id_token=_id_token(state, issued, issuer) if "openid" in issued.scopes else None,
    )
    return JSONResponse(body.model_dump(exclude_none=True))


def _id_token(state: SandboxState, issued: IssuedTokens, issuer: str) -> str:
    claims: dict[str, object] = {"iss": issuer, "azp": state.config.client_id, "sub": issued.account.user_id}
    if "email" in issued.scopes:
        claims |= {"email": issued.account.login, "email_verified": True}
    return state.sign_id_token(claims)
