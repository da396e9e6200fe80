"""The identity platform's OpenID Connect discovery document in the Microsoft sandbox.

MSAL reads `{authority}/v2.0/.well-known/openid-configuration` before any token request (its
"tenant discovery") and takes the authorize and token endpoints from it, so Microsoft's own
client can only point at the sandbox if this document exists. Shape as
`https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration` answers it;
the endpoints are this sandbox's, built from the request's scheme and host (MSAL insists on
https, so behind TLS they are https). For a tenant alias (common, organizations, consumers) the
issuer keeps Microsoft's literal `{tenantid}` placeholder, as the real document does.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

_ALIASES = frozenset({"common", "organizations", "consumers"})
_TENANT = re.compile(
    r"^(common|organizations|consumers"
    r"|[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
    r"|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$"
)


def discovery_routes() -> APIRouter:
    """`GET /{tenant}/v2.0/.well-known/openid-configuration` (400 `invalid_tenant` for a malformed tenant)."""
    router = APIRouter(tags=["Microsoft identity platform"])

    @router.get("/{tenant}/v2.0/.well-known/openid-configuration")
    async def openid_configuration(request: Request, tenant: str) -> Response:
        if not _TENANT.match(tenant):
            body = {"error": "invalid_tenant", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}
            return JSONResponse(body, status_code=400)
        base = str(request.base_url).rstrip("/")
        issuer_tenant = "{tenantid}" if tenant in _ALIASES else tenant
        return JSONResponse({
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name",
                "tid", "ver", "at_hash", "c_hash", "email",
            ],
            "kerberos_endpoint": f"{base}/{tenant}/kerberos",
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        })  # fmt: skip

    return router
