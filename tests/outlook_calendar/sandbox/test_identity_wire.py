"""What MSAL needs of the Microsoft identity twin beyond OAuth itself, over real HTTP: the OpenID
discovery document it reads first, and the authorize request's nonce echoed in the id token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jwt
import pytest

from lineup_integrations.sandbox import SandboxHandle
from tests.outlook_calendar.sandbox.graph_wire import CLIENT, PROVIDER, REDIRECT_URI

LOGIN = "ada@contoso.example"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def test_the_discovery_document_points_at_this_sandboxs_endpoints(
    http: httpx.Client, sandbox_reset: SandboxHandle
) -> None:
    base = sandbox_reset.base_url(PROVIDER)
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

    common = http.get(f"{base}/common/v2.0/.well-known/openid-configuration").json()
    own = http.get(f"{base}/{tenant}/v2.0/.well-known/openid-configuration").json()
    bad = http.get(f"{base}/not_a_tenant/v2.0/.well-known/openid-configuration")

    assert common["authorization_endpoint"] == f"{base}/common/oauth2/v2.0/authorize"
    assert common["token_endpoint"] == f"{base}/common/oauth2/v2.0/token"
    assert common["jwks_uri"] == f"{base}/common/discovery/v2.0/keys"
    assert common["issuer"] == f"{base}/{{tenantid}}/v2.0"  # Microsoft's literal placeholder for the aliases
    assert own["issuer"] == f"{base}/{tenant}/v2.0"
    assert http.get(common["jwks_uri"]).json()["keys"]
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_tenant"


def test_the_id_token_echoes_the_authorize_requests_nonce(http: httpx.Client, sandbox_reset: SandboxHandle) -> None:
    base = sandbox_reset.base_url(PROVIDER)
    http.post(f"{base}/_sandbox/accounts", json={"login": LOGIN}).raise_for_status()

    def id_token(nonce: str | None) -> dict[str, object]:
        params = {"client_id": CLIENT["client_id"], "response_type": "code", "redirect_uri": REDIRECT_URI,
                  "scope": "openid profile Calendars.Read", "login_hint": LOGIN}  # fmt: skip
        if nonce is not None:
            params["nonce"] = nonce
        authorize = http.get(f"{base}/common/oauth2/v2.0/authorize", params=params)
        code = httpx.URL(authorize.headers["location"]).params["code"]
        token = http.post(
            f"{base}/common/oauth2/v2.0/token",
            data=CLIENT | {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                           "scope": "openid profile Calendars.Read"},
        )  # fmt: skip
        assert token.status_code == 200, token.text
        return jwt.decode(token.json()["id_token"], options={"verify_signature": False})

    assert id_token("n-0S6_WzA2Mj")["nonce"] == "n-0S6_WzA2Mj"
    assert "nonce" not in id_token(None)
