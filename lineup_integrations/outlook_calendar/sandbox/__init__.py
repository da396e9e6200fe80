"""Microsoft's offline twin: the identity platform v2 endpoints, and Graph v1.0 calendar (`graph.py`).

`OUTLOOK_BASE_URL` stands in for `https://login.microsoftonline.com` (and for
`https://graph.microsoft.com`, whose paths start with `/v1.0`). Wire behaviour kept from
Microsoft (provider-apis.md §C1):
- `GET /{tenant}/oauth2/v2.0/authorize` (tenant = common | organizations | consumers | a GUID |
  a domain; space-separated `scope`; PKCE; `response_mode=query`) redirects with `code`,
  `state`, `session_state`, or with `error` + `error_description` (AADSTS65004 when the user
  declines consent). A `redirect_uri` not exactly one of the client's registered URIs gets
  AADSTS50011, never a redirect.
- Access tokens are RS256 JWTs (header `typ`/`alg`/`kid`; claims `aud` = Graph, `iss`
  `https://sts.windows.net/{tid}/`, `tid`, `oid`, `scp`, `appid`, `iat`/`nbf`/`exp`, `uti`), signed
  with the key at `/{tenant}/discovery/v2.0/keys`; refresh tokens and codes are opaque `1.A…`/`0.A…`.
- `POST /{tenant}/oauth2/v2.0/token`, form-encoded, `scope` required. Success
  `{"token_type":"Bearer","scope","expires_in","ext_expires_in","access_token","refresh_token"?}`:
  a refresh token only when `offline_access` was consented to; **every refresh returns a new
  refresh token and the old one stays valid** (switchable through `/_sandbox/config`). With the
  `openid` scope an RS256 `id_token` comes too (`oid` = user object id, `tid` = directory id,
  `preferred_username` with `profile`, `email` with `email`; keys at
  `GET /{tenant}/discovery/v2.0/keys`, issuer `{base}/{tid}/v2.0`).
  A `redirect_uri` other than the authorize request's → AADSTS500112; an unregistered one →
  AADSTS50011. Errors are 400 (401 for a bad client secret) AADSTS bodies: `{"error","error_description":
  "AADSTSnnnn: … Trace ID: … Correlation ID: … Timestamp: …","error_codes":[n],"timestamp",
  "trace_id","correlation_id","error_uri"}`.
- An authorize request's `nonce` is echoed in the `id_token` of its code's redemption (OpenID
  Connect; MSAL's auth-code-flow API checks it).
- `GET /{tenant}/v2.0/.well-known/openid-configuration`: the discovery document MSAL reads first
  (`discovery.py`). MSAL accepts only an https authority, so the sandbox server also serves this
  twin over TLS (`SANDBOX_TLS`; `SandboxHandle.tls_base_url`, `.ca_file`).
- No revoke endpoint, as at Microsoft.
"""

from __future__ import annotations

import base64
import json
import re
import secrets

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from lineup_integrations.outlook_calendar.sandbox.discovery import discovery_routes
from lineup_integrations.outlook_calendar.sandbox.graph import graph_error_response, graph_routes
from lineup_integrations.sandbox.app import (
    GRANT_CREDENTIALS,
    issue_code_from_query,
    redeem_grant,
    redirect_to,
    sandbox_app,
    token_params,
)
from lineup_integrations.sandbox.kit import (
    PKCE_METHODS,
    AccessTokenGrant,
    ClientCheck,
    GrantRejected,
    IssuedTokens,
    Rejection,
    SandboxState,
    TokenFormat,
    guid,
    opaque_token,
    sandbox_profile,
)

OFFLINE_ACCESS = "offline_access"
GRAPH_RESOURCE = "https://graph.microsoft.com"


def graph_access_token(state: SandboxState, grant: AccessTokenGrant) -> str:
    """A Graph access token as Microsoft issues it: a v1.0 JWT for the Graph audience carrying the
    directory (`tid`), the user (`oid`), the app (`appid`) and the delegated scopes (`scp`)."""
    account = grant.account
    scp = [scope.removeprefix(f"{GRAPH_RESOURCE}/") for scope in grant.scopes if scope != OFFLINE_ACCESS]
    claims: dict[str, object] = {
        "aud": GRAPH_RESOURCE,
        "iss": f"https://sts.windows.net/{account.account_id}/",
        "iat": grant.issued_at,
        "nbf": grant.issued_at,
        "exp": grant.expires_at,
        "app_displayname": "Lineup sandbox client",
        "appid": grant.client_id,
        "idtyp": "user",
        "name": account.login.split("@")[0],
        "oid": account.user_id,
        "scp": " ".join(scp),
        "sub": account.user_id,
        "tid": account.account_id,
        "unique_name": account.login,
        "upn": account.login,
        "uti": secrets.token_urlsafe(16),  # unique per token, as the real `uti` is
        "ver": "1.0",
    }
    return state.sign_jwt(claims)


SANDBOX_PROFILE = sandbox_profile(
    "outlook_calendar",
    new_id=guid,
    token_format=TokenFormat(
        access=graph_access_token, refresh=opaque_token("1.AQ", 384), code=opaque_token("0.AQ", 96)
    ),
    rotate_refresh_tokens=True,
)

_OIDC_SCOPES = frozenset({OFFLINE_ACCESS, "openid", "profile", "email"})
_TENANT = re.compile(
    r"^(common|organizations|consumers"  # the multi-tenant aliases
    r"|[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"  # a directory id
    r"|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$"  # a verified domain
)
_INVALID_CODE = (400, "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid.")
_REJECTIONS: dict[Rejection, tuple[int, str, int, str]] = {
    Rejection.UNKNOWN_CODE: _INVALID_CODE,
    Rejection.CLIENT_MISMATCH: _INVALID_CODE,
    Rejection.CODE_USED: (
        400,
        "invalid_grant",
        54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code "
        "or use an existing refresh token.",
    ),
    Rejection.CODE_EXPIRED: (
        400,
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity.",
    ),
    Rejection.REDIRECT_URI_MISMATCH: (
        400,
        "invalid_grant",
        500112,
        "The reply address does not match the reply address provided when requesting Authorization code.",
    ),
    Rejection.PKCE_MISSING: (
        400,
        "invalid_grant",
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    ),
    Rejection.PKCE_MISMATCH: (
        400,
        "invalid_grant",
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    ),
    Rejection.UNKNOWN_REFRESH_TOKEN: (
        400,
        "invalid_grant",
        9002313,
        "Invalid request. Request is malformed or invalid.",
    ),
    Rejection.REVOKED: (
        400,
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
    ),
    Rejection.SCOPE_NOT_GRANTED: (
        400,
        "invalid_grant",
        65001,
        "The user or administrator has not consented to use the application.",
    ),
}


class MicrosoftTokenResponse(BaseModel):
    token_type: str = "Bearer"
    scope: str
    expires_in: int
    ext_expires_in: int
    access_token: str
    refresh_token: str | None = None
    id_token: str | None = None
    client_info: str | None = None


SANDBOX_TLS = True
"""MSAL refuses an authority that is not https, so the sandbox server also serves this twin over TLS."""


def create_sandbox_app(state: SandboxState) -> FastAPI:
    """The Microsoft sandbox: identity platform endpoints, OpenID discovery, and Graph v1.0 calendar;
    injected faults get Graph's error bodies (`graph.graph_error_response`)."""
    return sandbox_app(
        state,
        oauth_routes(state),
        discovery_routes(),
        graph_routes(state),
        title="Microsoft sandbox",
        error_response=graph_error_response,
    )


def oauth_routes(state: SandboxState) -> APIRouter:
    router = APIRouter(tags=["Microsoft identity platform"])
    nonces: dict[str, str] = {}  # code → the authorize request's OpenID Connect nonce
    state.on_reset(nonces.clear)

    def aad_error(request: Request, status: int, error: str, code: int, message: str) -> Response:
        return JSONResponse(_aad_body(state, request, error, code, message), status_code=status)

    @router.get("/{tenant}/oauth2/v2.0/authorize")
    async def authorize(request: Request, tenant: str) -> Response:
        query = request.query_params
        if not _TENANT.match(tenant):
            return aad_error(request, 400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        client_id = query.get("client_id")
        if not state.is_known_client(client_id):
            message = f"Application with identifier '{client_id}' was not found in the directory."
            return aad_error(request, 400, "unauthorized_client", 700016, message)
        redirect_uri = query.get("redirect_uri")
        if not redirect_uri:
            return aad_error(request, 400, "invalid_request", 900144, _missing("redirect_uri"))
        if not state.is_registered_redirect_uri(redirect_uri):
            return aad_error(request, 400, "invalid_request", 50011, _redirect_mismatch(redirect_uri, client_id))
        if query.get("response_type") != "code" or query.get("response_mode", "query") != "query":
            message = "The sandbox supports response_type=code with response_mode=query."
            return aad_error(request, 400, "invalid_request", 9002313, message)
        challenge, method = query.get("code_challenge"), query.get("code_challenge_method")

        def redirect_error(error: str, code: int, message: str) -> Response:
            description = str(_aad_body(state, request, error, code, message)["error_description"])
            params = {"error": error, "error_description": description, "state": query.get("state")}
            return redirect_to(redirect_uri, params)

        scopes = query.get("scope", "").split()
        if not scopes:
            return redirect_error("invalid_request", 900144, _missing("scope"))
        if challenge and method not in (None, *PKCE_METHODS):
            return redirect_error("invalid_request", 5000, "Invalid code_challenge_method.")
        account = state.account_for_login_hint(query.get("login_hint"))
        if account.deny:
            return redirect_error("access_denied", 65004, "User declined to consent to access the app.")
        code = issue_code_from_query(state, account, query, scopes=scopes, offline=OFFLINE_ACCESS in scopes)
        if query.get("nonce"):
            nonces[code] = query["nonce"]  # OpenID Connect: this code's id token echoes it (MSAL checks)
        return redirect_to(redirect_uri, {"code": code, "state": query.get("state"), "session_state": guid()})

    @router.post("/{tenant}/oauth2/v2.0/token")
    async def token(request: Request, tenant: str) -> Response:
        params = await token_params(state, request)
        grant_type = params.get("grant_type", "")
        if not _TENANT.match(tenant):
            return aad_error(request, 400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        if grant_type not in GRANT_CREDENTIALS:
            message = f"The app requested an unsupported grant type '{grant_type}'."
            return aad_error(request, 400, "unsupported_grant_type", 70003, message)
        client_id = params.get("client_id")
        client = state.check_client(client_id, params.get("client_secret"))
        if client is ClientCheck.UNKNOWN_CLIENT:
            message = f"Application with identifier '{client_id}' was not found in the directory."
            return aad_error(request, 400, "unauthorized_client", 700016, message)
        if client is ClientCheck.WRONG_SECRET:
            message = (
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{client_id}'."
            )
            return aad_error(request, 401, "invalid_client", 7000215, message)
        for required in ("scope", GRANT_CREDENTIALS[grant_type]):
            if not params.get(required):
                return aad_error(request, 400, "invalid_request", 900144, _missing(required))
        nonce = nonces.pop(params.get("code", ""), None) if grant_type == "authorization_code" else None
        try:
            issued = redeem_grant(state, params, scopes=params["scope"].split())
        except GrantRejected as rejected:
            if rejected.reason is Rejection.REDIRECT_URI_NOT_REGISTERED:
                message = _redirect_mismatch(params.get("redirect_uri", ""), client_id)
                return aad_error(request, 400, "invalid_request", 50011, message)
            return aad_error(request, *_REJECTIONS.get(rejected.reason, _INVALID_CODE))
        return _token_response(
            state, issued, base_url=str(request.base_url).rstrip("/"), nonce=nonce,
            client_info=params.get("client_info") == "1",
        )  # fmt: skip

    @router.get("/{tenant}/discovery/v2.0/keys")
    async def keys() -> Response:
        return JSONResponse(state.jwks())

    return router


def _redirect_mismatch(redirect_uri: str, client_id: str | None) -> str:
    return (
        f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured "
        f"for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to "
        "your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more "
        "about how to fix this."
    )


def _missing(parameter: str) -> str:
    return f"The request body must contain the following parameter: '{parameter}'."


def _aad_body(state: SandboxState, request: Request, error: str, code: int, message: str) -> dict[str, object]:
    """An identity-platform error body, with fresh trace and correlation ids like the real service."""
    trace_id, correlation_id = guid(), guid()
    timestamp = state.clock.now().strftime("%Y-%m-%d %H:%M:%SZ")
    description = (
        f"AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
    )
    return {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{str(request.base_url).rstrip('/')}/error?code={code}",
    }


def _token_response(
    state: SandboxState, issued: IssuedTokens, *, base_url: str, nonce: str | None = None, client_info: bool = False
) -> Response:
    # Microsoft reports one second less than the lifetime (3599 for an hour) and leaves the
    # OpenID Connect scopes out of the granted `scope`. Asked for it (`client_info=1`, as MSAL
    # does), it adds `client_info`: base64url JSON `{"uid", "utid"}`, the home account MSAL keys its cache by.
    lifetime = max(issued.expires_in - 1, 0)
    body = MicrosoftTokenResponse(
        scope=" ".join(scope for scope in issued.scopes if scope not in _OIDC_SCOPES),
        expires_in=lifetime,
        ext_expires_in=lifetime,
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        id_token=_id_token(state, issued, base_url, nonce) if "openid" in issued.scopes else None,
        client_info=_client_info(issued) if client_info else None,
    )
    return JSONResponse(body.model_dump(exclude_none=True))


def _client_info(issued: IssuedTokens) -> str:
    info = json.dumps({"uid": issued.account.user_id, "utid": issued.account.account_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(info.encode()).rstrip(b"=").decode()


def _id_token(state: SandboxState, issued: IssuedTokens, base_url: str, nonce: str | None = None) -> str:
    account = issued.account
    claims: dict[str, object] = {
        "iss": f"{base_url}/{account.account_id}/v2.0",
        "sub": account.user_id,
        "oid": account.user_id,
        "tid": account.account_id,
        "ver": "2.0",
    }
    if "profile" in issued.scopes:
        claims |= {"preferred_username": account.login, "name": account.login.split("@")[0]}
    if "email" in issued.scopes:
        claims["email"] = account.login
    if nonce:
        claims["nonce"] = nonce
    return state.sign_id_token(claims)
