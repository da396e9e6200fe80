"""`POST /api/v1/availability`: when a panel of interviewers is free, from their stored busy blocks.

No provider is called: the answer comes from `interviewer_busy_blocks` (kept by the calendar syncs)
and says, per user, how fresh that is. A user with no connected calendar is named in
`usersWithoutCalendar` and left out of the computation, never taken as free.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Self

from fastapi import APIRouter
from pydantic import ConfigDict, Field, field_validator, model_validator

from lineup_integrations.calendar.availability import WorkingHours, common_slots, free_time
from lineup_integrations.calendar.panel import UserCalendars, busy_blocks, panel_calendars
from lineup_integrations.calendar.times import UnknownTimeZoneError, zone
from lineup_integrations.gateway.auth import CurrentPrincipal
from lineup_integrations.gateway.dependencies import ProvidersDep, StoreDep
from lineup_integrations.gateway.errors import ApiError, ErrorResponse
from lineup_integrations.gateway.schemas import USER_ID_PATTERN, CamelModel

router = APIRouter(
    prefix="/api/v1",
    tags=["availability"],
    responses={status: {"model": ErrorResponse} for status in (401, 422, 501)},
)

MAX_SPAN = dt.timedelta(days=62)  # Graph's getSchedule window; the same bound for stored data
MAX_USERS = 50


class WorkingHoursBody(CamelModel):
    model_config = ConfigDict(extra="forbid")

    time_zone: str = Field(min_length=1, max_length=64, examples=["Europe/Paris"])
    days: list[int] = Field(default=[1, 2, 3, 4, 5], min_length=1, max_length=7, description="ISO weekdays, 1 = Monday")
    start: dt.time = Field(examples=["09:00"])
    end: dt.time = Field(examples=["17:30"])

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if any(day < 1 or day > 7 for day in days):
            raise ValueError("days are ISO weekdays, 1 (Monday) to 7 (Sunday)")
        return days

    def hours(self) -> WorkingHours:
        try:
            zone(self.time_zone)
        except UnknownTimeZoneError as error:
            raise ApiError(422, "validation_error", f"workingHours.timeZone: {error}", field="workingHours") from None
        return WorkingHours(self.time_zone, frozenset(self.days), self.start, self.end)


class AvailabilityRequest(CamelModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[str] = Field(min_length=1, max_length=MAX_USERS)
    start: dt.datetime = Field(description="UTC (an offset is converted)")
    end: dt.datetime
    duration_minutes: int = Field(ge=5, le=24 * 60)
    buffer_before_minutes: int = Field(default=0, ge=0, le=240)
    buffer_after_minutes: int = Field(default=0, ge=0, le=240)
    slot_step_minutes: int = Field(default=15, ge=5, le=24 * 60)
    working_hours: dict[str, WorkingHoursBody] = Field(
        default_factory=dict, description="per user id; a user without an entry is available at any hour"
    )
    live: bool = Field(default=False, description="ask the providers (freeBusy, getSchedule) instead of the store")

    @field_validator("user_ids")
    @classmethod
    def _user_ids(cls, user_ids: list[str]) -> list[str]:
        bad = [user_id for user_id in user_ids if not re.match(USER_ID_PATTERN, user_id)]
        if bad:
            raise ValueError(f"not a Lineup user id: {bad[0]!r}")
        return list(dict.fromkeys(user_ids))

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)

    @model_validator(mode="after")
    def _span(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_SPAN:
            raise ValueError(f"the span may be at most {MAX_SPAN.days} days")
        unknown = sorted(set(self.working_hours) - set(self.user_ids))
        if unknown:
            raise ValueError(f"workingHours names users not in userIds: {', '.join(unknown)}")
        return self


class Slot(CamelModel):
    start: dt.datetime
    end: dt.datetime


class UserAvailability(CamelModel):
    user_id: str
    providers: list[str] = Field(description="the user's connected calendars")
    busy_synced_at: dt.datetime | None = Field(description="the user's busy time is at least this fresh")
    stale: bool


class AvailabilityResponse(CamelModel):
    slots: list[Slot]
    users: list[UserAvailability]
    users_without_calendar: list[str] = Field(description="left out of the slots: nothing is known of their time")
    source: str = "stored"


@router.post("/availability", response_model=AvailabilityResponse)
def availability(
    body: AvailabilityRequest, principal: CurrentPrincipal, store: StoreDep, providers: ProvidersDep
) -> AvailabilityResponse:
    if body.live:
        raise ApiError(501, "live_unavailable", "live availability (freeBusy, getSchedule) is not available yet: "
                       "omit `live` to use the stored busy blocks", field="live")  # fmt: skip
    hours = {user_id: spec.hours() for user_id, spec in body.working_hours.items()}
    calendars = panel_calendars(
        store, principal.tenant_id, body.user_ids, [provider.name for provider in providers if provider.per_user]
    )
    connected = [user_id for user_id in body.user_ids if calendars[user_id].connected]
    blocks = busy_blocks(store, principal.tenant_id, connected, body.start, body.end)
    before, after = dt.timedelta(minutes=body.buffer_before_minutes), dt.timedelta(minutes=body.buffer_after_minutes)
    free = [
        free_time(body.start, body.end, blocks.get(user_id, []), hours.get(user_id),
                  buffer_before=before, buffer_after=after)
        for user_id in connected
    ]  # fmt: skip
    slots = common_slots(free, start=body.start, end=body.end, duration=dt.timedelta(minutes=body.duration_minutes),
                         step=dt.timedelta(minutes=body.slot_step_minutes)) if connected else []  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    return AvailabilityResponse(
        slots=[Slot(start=start, end=end) for start, end in slots],
        users=[_user(calendars[user_id], now) for user_id in connected],
        users_without_calendar=[user_id for user_id in body.user_ids if not calendars[user_id].connected],
    )


def _user(calendars: UserCalendars, now: dt.datetime) -> UserAvailability:
    return UserAvailability(
        user_id=calendars.user_id,
        providers=list(calendars.providers),
        busy_synced_at=calendars.synced_at,
        stale=calendars.stale(now),
    )
