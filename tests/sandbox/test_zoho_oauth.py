"""Zoho Accounts OAuth on the sandbox, over real HTTP: multi-DC redirects, 200-with-error tokens, no rotation."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from lineup_integrations.sandbox import SandboxHandle
from tests.sandbox.wire import REDIRECT_URI, pkce_s256, redirect_params

CLIENT = {"client_id": "sandbox-zoho-client", "client_secret": "sandbox-zoho-secret"}
SCOPES = "ZohoCRM.modules.ALL,ZohoCRM.org.READ"


@pytest.fixture
def zoho(sandbox_reset: SandboxHandle) -> str:
    return sandbox_reset.base_url("zoho")


def authorize(http: httpx.Client, zoho: str, login: str, **extra: str) -> dict[str, str]:
    params = {
        "client_id": CLIENT["client_id"],
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPES,
        "access_type": "offline",
        "prompt": "consent",
        "state": "opaque-state",
        "login_hint": login,
    } | extra
    return redirect_params(http.get(f"{zoho}/oauth/v2/auth", params=params))


def exchange(http: httpx.Client, accounts_server: str, code: str, **extra: str) -> httpx.Response:
    """The code grant, with its parameters in the query string as Zoho's docs show it."""
    params = CLIENT | {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI} | extra
    return http.post(f"{accounts_server}/oauth/v2/token", params=params)


def refresh(http: httpx.Client, accounts_server: str, refresh_token: str) -> httpx.Response:
    """The refresh grant, form-encoded this time (Zoho reads either)."""
    return http.post(
        f"{accounts_server}/oauth/v2/token",
        data=CLIENT | {"grant_type": "refresh_token", "refresh_token": refresh_token},
    )


def connect(http: httpx.Client, zoho: str, login: str) -> dict[str, Any]:
    redirect = authorize(http, zoho, login)
    response = exchange(http, redirect["accounts-server"], redirect["code"])
    assert response.status_code == 200
    return response.json()


def test_authorize_redirects_with_code_state_and_the_users_data_centre(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    created = http.post(f"{zoho}/_sandbox/accounts", json={"login": "eu@example.com", "dc": "eu"}).json()
    assert created["dc"] == "eu" and created["account_id"].isdigit() and len(created["account_id"]) == 19

    redirect = authorize(http, zoho, "eu@example.com")

    assert redirect["provider"] == "test"  # the redirect URI's own query is kept
    assert redirect["state"] == "opaque-state"
    assert redirect["code"].startswith("1000.")
    assert redirect["location"] == "eu"
    assert redirect["accounts-server"] == f"{zoho}/eu"
    assert authorize(http, zoho, "new-user@example.com")["accounts-server"] == zoho  # created on the fly, in US


def test_code_grant_returns_zoho_token_shape_with_the_api_domain_of_the_dc(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    http.post(f"{zoho}/_sandbox/accounts", json={"login": "in@example.com", "dc": "in"})
    redirect = authorize(http, zoho, "in@example.com")

    response = exchange(http, redirect["accounts-server"], redirect["code"])

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "scope", "api_domain", "token_type", "expires_in"}
    assert body["api_domain"] == f"{zoho}/in"
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["scope"].split() == SCOPES.split(",")
    state = sandbox_reset.state("zoho")
    account = state.authenticate(body["access_token"])
    assert account is not None and account.login == "in@example.com" and account.dc == "in"
    assert state.authenticate(body["refresh_token"]) is None


def test_token_errors_are_http_200_with_an_error_field(http: httpx.Client, zoho: str) -> None:
    redirect = authorize(http, zoho, "user@example.com")
    server = redirect["accounts-server"]

    wrong_secret = exchange(http, server, redirect["code"], client_secret="not-the-secret")
    unknown_client = exchange(http, server, redirect["code"], client_id="1000.UNKNOWN")
    wrong_redirect = exchange(http, server, redirect["code"], redirect_uri="http://evil.example/cb")
    reused = exchange(http, server, redirect["code"])
    unknown_grant = exchange(http, server, redirect["code"], grant_type="password")

    for response in (wrong_secret, unknown_client, wrong_redirect, reused, unknown_grant):
        assert response.status_code == 200
    assert wrong_secret.json() == {"error": "invalid_client_secret"}
    assert unknown_client.json() == {"error": "invalid_client"}
    assert wrong_redirect.json() == {"error": "invalid_redirect_uri"}  # this attempt spent the code
    assert reused.json() == {"error": "invalid_code"}
    assert unknown_grant.json() == {"error": "unsupported_grant_type"}


def test_a_code_is_single_use(http: httpx.Client, zoho: str) -> None:
    redirect = authorize(http, zoho, "user@example.com")

    first = exchange(http, redirect["accounts-server"], redirect["code"])
    second = exchange(http, redirect["accounts-server"], redirect["code"])

    assert "access_token" in first.json()
    assert second.json() == {"error": "invalid_code"}


def test_a_code_expires_after_two_minutes(http: httpx.Client, zoho: str) -> None:
    fresh = authorize(http, zoho, "user@example.com")
    stale = authorize(http, zoho, "user@example.com")

    http.post(f"{zoho}/_sandbox/clock/advance", json={"seconds": 100})
    assert "access_token" in exchange(http, zoho, fresh["code"]).json()
    http.post(f"{zoho}/_sandbox/clock/advance", json={"seconds": 21})
    assert exchange(http, zoho, stale["code"]).json() == {"error": "invalid_code"}


def test_a_token_call_to_another_data_centre_is_invalid_client_and_leaves_the_code_usable(
    http: httpx.Client, zoho: str
) -> None:
    http.post(f"{zoho}/_sandbox/accounts", json={"login": "au@example.com", "dc": "au"})
    redirect = authorize(http, zoho, "au@example.com")

    at_us = exchange(http, zoho, redirect["code"])
    at_eu = exchange(http, f"{zoho}/eu", redirect["code"])
    at_au = exchange(http, f"{zoho}/au", redirect["code"])

    assert at_us.status_code == 200 and at_us.json() == {"error": "invalid_client"}
    assert at_eu.json() == {"error": "invalid_client"}
    assert at_au.json()["api_domain"] == f"{zoho}/au"
    assert refresh(http, zoho, at_au.json()["refresh_token"]).json() == {"error": "invalid_client"}


def test_refresh_returns_a_new_access_token_and_never_a_refresh_token(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    tokens = connect(http, zoho, "user@example.com")

    refreshed = refresh(http, zoho, tokens["refresh_token"])

    body = refreshed.json()
    assert refreshed.status_code == 200
    assert set(body) == {"access_token", "scope", "api_domain", "token_type", "expires_in"}
    assert body["access_token"] != tokens["access_token"]
    assert sandbox_reset.state("zoho").authenticate(body["access_token"]) is not None
    assert "access_token" in refresh(http, zoho, tokens["refresh_token"]).json()  # the same refresh token again


def test_rotation_switched_on_returns_new_refresh_tokens_and_keeps_the_old_one_valid(
    http: httpx.Client, zoho: str
) -> None:
    tokens = connect(http, zoho, "user@example.com")
    config = http.post(f"{zoho}/_sandbox/config", json={"rotate_refresh_tokens": True}).json()
    assert config["rotate_refresh_tokens"] is True and "client_secret" not in config

    first = refresh(http, zoho, tokens["refresh_token"]).json()
    second = refresh(http, zoho, first["refresh_token"]).json()

    assert len({tokens["refresh_token"], first["refresh_token"], second["refresh_token"]}) == 3
    assert "access_token" in refresh(http, zoho, tokens["refresh_token"]).json()


def test_refresh_token_only_with_offline_access_and_on_first_consent_or_prompt_consent(
    http: httpx.Client, zoho: str
) -> None:
    online = authorize(http, zoho, "user@example.com", access_type="online")
    assert "refresh_token" not in exchange(http, zoho, online["code"]).json()

    first = authorize(http, zoho, "user@example.com", prompt="none")
    assert "refresh_token" in exchange(http, zoho, first["code"]).json()
    again = authorize(http, zoho, "user@example.com", prompt="none")
    assert "refresh_token" not in exchange(http, zoho, again["code"]).json()
    forced = authorize(http, zoho, "user@example.com", prompt="consent")
    assert "refresh_token" in exchange(http, zoho, forced["code"]).json()


def test_revoked_grant_makes_refresh_fail_with_invalid_code_and_access_tokens_unusable(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    tokens = connect(http, zoho, "user@example.com")

    revoked = http.post(f"{zoho}/_sandbox/tokens/revoke", json={"login": "user@example.com"})

    assert revoked.json() == {"revoked": 1}
    assert refresh(http, zoho, tokens["refresh_token"]).json() == {"error": "invalid_code"}
    assert sandbox_reset.state("zoho").authenticate(tokens["access_token"]) is None
    assert http.post(f"{zoho}/_sandbox/tokens/revoke", json={"login": "nobody@example.com"}).status_code == 404


def test_revoke_endpoint_revokes_a_refresh_token_once(http: httpx.Client, zoho: str) -> None:
    tokens = connect(http, zoho, "user@example.com")

    first = http.post(f"{zoho}/oauth/v2/token/revoke", params={"token": tokens["refresh_token"]})
    second = http.post(f"{zoho}/oauth/v2/token/revoke", params={"token": tokens["refresh_token"]})

    assert (first.status_code, first.json()) == (200, {"status": "success"})
    assert second.status_code == 400
    assert refresh(http, zoho, tokens["refresh_token"]).json() == {"error": "invalid_code"}


def test_pkce_is_verified_when_a_challenge_was_sent(http: httpx.Client, zoho: str) -> None:
    verifier = "v" * 50
    challenge = pkce_s256(verifier)
    good = authorize(http, zoho, "user@example.com", **challenge)
    bad = authorize(http, zoho, "user@example.com", **challenge)

    assert "access_token" in exchange(http, zoho, good["code"], code_verifier=verifier).json()
    assert exchange(http, zoho, bad["code"], code_verifier="w" * 50).json() == {"error": "invalid_code"}


def test_denied_consent_redirects_with_access_denied(http: httpx.Client, zoho: str) -> None:
    http.post(f"{zoho}/_sandbox/accounts", json={"login": "no@example.com", "deny": True})

    redirect = authorize(http, zoho, "no@example.com")

    assert redirect["error"] == "access_denied" and redirect["state"] == "opaque-state"
    assert "code" not in redirect


def test_expire_control_makes_authenticate_return_none(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    tokens = connect(http, zoho, "user@example.com")
    state = sandbox_reset.state("zoho")
    assert state.authenticate(tokens["access_token"]) is not None

    expired = http.post(f"{zoho}/_sandbox/tokens/expire", json={"login": "user@example.com"})

    assert expired.json() == {"expired": 1}
    assert state.authenticate(tokens["access_token"]) is None
    assert "access_token" in refresh(http, zoho, tokens["refresh_token"]).json()


def test_stats_count_token_requests_by_grant_type(http: httpx.Client, zoho: str) -> None:
    tokens = connect(http, zoho, "user@example.com")
    refresh(http, zoho, tokens["refresh_token"])
    refresh(http, zoho, tokens["refresh_token"])
    exchange(http, zoho, "1000.unknown")

    stats = http.get(f"{zoho}/_sandbox/stats").json()

    assert stats["token_requests"] == 4
    assert stats["token_requests_by_grant"] == {"authorization_code": 2, "refresh_token": 2}


def test_a_redirect_uri_that_is_not_registered_exactly_is_refused_at_authorize_and_token(
    http: httpx.Client, zoho: str
) -> None:
    for unregistered in ("http://evil.example/cb", REDIRECT_URI + "/", REDIRECT_URI.replace("localhost", "127.0.0.1")):
        page = http.get(f"{zoho}/oauth/v2/auth", params={
            "client_id": CLIENT["client_id"], "response_type": "code", "redirect_uri": unregistered, "scope": SCOPES,
        })  # fmt: skip
        assert page.status_code == 400 and "location" not in page.headers  # an error page, never a redirect
        assert "Invalid Redirect Uri" in page.text and "invalid_redirect_uri" in page.text

    # Registered later through the control API, it works; unregistered again, its code cannot be redeemed.
    other = "https://app.example/zoho/callback"
    http.post(f"{zoho}/_sandbox/config", json={"redirect_uris": [REDIRECT_URI, other]}).raise_for_status()
    consent = http.get(f"{zoho}/oauth/v2/auth", params={
        "client_id": CLIENT["client_id"], "response_type": "code", "redirect_uri": other, "scope": SCOPES,
    })  # fmt: skip
    location = httpx.URL(consent.headers["location"])
    assert str(location.copy_with(query=None)) == other
    code = location.params["code"]
    http.post(f"{zoho}/_sandbox/config", json={"redirect_uris": [REDIRECT_URI]}).raise_for_status()
    refused = exchange(http, zoho, code, redirect_uri=other)
    assert (refused.status_code, refused.json()) == (200, {"error": "invalid_redirect_uri"})


def test_tokens_and_codes_have_zohos_shape(http: httpx.Client, zoho: str) -> None:
    shape = re.compile(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}")
    redirect = authorize(http, zoho, "shape@example.com")
    tokens = exchange(http, redirect["accounts-server"], redirect["code"]).json()
    refreshed = refresh(http, redirect["accounts-server"], tokens["refresh_token"]).json()
    values = [redirect["code"], tokens["access_token"], tokens["refresh_token"], refreshed["access_token"]]
    assert all(shape.fullmatch(value) for value in values), values
    assert len(set(values)) == 4
