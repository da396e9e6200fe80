"""Interviewer accounts of both calendar providers, connected through the sandbox, and their truth
(fixtures `calendar_engine` and `account_factory` in `tests/conftest.py`).

`CalendarAccount` hides what differs between Google's and Microsoft's sandboxes (the control API,
the event bodies, how the provider itself lists a window's instances) so one scenario test runs
against both providers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from lineup_integrations.calendar.accounts import AccountResult, CalendarAccountsSync, CalendarSyncSettings
from lineup_integrations.calendar.feed import Window
from lineup_integrations.calendar.times import date_to_utc
from lineup_integrations.calendar.times import zone as time_zone
from lineup_integrations.core.http import RetrySettings
from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import CalendarEventRow, Integration, Store
from lineup_integrations.google_calendar.feed import open_feed as open_google_feed
from lineup_integrations.outlook_calendar.feed import open_feed as open_outlook_feed
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import authorize

CALENDAR_PROVIDERS = ("google_calendar", "outlook_calendar")
FEEDS = {"google_calendar": open_google_feed, "outlook_calendar": open_outlook_feed}
NO_WAIT = RetrySettings(max_attempts=6, backoff_base=0, backoff_max=0, retry_after_max=0)
Instance = tuple[str, dt.datetime, dt.datetime]


def _utc(text: str) -> dt.datetime:
    """A time the provider sent in UTC (Graph's has no offset), as an aware UTC datetime."""
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass
class CalendarAccount:
    provider: str
    login: str
    user_id: str
    integration: Integration
    sandbox: SandboxHandle
    engine: OAuthEngine

    @property
    def base(self) -> str:
        return self.sandbox.base_url(self.provider)

    def token(self) -> str:
        return self.engine.token_holder(self.integration.id).current().value

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.base}/_sandbox/{path}", json=body, timeout=60.0)
        response.raise_for_status()
        return response.json()

    # -- what a user does to their calendar, through the control API ----------------------------

    def create(self, subject: str, start: dt.datetime, minutes: int = 60, *, zone: str = "UTC", **extra: Any) -> str:
        end = start + dt.timedelta(minutes=minutes)
        if self.provider == "google_calendar":
            body = {"summary": subject, "start": {"dateTime": start.isoformat(), "timeZone": zone},
                    "end": {"dateTime": end.isoformat(), "timeZone": zone}, **extra}  # fmt: skip
            return str(self._control("POST", f"calendar/accounts/{self.login}/calendars/primary/events", body)["id"])
        local = {"start": start.astimezone(time_zone(zone)), "end": end.astimezone(time_zone(zone))}
        body = {"subject": subject, **{k: {"dateTime": v.replace(tzinfo=None).isoformat(), "timeZone": zone}
                                       for k, v in local.items()}, **extra}  # fmt: skip
        return str(self._control("POST", f"graph/mailboxes/{self.login}/events", body)["id"])

    def create_weekly(self, subject: str, start: dt.datetime, zone: str) -> str:
        """A weekly series with no end, at `start`'s wall time in `zone`."""
        if self.provider == "google_calendar":
            return self.create(subject, start, zone=zone, recurrence=["RRULE:FREQ=WEEKLY"])
        day = start.astimezone(time_zone(zone)).strftime("%A").lower()
        pattern = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day]},
                   "range": {"type": "noEnd", "startDate": start.astimezone(time_zone(zone)).date().isoformat()}}  # fmt: skip
        return self.create(subject, start, zone=zone, recurrence=pattern)

    def rename(self, event_id: str, subject: str) -> None:
        if self.provider == "google_calendar":
            self._control(
                "PATCH", f"calendar/accounts/{self.login}/calendars/primary/events/{event_id}", {"summary": subject}
            )
        else:
            self._control("PATCH", f"graph/mailboxes/{self.login}/events/{event_id}", {"subject": subject})

    def delete(self, event_id: str) -> None:
        if self.provider == "google_calendar":
            self._control("DELETE", f"calendar/accounts/{self.login}/calendars/primary/events/{event_id}")
        else:
            self._control("DELETE", f"graph/mailboxes/{self.login}/events/{event_id}")

    def seed(self, count: int, seed: int = 7) -> None:
        if self.provider == "google_calendar":
            self._control("POST", f"calendar/accounts/{self.login}/seed", {"count": count, "seed": seed})
        else:
            self._control("POST", f"graph/mailboxes/{self.login}/seed", {"count": count, "seed": seed, "recurring": 3})

    def expire_sync_state(self) -> None:
        if self.provider == "google_calendar":
            self._control("POST", f"calendar/accounts/{self.login}/sync-tokens/expire")
        else:
            self._control("POST", f"graph/mailboxes/{self.login}/delta/expire")

    def fault(self, **fault: Any) -> None:
        self._control("POST", "faults", {"login": self.login, **fault})

    def revoke(self) -> None:
        self._control("POST", "tokens/revoke", {"login": self.login})

    # -- the provider's own view of a window, and ours -------------------------------------------

    def truth(self, window: Window) -> set[Instance]:
        """Every instance the provider itself lists in the window (its own recurrence expansion)."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        params: dict[str, Any]
        if self.provider == "google_calendar":
            url, params = f"{self.base}/calendar/v3/calendars/primary/events", {
                "singleEvents": "true", "timeMin": window.start.isoformat(), "timeMax": window.end.isoformat(),
                "maxResults": 2500}  # fmt: skip
            items_key, next_key = "items", "nextPageToken"
        else:
            url, params = f"{self.base}/v1.0/me/calendarView", {
                "startDateTime": window.start.isoformat(), "endDateTime": window.end.isoformat(), "$top": 1000}  # fmt: skip
            headers["Prefer"] = 'outlook.timezone="UTC"'
            items_key, next_key = "value", "@odata.nextLink"
        instances: set[Instance] = set()
        while True:
            body = httpx.get(url, params=params, headers=headers, timeout=60.0).raise_for_status().json()
            calendar_zone = body.get("timeZone", "UTC")  # Google names the calendar's zone on every page
            for item in body[items_key]:
                if item.get("status") == "cancelled" or item.get("isCancelled"):
                    continue
                instances.add((item["id"], *_times(self.provider, item, calendar_zone)))
            following = body.get(next_key)
            if not following:
                return instances
            url, params = (
                (following, {}) if self.provider == "outlook_calendar" else (url, {**params, "pageToken": following})
            )

    def stored(self, store: Store) -> set[Instance]:
        with store.session() as session:
            rows = session.execute(
                select(CalendarEventRow.event_id, CalendarEventRow.start_utc, CalendarEventRow.end_utc).where(
                    CalendarEventRow.integration_id == self.integration.id
                )
            ).all()
        return {(event_id, start, end) for event_id, start, end in rows}


def _times(provider: str, item: dict[str, Any], calendar_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """An instance's start and end as UTC: all-day dates read at midnight in their zone."""
    if provider == "google_calendar" and "date" in item["start"]:
        return _local_midnight(item["start"]["date"], calendar_zone), _local_midnight(
            item["end"]["date"], calendar_zone
        )
    if provider == "outlook_calendar" and item.get("isAllDay"):
        zone_name = item.get("originalStartTimeZone") or "UTC"
        return (
            _local_midnight(item["start"]["dateTime"][:10], zone_name),
            _local_midnight(item["end"]["dateTime"][:10], zone_name),
        )
    return _utc(item["start"]["dateTime"]), _utc(item["end"]["dateTime"])


def _local_midnight(day: str, zone_name: str) -> dt.datetime:
    return date_to_utc(dt.date.fromisoformat(day), zone_name)


def connect_account(
    engine: OAuthEngine,
    sandbox: SandboxHandle,
    provider: str,
    user_id: str = "ana",
    tenant_id: str = "acme",
    login: str | None = None,
) -> CalendarAccount:
    """A sandbox account for `login`, connected as `user_id`'s calendar through the whole OAuth flow."""
    login = login or f"{user_id}@{tenant_id}.example"
    httpx.post(f"{sandbox.base_url(provider)}/_sandbox/accounts", json={"login": login}).raise_for_status()
    auth_url = engine.begin(tenant_id, provider, actor="user:test", login_hint=login, user_id=user_id)
    integration = engine.complete(provider, authorize(auth_url))
    return CalendarAccount(provider, login, user_id, integration, sandbox, engine)


def accounts_sync(
    store: Store, engine: OAuthEngine, sandbox: SandboxHandle, provider: str, *, attempts: int = 6, **settings: Any
) -> CalendarAccountsSync:
    """The accounts sync a run makes, on the sandbox, retrying at once (`attempts` per call)."""
    http = httpx.Client(timeout=30.0, verify=False)
    return CalendarAccountsSync(
        store, engine, provider=provider, open_feed=FEEDS[provider], api_base_url=sandbox.base_url(provider),
        http=http, settings=CalendarSyncSettings(retry=NO_WAIT.model_copy(update={"max_attempts": attempts}), **settings),
    )  # fmt: skip


def only(results: list[AccountResult]) -> AccountResult:
    assert len(results) == 1, results
    result = results[0]
    assert result.error is None, result.error
    return result
