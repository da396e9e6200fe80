"""The Calendar part of the Google sandbox's control API (test and demo only; never on the real service).

`{account}` is the account's login or its `account_id` (what `POST /_sandbox/accounts` returns);
`{calendarId}` is a calendar id or `primary`. Writes here act as the user would in Google's own
UI: they go through the same rules as the API (a new etag, `updated`, a change that incremental
syncs return) and answer Google's error bodies when Google would refuse them.

| Method and path | Body / query | Effect and answer |
|---|---|---|
| `GET/POST /_sandbox/calendar/config` | `forbidden_reason` (rateLimitExceeded, userRateLimitExceeded, quotaExceeded), `default_time_zone` | read / change the Calendar switches |
| `GET /_sandbox/calendar/accounts/{account}/calendars` | | the account's calendar list entries |
| `POST /_sandbox/calendar/accounts/{account}/calendars` | `id`?, `summary`, `timeZone`, `description`? | add a secondary calendar → its entry (201) |
| `PATCH /_sandbox/calendar/accounts/{account}/calendars/{calendarId}` | `summary`?, `timeZone`? | rename it or move it to another zone → its entry |
| `POST /_sandbox/calendar/accounts/{account}/seed` | `count`, `seed` (0), `calendarId` (primary), `anchor` (today), `days_back` (30), `days_ahead` (60), `time_zones`, `recurring_share` (0.2), `all_day_share` (0.15) | add generated events (deterministic per seed and anchor) → `{seeded, ids}` |
| `POST /_sandbox/calendar/accounts/{account}/calendars/{calendarId}/events` | an Event body | create it → the event (201) |
| `PATCH /_sandbox/calendar/accounts/{account}/calendars/{calendarId}/events/{eventId}` | an Event patch | edit it (an instance id makes an exception) → the event |
| `DELETE /_sandbox/calendar/accounts/{account}/calendars/{calendarId}/events/{eventId}` | | cancel it → `{id, status}` |
| `GET /_sandbox/calendar/accounts/{account}/calendars/{calendarId}/events` | | the truth: `{calendarId, timeZone, items}` with every stored event whole, cancelled ones too |
| `POST /_sandbox/calendar/accounts/{account}/sync-tokens/expire` | | every sync token issued so far answers 410 fullSyncRequired → `{expired}` |

From the kit, on the same port: `/_sandbox/faults` (403/429 → Google's rate-limit bodies, 410 →
fullSyncRequired, 500/503 → backendError…), `/_sandbox/tokens/expire`, `/_sandbox/clock/advance`,
`/_sandbox/reset` (also empties every calendar).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Body, HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lineup_integrations.google_calendar.sandbox import errors
from lineup_integrations.google_calendar.sandbox.calendars import AccountCalendars, calendar_entry
from lineup_integrations.google_calendar.sandbox.events import zone_of
from lineup_integrations.google_calendar.sandbox.seed import TIME_ZONES, seed_bodies
from lineup_integrations.google_calendar.sandbox.store import CalendarConfig, CalendarConfigUpdate, CalendarWorld
from lineup_integrations.sandbox.control import CONTROL_PREFIX


class NewCalendar(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = None
    summary: str = Field(min_length=1)
    time_zone: str = Field("UTC", alias="timeZone")
    description: str | None = None


class CalendarChange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    summary: str | None = Field(None, min_length=1)
    time_zone: str | None = Field(None, alias="timeZone")


class SeedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    count: int = Field(ge=0, le=100_000)
    seed: int = 0
    calendar_id: str = Field("primary", alias="calendarId")
    anchor: dt.date | None = Field(None, description="the day events are laid out around (default: today)")
    days_back: int = Field(30, ge=0)
    days_ahead: int = Field(60, ge=0)
    time_zones: list[str] = Field(default_factory=lambda: list(TIME_ZONES))
    recurring_share: float = Field(0.2, ge=0, le=1)
    all_day_share: float = Field(0.15, ge=0, le=1)


def control_routes(world: CalendarWorld) -> APIRouter:
    """`/_sandbox/calendar/…`: see the module docstring's table."""
    router = APIRouter(prefix=f"{CONTROL_PREFIX}/calendar", tags=["sandbox control: Google Calendar"])

    def account(key: str) -> AccountCalendars:
        found = next((a for a in world.state.accounts() if key in (a.login, a.account_id)), None)
        if found is None:
            raise HTTPException(404, f"no sandbox account {key!r} (create it with POST /_sandbox/accounts)")
        return world.account_data(found)

    def check_zone(name: str) -> str:
        try:
            zone_of(name)
        except KeyError:
            raise HTTPException(400, f"unknown time zone {name!r}") from None
        return name

    @router.get("/config")
    def read_config() -> CalendarConfig:
        return world.config

    @router.post("/config")
    def change_config(update: CalendarConfigUpdate) -> CalendarConfig:
        if update.default_time_zone is not None:
            check_zone(update.default_time_zone)
        world.config = world.config.model_copy(update=update.model_dump(exclude_none=True))
        return world.config

    @router.get("/accounts/{key}/calendars")
    def list_calendars(key: str) -> list[dict[str, Any]]:
        data = account(key)
        with world.lock:
            return [calendar_entry(c) for c in sorted(data.calendars.values(), key=lambda c: c.order)]

    @router.post("/accounts/{key}/calendars", status_code=201)
    def add_calendar(key: str, body: NewCalendar) -> dict[str, Any]:
        data = account(key)
        try:
            calendar = world.add_calendar(
                data, calendar_id=body.id, summary=body.summary, time_zone=check_zone(body.time_zone),
                description=body.description,
            )  # fmt: skip
        except ValueError as error:
            raise HTTPException(409, str(error)) from None
        return calendar_entry(calendar)

    @router.patch("/accounts/{key}/calendars/{calendar_id}")
    def change_calendar(key: str, calendar_id: str, body: CalendarChange) -> Response:
        data = account(key)
        try:
            with world.lock:
                calendar = world.calendar(data, calendar_id)
                if body.summary is not None:
                    calendar.summary = body.summary
                if body.time_zone is not None:
                    calendar.time_zone = check_zone(body.time_zone)
                calendar.change = data.next_change()
                return JSONResponse(calendar_entry(calendar))
        except errors.ApiError as error:
            return error.response()

    @router.post("/accounts/{key}/seed")
    def seed(key: str, body: SeedRequest) -> Response:
        data = account(key)
        for name in body.time_zones:
            check_zone(name)
        anchor = body.anchor or world.now().date()
        bodies = seed_bodies(
            body.count, seed=body.seed, anchor=anchor, days_back=body.days_back, days_ahead=body.days_ahead,
            time_zones=tuple(body.time_zones), recurring_share=body.recurring_share,
            all_day_share=body.all_day_share,
        )  # fmt: skip
        try:
            with world.lock:
                calendar = world.calendar(data, body.calendar_id)
                ids = [world.insert(data, calendar, event).id for event in bodies]
        except errors.ApiError as error:
            return error.response()
        return JSONResponse({"seeded": len(ids), "ids": ids})

    @router.post("/accounts/{key}/calendars/{calendar_id}/events")
    def create_event(key: str, calendar_id: str, body: dict[str, Any] = Body(...)) -> Response:
        data = account(key)
        try:
            with world.lock:
                calendar = world.calendar(data, calendar_id)
                event = world.insert(data, calendar, body)
                return JSONResponse(world.render_event(calendar, event), status_code=201)
        except errors.ApiError as error:
            return error.response()

    @router.patch("/accounts/{key}/calendars/{calendar_id}/events/{event_id}")
    def edit_event(key: str, calendar_id: str, event_id: str, body: dict[str, Any] = Body(...)) -> Response:
        data = account(key)
        try:
            with world.lock:
                calendar = world.calendar(data, calendar_id)
                event = world.modify(data, calendar, event_id, body, patch=True)
                return JSONResponse(world.render_event(calendar, event))
        except errors.ApiError as error:
            return error.response()

    @router.delete("/accounts/{key}/calendars/{calendar_id}/events/{event_id}")
    def delete_event(key: str, calendar_id: str, event_id: str) -> Response:
        data = account(key)
        try:
            with world.lock:
                calendar = world.calendar(data, calendar_id)
                world.delete(data, calendar, event_id)
        except errors.ApiError as error:
            return error.response()
        return JSONResponse({"id": event_id, "status": "cancelled"})

    @router.get("/accounts/{key}/calendars/{calendar_id}/events")
    def truth(key: str, calendar_id: str) -> Response:
        data = account(key)
        try:
            with world.lock:
                calendar = world.calendar(data, calendar_id)
                return JSONResponse({"calendarId": calendar.id, "timeZone": calendar.time_zone,
                                     "items": world.truth(calendar)})  # fmt: skip
        except errors.ApiError as error:
            return error.response()

    @router.post("/accounts/{key}/sync-tokens/expire")
    def expire_sync_tokens(key: str) -> dict[str, int]:
        return {"expired": world.expire_sync_tokens(account(key))}

    return router
