"""A Google user connected to the (fresh) Google sandbox through its real OAuth flow, and a plain
httpx client that calls the Calendar API the way Google's docs describe it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from lineup_integrations.sandbox import SandboxHandle

PROVIDER = "google_calendar"
REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"  # registered by default
CLIENT = {"client_id": "sandbox-google_calendar-client", "client_secret": "sandbox-google_calendar-secret"}
CALENDAR_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
)


@dataclass(frozen=True)
class CalendarUser:
    """A connected Google user: their access token, and helpers for the API and the control API."""

    login: str
    base: str
    access_token: str
    http: httpx.Client

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def api(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """A Calendar v3 call (`path` below `/calendar/v3/`) with the user's bearer token."""
        return self.http.request(method, f"{self.base}/calendar/v3/{path}", headers=self.auth | (headers or {}),
                                 **kwargs)  # fmt: skip

    def insert(self, body: dict[str, Any], calendar: str = "primary") -> dict[str, Any]:
        response = self.api("POST", f"calendars/{calendar}/events", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The Calendar control API of this user (`/_sandbox/calendar/accounts/{login}/{path}`)."""
        return self.http.request(method, f"{self.base}/_sandbox/calendar/accounts/{self.login}/{path}", **kwargs)

    def truth(self, calendar: str = "primary") -> list[dict[str, Any]]:
        response = self.control("GET", f"calendars/{calendar}/events")
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def list_all(self, **params: Any) -> tuple[list[dict[str, Any]], str]:
        """Every page of an events.list: (items, nextSyncToken), asserting Google's token rules per page."""
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            query = params | ({"pageToken": page_token} if page_token else {})
            response = self.api("GET", "calendars/primary/events", params=query)
            assert response.status_code == 200, response.text
            body = response.json()
            items += body["items"]
            page_token = body.get("nextPageToken")
            if page_token is None:
                return items, body["nextSyncToken"]
            assert "nextSyncToken" not in body


def connect(http: httpx.Client, base: str, login: str, scopes: tuple[str, ...] = CALENDAR_SCOPES) -> str:
    """An access token for `login` through authorize → code → token, as a web-server app gets one."""
    authorize = http.get(f"{base}/o/oauth2/v2/auth", params={
        "client_id": CLIENT["client_id"], "redirect_uri": REDIRECT_URI, "response_type": "code",
        "scope": " ".join(scopes), "access_type": "offline", "prompt": "consent", "login_hint": login,
    })  # fmt: skip
    assert authorize.status_code == 302, authorize.text
    code = httpx.URL(authorize.headers["location"]).params["code"]
    token = http.post(f"{base}/token", data=CLIENT | {
        "code": code, "grant_type": "authorization_code", "redirect_uri": REDIRECT_URI,
    })  # fmt: skip
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])


@pytest.fixture
def google(sandbox_reset: SandboxHandle) -> str:
    return sandbox_reset.base_url(PROVIDER)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def user_factory(google: str, http: httpx.Client) -> Callable[..., CalendarUser]:
    def make(login: str = "recruiter@acme.example", scopes: tuple[str, ...] = CALENDAR_SCOPES) -> CalendarUser:
        http.post(f"{google}/_sandbox/accounts", json={"login": login}).raise_for_status()
        return CalendarUser(login=login, base=google, access_token=connect(http, google, login, scopes), http=http)

    return make


@pytest.fixture
def user(user_factory: Callable[..., CalendarUser]) -> CalendarUser:
    return user_factory()


def timed(start: str, end: str, zone: str | None = None, **fields: Any) -> dict[str, Any]:
    """An insert body for a timed event (`start`/`end` RFC 3339, optionally in the IANA `zone`)."""
    extra = {"timeZone": zone} if zone else {}
    return {"start": {"dateTime": start} | extra, "end": {"dateTime": end} | extra} | fields


def google_error(response: httpx.Response) -> tuple[int, str, str]:
    """(code, domain, reason) of a Google error body, checking the body's shape on the way."""
    body = response.json()["error"]
    assert set(body) == {"errors", "code", "message"}, body
    assert body["code"] == response.status_code
    (detail,) = body["errors"]
    assert detail["message"] and body["message"]
    return body["code"], detail["domain"], detail["reason"]
