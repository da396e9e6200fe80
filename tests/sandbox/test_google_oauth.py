"""Google OAuth 2.0 on the sandbox, over real HTTP: PKCE, form-encoded token calls, 400/401 error bodies."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from lineup_integrations.sandbox import SandboxHandle
from tests.sandbox.wire import REDIRECT_URI, pkce_s256, redirect_params, verified_id_token

CLIENT = {"client_id": "sandbox-google_calendar-client", "client_secret": "sandbox-google_calendar-secret"}
SCOPES = "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.readonly"
VERIFIER = "a-verifier-that-is-long-enough-for-rfc-7636-0123456789"
EXPIRED_OR_REVOKED = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


@pytest.fixture
def google(sandbox_reset: SandboxHandle) -> str:
    return sandbox_reset.base_url("google_calendar")


def authorize(http: httpx.Client, google: str, login: str = "user@example.com", **extra: str) -> httpx.Response:
    params = {
        "client_id": CLIENT["client_id"],
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPES,
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": "opaque-state",
        "login_hint": login,
        **pkce_s256(VERIFIER),
    } | extra
    return http.get(f"{google}/o/oauth2/v2/auth", params=params)


def exchange(http: httpx.Client, google: str, code: str, **extra: str) -> httpx.Response:
    form = CLIENT | {
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    return http.post(f"{google}/token", data=form | extra)


def refresh(http: httpx.Client, google: str, refresh_token: str, **extra: str) -> httpx.Response:
    form = CLIENT | {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return http.post(f"{google}/token", data=form | extra)


def connect(http: httpx.Client, google: str) -> dict[str, Any]:
    response = exchange(http, google, redirect_params(authorize(http, google))["code"])
    assert response.status_code == 200, response.text
    return response.json()


def test_authorize_redirects_with_state_code_and_granted_scope(http: httpx.Client, google: str) -> None:
    redirect = redirect_params(authorize(http, google))

    assert redirect["state"] == "opaque-state"
    assert redirect["code"].startswith("4/")
    assert redirect["scope"] == SCOPES


def test_authorize_request_errors_end_on_an_error_page_not_a_redirect(http: httpx.Client, google: str) -> None:
    unknown_client = authorize(http, google, client_id="unknown.apps.googleusercontent.com")
    missing_scope = authorize(http, google, scope="")

    assert unknown_client.status_code == 401 and "invalid_client" in unknown_client.text
    assert missing_scope.status_code == 400 and "scope" in missing_scope.text
    assert "location" not in unknown_client.headers and "location" not in missing_scope.headers


def test_code_grant_with_pkce_returns_google_token_shape(
    http: httpx.Client, google: str, sandbox_reset: SandboxHandle
) -> None:
    body = connect(http, google)

    assert set(body) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (3599, "Bearer", SCOPES)
    assert body["access_token"].startswith("ya29.") and body["refresh_token"].startswith("1//")
    account = sandbox_reset.state("google_calendar").authenticate(body["access_token"])
    assert account is not None and account.login == "user@example.com" and len(account.user_id) == 21


def test_pkce_mismatch_and_missing_verifier_are_invalid_grant(http: httpx.Client, google: str) -> None:
    mismatch = exchange(http, google, redirect_params(authorize(http, google))["code"], code_verifier="x" * 43)
    form = CLIENT | {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}
    missing = http.post(f"{google}/token", data=form | {"code": redirect_params(authorize(http, google))["code"]})

    assert mismatch.status_code == 400
    assert mismatch.json() == {"error": "invalid_grant", "error_description": "Invalid code verifier."}
    assert missing.status_code == 400
    assert missing.json() == {"error": "invalid_grant", "error_description": "Missing code verifier."}


def test_code_errors_single_use_expiry_redirect_mismatch(http: httpx.Client, google: str) -> None:
    code = redirect_params(authorize(http, google))["code"]
    expiring = redirect_params(authorize(http, google))["code"]
    mismatched = redirect_params(authorize(http, google))["code"]

    assert exchange(http, google, code).status_code == 200
    reused = exchange(http, google, code)
    wrong_redirect = exchange(http, google, mismatched, redirect_uri="http://localhost:9/other")
    http.post(f"{google}/_sandbox/clock/advance", json={"seconds": 601})
    expired = exchange(http, google, expiring)
    malformed = exchange(http, google, "4/not-a-code")

    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert (expired.status_code, expired.json()["error"]) == (400, "invalid_grant")
    assert (wrong_redirect.status_code, wrong_redirect.json()["error"]) == (400, "redirect_uri_mismatch")
    assert malformed.json() == {"error": "invalid_grant", "error_description": "Malformed auth code."}


def test_client_errors_are_401_invalid_client(http: httpx.Client, google: str) -> None:
    code = redirect_params(authorize(http, google))["code"]

    wrong_secret = exchange(http, google, code, client_secret="wrong")
    unknown_client = exchange(http, google, code, client_id="other.apps.googleusercontent.com")
    bad_grant = exchange(http, google, code, grant_type="password")

    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    assert (unknown_client.status_code, unknown_client.json()["error"]) == (401, "invalid_client")
    assert (bad_grant.status_code, bad_grant.json()["error"]) == (400, "unsupported_grant_type")
    assert exchange(http, google, code).status_code == 200  # the client errors did not spend the code


def test_refresh_never_rotates_and_revocation_gives_invalid_grant(
    http: httpx.Client, google: str, sandbox_reset: SandboxHandle
) -> None:
    tokens = connect(http, google)

    refreshed = refresh(http, google, tokens["refresh_token"])
    assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json()
    narrowed = refresh(http, google, tokens["refresh_token"], scope=SCOPES.split()[0])
    assert narrowed.json()["scope"] == SCOPES.split()[0]
    widened = refresh(http, google, tokens["refresh_token"], scope="https://www.googleapis.com/auth/drive")
    assert (widened.status_code, widened.json()["error"]) == (400, "invalid_scope")

    http.post(f"{google}/_sandbox/tokens/revoke", json={"login": "user@example.com"})

    revoked = refresh(http, google, tokens["refresh_token"])
    assert (revoked.status_code, revoked.json()) == (400, EXPIRED_OR_REVOKED)
    state = sandbox_reset.state("google_calendar")
    assert state.authenticate(refreshed.json()["access_token"]) is None


def test_rotation_switched_on_returns_a_new_refresh_token(http: httpx.Client, google: str) -> None:
    tokens = connect(http, google)
    http.post(f"{google}/_sandbox/config", json={"rotate_refresh_tokens": True})

    rotated = refresh(http, google, tokens["refresh_token"]).json()

    assert rotated["refresh_token"] not in (None, tokens["refresh_token"])
    assert refresh(http, google, rotated["refresh_token"]).status_code == 200
    assert refresh(http, google, tokens["refresh_token"]).status_code == 200


def test_revoke_endpoint_accepts_an_access_token_and_kills_the_whole_grant(http: httpx.Client, google: str) -> None:
    tokens = connect(http, google)

    first = http.post(f"{google}/revoke", params={"token": tokens["access_token"]})
    second = http.post(f"{google}/revoke", data={"token": tokens["access_token"]})

    assert first.status_code == 200
    assert (second.status_code, second.json()["error"]) == (400, "invalid_token")
    assert refresh(http, google, tokens["refresh_token"]).json() == EXPIRED_OR_REVOKED


def test_refresh_token_only_on_first_offline_consent_unless_prompt_consent(http: httpx.Client, google: str) -> None:
    online = redirect_params(authorize(http, google, access_type="online"))["code"]
    assert "refresh_token" not in exchange(http, google, online).json()

    first = redirect_params(authorize(http, google, prompt="select_account"))["code"]
    assert "refresh_token" in exchange(http, google, first).json()
    again = redirect_params(authorize(http, google, prompt="select_account"))["code"]
    assert "refresh_token" not in exchange(http, google, again).json()
    forced = redirect_params(authorize(http, google, prompt="select_account consent"))["code"]
    assert "refresh_token" in exchange(http, google, forced).json()


def test_denied_consent_and_expiry_through_the_control_api(
    http: httpx.Client, google: str, sandbox_reset: SandboxHandle
) -> None:
    http.post(f"{google}/_sandbox/accounts", json={"login": "no@example.com", "deny": True})
    denied = redirect_params(authorize(http, google, login="no@example.com"))
    assert denied == {"provider": "test", "error": "access_denied", "state": "opaque-state"}

    tokens = connect(http, google)
    state = sandbox_reset.state("google_calendar")
    assert state.authenticate(tokens["access_token"]) is not None
    http.post(f"{google}/_sandbox/tokens/expire", json={"login": "user@example.com"})
    assert state.authenticate(tokens["access_token"]) is None

    stats = http.get(f"{google}/_sandbox/stats").json()
    assert stats["token_requests_by_grant"] == {"authorization_code": 1}


def test_openid_scope_adds_an_id_token_verifiable_with_the_published_keys(
    http: httpx.Client, google: str, sandbox_reset: SandboxHandle
) -> None:
    code = redirect_params(authorize(http, google, scope=f"{SCOPES} openid email"))["code"]

    body = exchange(http, google, code).json()

    claims = verified_id_token(http, f"{google}/oauth2/v3/certs", body["id_token"], audience=CLIENT["client_id"])
    account = sandbox_reset.state("google_calendar").account("user@example.com")
    assert account is not None
    assert (claims["iss"], claims["sub"]) == (google, account.user_id)
    assert (claims["email"], claims["email_verified"]) == ("user@example.com", True)
    assert "id_token" not in connect(http, google)  # no openid scope, no id_token


def test_a_redirect_uri_that_is_not_registered_exactly_is_refused_at_authorize_and_token(
    http: httpx.Client, google: str
) -> None:
    page = authorize(http, google, redirect_uri="http://localhost:4000/api/v1/integrations/callback/")
    assert page.status_code == 400 and "location" not in page.headers
    assert page.text.startswith("Error 400: redirect_uri_mismatch")
    assert "redirect_uri=http://localhost:4000/api/v1/integrations/callback/" in page.text

    other = "https://app.example/google/callback"
    http.post(f"{google}/_sandbox/config", json={"redirect_uris": [REDIRECT_URI, other]}).raise_for_status()
    code = redirect_params_to(authorize(http, google, redirect_uri=other), other)["code"]
    http.post(f"{google}/_sandbox/config", json={"redirect_uris": [REDIRECT_URI]}).raise_for_status()
    refused = exchange(http, google, code, redirect_uri=other)
    assert (refused.status_code, refused.json()) == (
        400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"},
    )  # fmt: skip


def redirect_params_to(response: httpx.Response, redirect_uri: str) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    assert str(location.copy_with(query=None)) == redirect_uri
    return dict(location.params)


def test_tokens_have_googles_shape(http: httpx.Client, google: str) -> None:
    code = redirect_params(authorize(http, google))["code"]
    tokens = exchange(http, google, code).json()
    url_safe = r"[A-Za-z0-9_-]"
    assert re.fullmatch(rf"ya29\.{url_safe}{{150,}}", tokens["access_token"]), tokens["access_token"]
    assert re.fullmatch(rf"1//{url_safe}{{60,}}", tokens["refresh_token"])
    assert re.fullmatch(rf"4/{url_safe}{{40,}}", code)
