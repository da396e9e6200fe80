"""A whole scenario with Google's own Python libraries, unchanged, against the Google sandbox:
google-auth-oauthlib authorizes and exchanges the code, google-auth refreshes, and
google-api-python-client (built from its bundled discovery document) lists, pages, inserts,
syncs incrementally, writes conditionally, deletes and queries free/busy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import Resource, build
from googleapiclient.errors import HttpError

from lineup_integrations.sandbox import SandboxHandle
from tests.google_calendar.sandbox.conftest import CALENDAR_SCOPES, CLIENT, PROVIDER, REDIRECT_URI

LOGIN = "recruiter@acme.example"


def sign_in(base: str) -> Credentials:
    """Google's web-server flow with google-auth-oauthlib: authorize URL → consent (the sandbox
    approves for `login_hint`) → the code on the redirect → token exchange (PKCE, Basic client auth)."""
    flow = Flow.from_client_config(
        {"web": CLIENT | {"auth_uri": f"{base}/o/oauth2/v2/auth", "token_uri": f"{base}/token",
                          "redirect_uris": [REDIRECT_URI]}},
        scopes=list(CALENDAR_SCOPES),
        redirect_uri=REDIRECT_URI,
    )  # fmt: skip
    url, state = flow.authorization_url(access_type="offline", prompt="consent", login_hint=LOGIN)
    consent = httpx.get(url, follow_redirects=False)
    assert consent.status_code == 302, consent.text
    callback = consent.headers["location"]
    assert httpx.URL(callback).params["state"] == state
    flow.fetch_token(authorization_response=callback)
    return flow.credentials


@pytest.fixture
def base(sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox speaks plain http on 127.0.0.1
    url = sandbox_reset.base_url(PROVIDER)
    httpx.post(f"{url}/_sandbox/accounts", json={"login": LOGIN}).raise_for_status()
    return url


@pytest.fixture
def credentials(base: str) -> Credentials:
    return sign_in(base)


@pytest.fixture
def calendar(base: str, credentials: Credentials) -> Iterator[Resource]:
    service = build("calendar", "v3", credentials=credentials, static_discovery=True,
                    client_options={"api_endpoint": f"{base}/calendar/v3/"})  # fmt: skip
    yield service
    service.close()


def control(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.post(f"{base}/_sandbox/{path}", json=body or {})
    response.raise_for_status()
    return response.json()


def list_everything(calendar: Resource, **params: Any) -> tuple[list[dict[str, Any]], str | None, int]:
    """Page with googleapiclient's own `list_next`: (items, nextSyncToken of the last page, pages)."""
    items: list[dict[str, Any]] = []
    request = calendar.events().list(calendarId="primary", **params)
    pages, sync_token = 0, None
    while request is not None:
        page = request.execute()
        pages += 1
        items += page.get("items", [])
        sync_token = page.get("nextSyncToken")
        assert (sync_token is None) == ("nextPageToken" in page)  # one or the other, the sync token last
        request = calendar.events().list_next(request, page)
    return items, sync_token, pages


def reason(error: HttpError) -> str:
    return str(error.error_details[0]["reason"])


def test_google_auth_oauthlib_signs_in_and_google_auth_refreshes(base: str, credentials: Credentials) -> None:
    first_token = credentials.token

    credentials.refresh(Request())

    assert credentials.valid and credentials.token != first_token
    assert credentials.refresh_token and credentials.token_uri == f"{base}/token"
    assert set(credentials.granted_scopes or credentials.scopes or []) == set(CALENDAR_SCOPES)
    stats = httpx.get(f"{base}/_sandbox/stats").json()
    assert stats["token_requests_by_grant"] == {"authorization_code": 1, "refresh_token": 1}


def test_googleapiclient_scenario_list_page_insert_sync_conditional_write_delete_free_busy(
    base: str, calendar: Resource
) -> None:
    entries = calendar.calendarList().list().execute()["items"]
    assert [(e["id"], e.get("primary")) for e in entries] == [(LOGIN, True)]

    seed = {"count": 7, "seed": 5, "anchor": "2026-12-07", "recurring_share": 0}
    control(base, f"calendar/accounts/{LOGIN}/seed", seed)
    seeded, sync_token, pages = list_everything(calendar, maxResults=3)
    assert len(seeded) == 7 and pages == 3 and sync_token

    body = {"id": "lineup0int0001", "summary": "Interview: Ada", "attendees": [{"email": "ada@example.com"}],
            "start": {"dateTime": "2026-12-08T15:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-08T16:00:00+01:00", "timeZone": "Europe/Berlin"},
            "extendedProperties": {"private": {"lineupInterviewId": "1"}}}  # fmt: skip
    inserted = calendar.events().insert(calendarId="primary", body=body, sendUpdates="none").execute()
    assert inserted["id"] == "lineup0int0001" and inserted["attendees"][0]["responseStatus"] == "needsAction"
    with pytest.raises(HttpError) as duplicate:
        calendar.events().insert(calendarId="primary", body=body).execute()
    assert duplicate.value.status_code == 409 and reason(duplicate.value) == "duplicate"

    # The recruiter edits the event in Google's UI; our write with the old etag must not clobber it.
    edit = httpx.patch(f"{base}/_sandbox/calendar/accounts/{LOGIN}/calendars/primary/events/lineup0int0001",
                       json={"location": "Room 4"})  # fmt: skip
    edit.raise_for_status()
    stale = calendar.events().patch(calendarId="primary", eventId="lineup0int0001", body={"summary": "Onsite"})
    stale.headers["If-Match"] = inserted["etag"]
    with pytest.raises(HttpError) as precondition:
        stale.execute()
    assert precondition.value.status_code == 412 and reason(precondition.value) == "conditionNotMet"
    current = calendar.events().get(calendarId="primary", eventId="lineup0int0001").execute()
    fresh = calendar.events().patch(calendarId="primary", eventId="lineup0int0001", body={"summary": "Onsite"})
    fresh.headers["If-Match"] = current["etag"]
    patched = fresh.execute()
    assert patched["summary"] == "Onsite" and patched["location"] == "Room 4"

    removed = seeded[0]["id"]
    assert calendar.events().delete(calendarId="primary", eventId=removed).execute() == ""
    changes, next_token, _ = list_everything(calendar, syncToken=sync_token)
    by_id = {item["id"]: item for item in changes}
    assert set(by_id) == {"lineup0int0001", removed}
    assert by_id[removed]["status"] == "cancelled" and by_id["lineup0int0001"]["summary"] == "Onsite"
    assert next_token and list_everything(calendar, syncToken=next_token)[0] == []

    free_busy = calendar.freebusy().query(body={
        "timeMin": "2026-12-08T14:00:00Z", "timeMax": "2026-12-08T16:00:00Z", "items": [{"id": "primary"}],
    }).execute()  # fmt: skip
    assert free_busy["calendars"]["primary"]["busy"] == [
        {"start": "2026-12-08T14:00:00Z", "end": "2026-12-08T15:00:00Z"}
    ]


def test_an_expired_sync_token_is_a_410_full_sync_required_for_the_client(base: str, calendar: Resource) -> None:
    _, sync_token, _ = list_everything(calendar)
    control(base, f"calendar/accounts/{LOGIN}/sync-tokens/expire")

    with pytest.raises(HttpError) as gone:
        calendar.events().list(calendarId="primary", syncToken=sync_token).execute()

    assert gone.value.status_code == 410 and reason(gone.value) == "fullSyncRequired"
    assert list_everything(calendar)[1]  # a full sync starts over


def test_the_client_refreshes_on_401_and_retries_googles_rate_limit_bodies(
    base: str, calendar: Resource, credentials: Credentials
) -> None:
    before = credentials.token
    control(base, "tokens/expire", {"login": LOGIN})

    listed = calendar.events().list(calendarId="primary").execute()  # 401 → google-auth refreshes → retried

    assert listed["kind"] == "calendar#events" and credentials.token != before
    control(base, "faults", {"endpoint": "GET /calendar/v3/calendars/*/events", "status": 403, "count": 1})
    request = calendar.events().list(calendarId="primary")
    request._rand = lambda: 0.0  # googleapiclient's backoff waits rand() * 2**n seconds: none here
    assert request.execute(num_retries=1)["kind"] == "calendar#events"  # 403 rateLimitExceeded is retryable
    control(base, "faults", {"endpoint": "GET /calendar/v3/calendars/*/events", "status": 403, "count": 1})
    with pytest.raises(HttpError) as limited:
        calendar.events().list(calendarId="primary").execute()
    assert limited.value.status_code == 403 and reason(limited.value) == "rateLimitExceeded"
