"""Google's token endpoint on the sandbox takes the client's credentials as HTTP Basic too
(`client_secret_basic`, what requests-oauthlib and so google-auth-oauthlib send by default)."""

from __future__ import annotations

import httpx

from tests.google_calendar.sandbox.conftest import CALENDAR_SCOPES, CLIENT, REDIRECT_URI


def code_for(http: httpx.Client, google: str, login: str) -> str:
    http.post(f"{google}/_sandbox/accounts", json={"login": login}).raise_for_status()
    authorize = http.get(f"{google}/o/oauth2/v2/auth", params={
        "client_id": CLIENT["client_id"], "redirect_uri": REDIRECT_URI, "response_type": "code",
        "scope": " ".join(CALENDAR_SCOPES), "access_type": "offline", "login_hint": login,
    })  # fmt: skip
    return httpx.URL(authorize.headers["location"]).params["code"]


def test_basic_client_credentials_redeem_a_code(google: str, http: httpx.Client) -> None:
    form = {"code": code_for(http, google, "basic@acme.example"), "grant_type": "authorization_code",
            "redirect_uri": REDIRECT_URI}  # fmt: skip

    response = http.post(f"{google}/token", data=form, auth=(CLIENT["client_id"], CLIENT["client_secret"]))

    assert response.status_code == 200, response.text
    assert response.json()["access_token"].startswith("ya29.") and response.json()["refresh_token"]


def test_a_wrong_basic_secret_is_invalid_client(google: str, http: httpx.Client) -> None:
    form = {"code": code_for(http, google, "basic@acme.example"), "grant_type": "authorization_code",
            "redirect_uri": REDIRECT_URI}  # fmt: skip

    response = http.post(f"{google}/token", data=form, auth=(CLIENT["client_id"], "not-the-secret"))

    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
