"""Microsoft identity platform v2 on the sandbox, over real HTTP: tenants, AADSTS errors, rotating refresh tokens."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import jwt
import pytest

from lineup_integrations.sandbox import SandboxHandle
from tests.sandbox.wire import REDIRECT_URI, pkce_s256, redirect_params, verified_id_token

CLIENT = {"client_id": "sandbox-outlook_calendar-client", "client_secret": "sandbox-outlook_calendar-secret"}
SCOPES = "offline_access User.Read Calendars.ReadWrite"
VERIFIER = "microsoft-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
AAD_ERROR_FIELDS = {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}


@pytest.fixture
def outlook(sandbox_reset: SandboxHandle) -> str:
    return sandbox_reset.base_url("outlook_calendar")


def authorize(http: httpx.Client, outlook: str, tenant: str = "common", **extra: str) -> httpx.Response:
    params = {
        "client_id": CLIENT["client_id"],
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "response_mode": "query",
        "scope": SCOPES,
        "state": "opaque-state",
        "login_hint": "user@contoso.example",
        **pkce_s256(VERIFIER),
    } | extra
    return http.get(f"{outlook}/{tenant}/oauth2/v2.0/authorize", params=params)


def exchange(http: httpx.Client, outlook: str, code: str, **extra: str) -> httpx.Response:
    form = CLIENT | {
        "scope": SCOPES,
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "grant_type": "authorization_code",
        "code_verifier": VERIFIER,
    }
    return http.post(f"{outlook}/common/oauth2/v2.0/token", data=form | extra)


def refresh(http: httpx.Client, outlook: str, refresh_token: str, **extra: str) -> httpx.Response:
    form = CLIENT | {"scope": SCOPES, "refresh_token": refresh_token, "grant_type": "refresh_token"}
    return http.post(f"{outlook}/common/oauth2/v2.0/token", data=form | extra)


def connect(http: httpx.Client, outlook: str) -> dict[str, Any]:
    response = exchange(http, outlook, redirect_params(authorize(http, outlook))["code"])
    assert response.status_code == 200, response.text
    return response.json()


def assert_aad_error(response: httpx.Response, status: int, error: str, code: int) -> None:
    body = response.json()
    assert response.status_code == status
    assert set(body) == AAD_ERROR_FIELDS
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert f"Trace ID: {body['trace_id']}" in body["error_description"]
    assert f"Correlation ID: {body['correlation_id']}" in body["error_description"]


def test_authorize_redirects_with_code_state_and_session_state_for_every_tenant_form(
    http: httpx.Client, outlook: str
) -> None:
    for tenant in ("common", "organizations", "contoso.onmicrosoft.com", "72f988bf-86f1-41af-91ab-2d7cd011db47"):
        redirect = redirect_params(authorize(http, outlook, tenant=tenant))
        assert redirect["state"] == "opaque-state" and redirect["code"] and redirect["session_state"]

    assert_aad_error(authorize(http, outlook, tenant="not_a_tenant"), 400, "invalid_tenant", 90002)


def test_code_grant_returns_microsoft_token_shape_with_a_refresh_token_for_offline_access(
    http: httpx.Client, outlook: str, sandbox_reset: SandboxHandle
) -> None:
    body = connect(http, outlook)

    assert set(body) == {"token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token"}
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == ("Bearer", 3599, 3599)
    assert body["scope"] == "User.Read Calendars.ReadWrite"
    account = sandbox_reset.state("outlook_calendar").authenticate(body["access_token"])
    assert account is not None and account.login == "user@contoso.example"

    without_offline = redirect_params(authorize(http, outlook, scope="User.Read Calendars.ReadWrite"))["code"]
    online = exchange(http, outlook, without_offline, scope="User.Read Calendars.ReadWrite")
    assert online.status_code == 200 and "refresh_token" not in online.json()


def test_scope_is_required_at_the_token_endpoint(http: httpx.Client, outlook: str) -> None:
    code = redirect_params(authorize(http, outlook))["code"]
    form = CLIENT | {"code": code, "redirect_uri": REDIRECT_URI, "grant_type": "authorization_code"}

    response = http.post(f"{outlook}/common/oauth2/v2.0/token", data=form | {"code_verifier": VERIFIER})

    assert_aad_error(response, 400, "invalid_request", 900144)
    assert "'scope'" in response.json()["error_description"]


def test_code_errors_carry_their_aadsts_codes(http: httpx.Client, outlook: str) -> None:
    used = redirect_params(authorize(http, outlook))["code"]
    pkce = redirect_params(authorize(http, outlook))["code"]
    stale = redirect_params(authorize(http, outlook))["code"]
    exchange(http, outlook, used)

    assert_aad_error(exchange(http, outlook, used), 400, "invalid_grant", 54005)
    assert_aad_error(exchange(http, outlook, pkce, code_verifier="z" * 43), 400, "invalid_grant", 501481)
    http.post(f"{outlook}/_sandbox/clock/advance", json={"seconds": 601})
    assert_aad_error(exchange(http, outlook, stale), 400, "invalid_grant", 70008)


def test_client_errors(http: httpx.Client, outlook: str) -> None:
    code = redirect_params(authorize(http, outlook))["code"]

    assert_aad_error(exchange(http, outlook, code, client_secret="wrong"), 401, "invalid_client", 7000215)
    assert_aad_error(exchange(http, outlook, code, client_id="00000000-0000-0000-0000-000000000000"), 400,
                     "unauthorized_client", 700016)  # fmt: skip
    assert_aad_error(exchange(http, outlook, code, grant_type="password"), 400, "unsupported_grant_type", 70003)
    assert exchange(http, outlook, code).status_code == 200


def test_every_refresh_rotates_and_old_refresh_tokens_stay_valid(http: httpx.Client, outlook: str) -> None:
    tokens = connect(http, outlook)

    first = refresh(http, outlook, tokens["refresh_token"]).json()
    second = refresh(http, outlook, first["refresh_token"]).json()

    assert len({tokens["refresh_token"], first["refresh_token"], second["refresh_token"]}) == 3
    assert refresh(http, outlook, tokens["refresh_token"]).status_code == 200
    assert_aad_error(refresh(http, outlook, tokens["refresh_token"], scope="Mail.Read"), 400, "invalid_grant", 65001)


def test_rotation_can_be_switched_off(http: httpx.Client, outlook: str) -> None:
    tokens = connect(http, outlook)
    http.post(f"{outlook}/_sandbox/config", json={"rotate_refresh_tokens": False})

    refreshed = refresh(http, outlook, tokens["refresh_token"])

    assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json()


def test_revoked_grant_is_invalid_grant_50173(http: httpx.Client, outlook: str, sandbox_reset: SandboxHandle) -> None:
    tokens = connect(http, outlook)
    rotated = refresh(http, outlook, tokens["refresh_token"]).json()

    http.post(f"{outlook}/_sandbox/tokens/revoke", json={"login": "user@contoso.example"})

    assert_aad_error(refresh(http, outlook, tokens["refresh_token"]), 400, "invalid_grant", 50173)
    assert_aad_error(refresh(http, outlook, rotated["refresh_token"]), 400, "invalid_grant", 50173)
    assert sandbox_reset.state("outlook_calendar").authenticate(rotated["access_token"]) is None


def test_denied_consent_redirects_with_aadsts65004(http: httpx.Client, outlook: str) -> None:
    http.post(f"{outlook}/_sandbox/accounts", json={"login": "no@contoso.example", "deny": True})

    redirect = redirect_params(authorize(http, outlook, login_hint="no@contoso.example"))

    assert redirect["error"] == "access_denied" and redirect["state"] == "opaque-state"
    assert redirect["error_description"].startswith("AADSTS65004: ")
    assert "code" not in redirect


def test_control_api_expiry_and_counters(http: httpx.Client, outlook: str, sandbox_reset: SandboxHandle) -> None:
    tokens = connect(http, outlook)
    refresh(http, outlook, tokens["refresh_token"])
    state = sandbox_reset.state("outlook_calendar")

    assert http.post(f"{outlook}/_sandbox/tokens/expire", json={"login": "user@contoso.example"}).json() == {
        "expired": 2
    }
    assert state.authenticate(tokens["access_token"]) is None
    stats = http.get(f"{outlook}/_sandbox/stats").json()
    assert stats["token_requests_by_grant"] == {"authorization_code": 1, "refresh_token": 1}
    assert stats["active_access_tokens"] == 0


def test_openid_scope_adds_an_id_token_with_object_and_directory_ids(
    http: httpx.Client, outlook: str, sandbox_reset: SandboxHandle
) -> None:
    scopes = f"openid profile {SCOPES}"
    code = redirect_params(authorize(http, outlook, scope=scopes))["code"]

    body = exchange(http, outlook, code, scope=scopes).json()

    assert body["scope"] == "User.Read Calendars.ReadWrite"
    keys_url = f"{outlook}/common/discovery/v2.0/keys"
    claims = verified_id_token(http, keys_url, body["id_token"], audience=CLIENT["client_id"])
    account = sandbox_reset.state("outlook_calendar").account("user@contoso.example")
    assert account is not None
    assert (claims["oid"], claims["tid"]) == (account.user_id, account.account_id)
    assert claims["iss"] == f"{outlook}/{account.account_id}/v2.0"
    assert claims["preferred_username"] == "user@contoso.example" and "email" not in claims
    assert "id_token" not in connect(http, outlook)


def test_a_redirect_uri_that_is_not_registered_exactly_is_refused_at_authorize_and_token(
    http: httpx.Client, outlook: str
) -> None:
    unregistered = "http://localhost:4001/api/v1/integrations/callback"
    page = authorize(http, outlook, redirect_uri=unregistered)
    assert page.status_code == 400 and "location" not in page.headers  # never a redirect to an unknown address
    body = page.json()
    assert (body["error"], body["error_codes"]) == ("invalid_request", [50011])
    assert body["error_description"].startswith(
        f"AADSTS50011: The redirect URI '{unregistered}' specified in the request does not match the redirect URIs "
        f"configured for the application '{CLIENT['client_id']}'."
    )

    other = "https://app.example/outlook/callback"
    http.post(f"{outlook}/_sandbox/config", json={"redirect_uris": [REDIRECT_URI, other]}).raise_for_status()
    location = httpx.URL(authorize(http, outlook, redirect_uri=other).headers["location"])
    assert str(location.copy_with(query=None)) == other
    http.post(f"{outlook}/_sandbox/config", json={"redirect_uris": [REDIRECT_URI]}).raise_for_status()
    refused = exchange(http, outlook, location.params["code"], redirect_uri=other)
    assert (refused.status_code, refused.json()["error_codes"]) == (400, [50011])


def test_access_tokens_are_graph_jwts_signed_by_the_sandbox(
    http: httpx.Client, outlook: str, sandbox_reset: SandboxHandle
) -> None:
    code = redirect_params(authorize(http, outlook))["code"]
    tokens = exchange(http, outlook, code).json()
    access = tokens["access_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", access)
    header = jwt.get_unverified_header(access)
    assert header["typ"] == "JWT" and header["alg"] == "RS256" and header["kid"]
    claims = verified_id_token(
        http, f"{outlook}/common/discovery/v2.0/keys", access, audience="https://graph.microsoft.com"
    )
    account = sandbox_reset.state("outlook_calendar").account("user@contoso.example")
    assert account is not None
    assert (claims["tid"], claims["oid"], claims["appid"]) == (account.account_id, account.user_id, CLIENT["client_id"])
    assert claims["iss"] == f"https://sts.windows.net/{account.account_id}/"
    assert claims["scp"] == "User.Read Calendars.ReadWrite"
    assert claims["exp"] - claims["iat"] == 3600
    rotated = refresh(http, outlook, tokens["refresh_token"]).json()
    assert rotated["access_token"] != access and rotated["refresh_token"] != tokens["refresh_token"]
    assert tokens["refresh_token"].startswith("1.A") and len(tokens["refresh_token"]) > 400


def test_client_info_names_the_home_account_only_when_asked_for(
    http: httpx.Client, outlook: str, sandbox_reset: SandboxHandle
) -> None:
    plain = connect(http, outlook)
    assert "client_info" not in plain

    asked = exchange(http, outlook, redirect_params(authorize(http, outlook))["code"], client_info="1").json()
    encoded = asked["client_info"]
    info = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    accounts = sandbox_reset.state("outlook_calendar").accounts()
    assert info in [{"uid": account.user_id, "utid": account.account_id} for account in accounts]
