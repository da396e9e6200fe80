"""The `/_sandbox/` control API and the fault/request-log middleware, over real HTTP."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from lineup_integrations.sandbox import SandboxHandle
from lineup_integrations.sandbox.kit import DEFAULT_REDIRECT_URIS
from tests.sandbox.wire import REDIRECT_URI, redirect_params

ZOHO_CLIENT = {"client_id": "sandbox-zoho-client", "client_secret": "sandbox-zoho-secret"}
PROBE = "/probe/not-a-provider-route"


def zoho_access_token(http: httpx.Client, zoho: str, login: str) -> str:
    """Connects `login` through the real OAuth flow and returns its access token."""
    authorize = {
        "client_id": ZOHO_CLIENT["client_id"],
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "ZohoCRM.modules.ALL",
        "login_hint": login,
    }
    code = redirect_params(http.get(f"{zoho}/oauth/v2/auth", params=authorize))["code"]
    token = ZOHO_CLIENT | {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    return http.post(f"{zoho}/oauth/v2/token", data=token).json()["access_token"]


@pytest.fixture
def zoho(sandbox_reset: SandboxHandle) -> str:
    return sandbox_reset.base_url("zoho")


def test_status_fault_answers_with_the_providers_error_body_and_retry_after(
    http: httpx.Client, sandbox_reset: SandboxHandle
) -> None:
    zoho, google = sandbox_reset.base_url("zoho"), sandbox_reset.base_url("google_calendar")
    fault = {"endpoint": "POST /oauth/v2/token", "status": 429, "retry_after": 2.5, "count": 2}
    queued = http.post(f"{zoho}/_sandbox/faults", json=fault)
    assert [fault["count"] for fault in queued.json()] == [2]
    http.post(f"{google}/_sandbox/faults", json={"endpoint": "/token", "status": 503})

    throttled = [http.post(f"{zoho}/oauth/v2/token", data={"grant_type": "refresh_token"}) for _ in range(3)]
    unavailable = http.post(f"{google}/token", data={"grant_type": "refresh_token"})

    for response in throttled[:2]:
        assert response.status_code == 429 and response.headers["retry-after"] == "2.5"
        assert response.json() == {
            "code": "TOO_MANY_REQUESTS",
            "details": {},
            "message": "too many requests",
            "status": "error",
        }
    assert throttled[2].status_code == 200 and throttled[2].json() == {"error": "invalid_client"}
    assert unavailable.status_code == 503 and unavailable.json()["error"]["errors"][0]["reason"] == "backendError"
    assert http.get(f"{zoho}/_sandbox/faults").json() == []
    assert http.get(f"{zoho}/_sandbox/stats").json()["token_requests"] == 1  # faulted calls never reached the endpoint


def test_a_fault_for_one_login_spares_other_callers(http: httpx.Client, zoho: str) -> None:
    victim = zoho_access_token(http, zoho, "victim@example.com")
    bystander = zoho_access_token(http, zoho, "bystander@example.com")
    http.post(f"{zoho}/_sandbox/faults", json={"endpoint": "/probe/*", "status": 401, "login": "victim@example.com"})

    spared = http.get(f"{zoho}{PROBE}", headers={"Authorization": f"Zoho-oauthtoken {bystander}"})
    hit = http.get(f"{zoho}{PROBE}", headers={"Authorization": f"Zoho-oauthtoken {victim}"})

    assert spared.status_code == 404
    assert hit.status_code == 401 and hit.json()["code"] == "INVALID_TOKEN"


def test_reset_and_invalid_json_faults_break_the_response(http: httpx.Client, zoho: str) -> None:
    http.post(f"{zoho}/_sandbox/faults", json={"kind": "reset"})
    http.post(f"{zoho}/_sandbox/faults", json={"kind": "invalid_json"})

    with pytest.raises(httpx.RemoteProtocolError):
        http.get(f"{zoho}{PROBE}")
    garbled = http.get(f"{zoho}{PROBE}")

    assert garbled.status_code == 200 and garbled.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        garbled.json()
    assert http.get(f"{zoho}{PROBE}").status_code == 404


def test_timeout_fault_holds_the_response_then_serves_the_untouched_request(http: httpx.Client, zoho: str) -> None:
    http.post(f"{zoho}/_sandbox/faults", json={"endpoint": "POST /oauth/v2/token", "kind": "timeout", "delay": 60})
    http.post(f"{zoho}/_sandbox/faults", json={"endpoint": "POST /oauth/v2/token", "kind": "timeout", "delay": 0.2})

    with pytest.raises(httpx.ReadTimeout):
        http.post(f"{zoho}/oauth/v2/token", data={"grant_type": "refresh_token"}, timeout=0.2)
    held = http.post(f"{zoho}/oauth/v2/token", data=ZOHO_CLIENT | {"grant_type": "refresh_token", "refresh_token": "x"})

    assert held.json() == {"error": "invalid_code"}  # the form body reached the endpoint after the hold
    assert http.get(f"{zoho}/_sandbox/stats").json()["token_requests_by_grant"] == {"refresh_token": 1}


def test_request_log_counts_calls_per_account_and_endpoint(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    token = zoho_access_token(http, zoho, "user@example.com")
    auth = {"Authorization": f"Zoho-oauthtoken {token}"}
    http.get(f"{zoho}/probe/a", headers=auth)
    http.get(f"{zoho}/probe/a", headers=auth)
    http.post(f"{zoho}/_sandbox/tokens/expire", json={"login": "user@example.com"})
    http.post(f"{zoho}/probe/b", headers=auth)  # expired, still attributed
    http.get(f"{zoho}/probe/a")

    mine = http.get(f"{zoho}/_sandbox/requests", params={"login": "user@example.com"}).json()
    probes = http.get(f"{zoho}/_sandbox/requests", params={"endpoint": "* /probe/*"}).json()

    assert mine == {"count": 3, "by_endpoint": {"GET /probe/a": 2, "POST /probe/b": 1}}
    assert probes["count"] == 4
    account_id = sandbox_reset.state("zoho").account("user@example.com").account_id  # type: ignore[union-attr]
    assert sandbox_reset.state("zoho").requests.count(account_id=account_id, endpoint="GET *") == 2
    assert http.get(f"{zoho}/_sandbox/requests", params={"endpoint": "* /_sandbox/*"}).json()["count"] == 0


def test_clock_config_accounts_and_reset(http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle) -> None:
    before = dt.datetime.fromisoformat(http.get(f"{zoho}/_sandbox/clock").json()["now"])
    after = dt.datetime.fromisoformat(http.post(f"{zoho}/_sandbox/clock/advance", json={"seconds": 7200}).json()["now"])
    assert dt.timedelta(hours=2) <= after - before < dt.timedelta(hours=2, minutes=1)

    changed = http.post(f"{zoho}/_sandbox/config", json={"access_token_ttl": 60, "client_secret": "s2"})
    assert changed.json() == {
        "client_id": "sandbox-zoho-client",
        "access_token_ttl": 60,
        "code_ttl": 120,
        "rotate_refresh_tokens": False,
        "redirect_uris": [*DEFAULT_REDIRECT_URIS, REDIRECT_URI],
    }
    assert http.post(f"{zoho}/_sandbox/config", json={"access_token_ttl": -5}).status_code == 422
    assert http.post(f"{zoho}/_sandbox/config", json={"no_such_switch": 1}).status_code == 422
    assert sandbox_reset.state("zoho").check_client("sandbox-zoho-client", "s2").value == "ok"

    assert http.post(f"{zoho}/_sandbox/accounts", json={"login": "x@example.com", "dc": "mars"}).status_code == 400
    google = sandbox_reset.base_url("google_calendar")
    assert http.post(f"{google}/_sandbox/accounts", json={"login": "x@example.com", "dc": "eu"}).status_code == 400
    http.post(f"{zoho}/_sandbox/accounts", json={"login": "x@example.com", "dc": "jp"})
    assert [account["dc"] for account in http.get(f"{zoho}/_sandbox/accounts").json()] == ["jp"]

    assert http.post(f"{zoho}/_sandbox/reset").json() == {"reset": True}
    assert http.get(f"{zoho}/_sandbox/accounts").json() == []
    assert http.get(f"{zoho}/_sandbox/config").json()["access_token_ttl"] == 3600
    assert dt.datetime.fromisoformat(http.get(f"{zoho}/_sandbox/clock").json()["now"]) < after
