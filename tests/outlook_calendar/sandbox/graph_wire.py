"""Helpers for the Graph sandbox tests: a mailbox connected through the sandbox's real OAuth flow,
and reading Graph's wire shapes (times without offset, error bodies)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import httpx

PROVIDER = "outlook_calendar"
REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"  # registered by default (kit.DEFAULT_REDIRECT_URIS)
CLIENT = {"client_id": "sandbox-outlook_calendar-client", "client_secret": "sandbox-outlook_calendar-secret"}
SCOPES = "offline_access User.Read Calendars.ReadWrite"
GRAPH_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}")
UTC_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z")


@dataclass(frozen=True)
class Mailbox:
    """A connected Microsoft user as a Graph client sees it: the base URL and a bearer token."""

    base: str
    login: str
    access_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def url(self, path: str) -> str:
        return f"{self.base}/v1.0/me{path}"

    def control(self, path: str) -> str:
        return f"{self.base}/_sandbox/graph/mailboxes/{self.login}{path}"


def connect(http: httpx.Client, base: str, login: str, *, scopes: str = SCOPES) -> Mailbox:
    """Authorize (login_hint) → code → token at `/common/oauth2/v2.0/token`, as a web app would."""
    http.post(f"{base}/_sandbox/accounts", json={"login": login}).raise_for_status()
    authorize = http.get(
        f"{base}/common/oauth2/v2.0/authorize",
        params={
            "client_id": CLIENT["client_id"],
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "response_mode": "query",
            "scope": scopes,
            "state": "s",
            "login_hint": login,
        },
    )
    assert authorize.status_code == 302, authorize.text
    code = httpx.URL(authorize.headers["location"]).params["code"]
    token = http.post(
        f"{base}/common/oauth2/v2.0/token",
        data=CLIENT | {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "scope": scopes},
    )
    assert token.status_code == 200, token.text
    return Mailbox(base, login, token.json()["access_token"])


def graph_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert `response` is Graph's error body with this status and code; returns the `error` object."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    return error


def local_time(value: dict[str, str]) -> dt.datetime:
    """A Graph `dateTimeTimeZone`'s `dateTime` (asserting Graph's form: no offset, 7 fractional digits)."""
    assert GRAPH_DATE_TIME.fullmatch(value["dateTime"]), value
    return dt.datetime.fromisoformat(value["dateTime"][:26])


def utc(value: dict[str, str]) -> dt.datetime:
    """A `dateTimeTimeZone` in UTC as an aware time (asserting it is labelled UTC)."""
    assert value["timeZone"] == "UTC", value
    return local_time(value).replace(tzinfo=dt.UTC)


def event_body(subject: str, start: str, end: str, time_zone: str = "UTC", **extra: Any) -> dict[str, Any]:
    """A Graph event JSON for POST /me/events."""
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": time_zone},
        "end": {"dateTime": end, "timeZone": time_zone},
        **extra,
    }
