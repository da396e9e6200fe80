"""The Calendar side of one Google `SandboxState`: every account's calendars (`calendars.py`) and
events, their writes, and Google's paging and sync tokens over the reads of `queries.py`.

No HTTP here (`api.py` puts it on the wire, `control.py` exposes it to tests). The rules are
Google's (provider-apis.md §B3–B6, pitfalls.md §1):
- A page token is opaque and server-side: the first page snapshots the query's result (so a
  client paging while others write sees one consistent list) and each page token is the next
  offset into that snapshot, bound to the query's other parameters (another query → 400). A
  page token can be replayed, so a client may retry a failed page.
- `nextPageToken` is on every page but the last; only the last carries `nextSyncToken`. A sync
  token remembers the account's change counter when the full list was taken, so an incremental
  list returns every event written since (cancelled ones as tombstones). Tokens die when the
  control API expires them; an unknown or dead token answers 410 `fullSyncRequired`.
- Lists that filter the calendar (`orderBy`, `q`, `iCalUID`, `updatedMin`, extended-property
  constraints) end without a `nextSyncToken`: an incremental sync always covers the whole
  calendar, so such a token would be misleading ([unv] sandbox choice, as googleapis
  google-api-ruby-client#312 reports for `orderBy`).
- A recurring series is stored once; its instances are expanded on read (`recurrence.py`).
  A modified or cancelled instance is stored as its own event under the instance id
  (`{seriesId}_{start}`) with `recurringEventId` + `originalStartTime`, and replaces the
  generated instance. With `singleEvents=true` an incremental list returns every instance of a
  changed series (a deleted series as its own tombstone); an unbounded series is expanded up to
  `recurrence.HORIZON` past now when no `timeMax` bounds it.

Lock order: never call the kit's state while holding `_lock` (the kit calls `reset` with its own lock held).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lineup_integrations.google_calendar.sandbox import errors
from lineup_integrations.google_calendar.sandbox.calendars import (
    DEFAULT_REMINDERS,
    AccountCalendars,
    Calendar,
    calendar_entry,
)
from lineup_integrations.google_calendar.sandbox.events import (
    StoredEvent,
    check_client_id,
    format_timestamp,
    instance_of,
    merge_patch,
    new_etag,
    new_event_id,
    parse_body,
    render,
)
from lineup_integrations.google_calendar.sandbox.queries import (
    EventQuery,
    Span,
    busy,
    changed_events,
    full_list,
    same_start,
    series_instances,
)
from lineup_integrations.google_calendar.sandbox.recurrence import split_instance_id
from lineup_integrations.sandbox.kit import SandboxAccount, SandboxState, per_state

CALENDAR_LIST = "calendarList"  # the sync scope of the calendar list (calendar ids contain '@', never this)

RateLimitReason = Literal["rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"]


class CalendarConfig(BaseModel):
    """The Calendar switches shared by every account (`/_sandbox/calendar/config`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    forbidden_reason: RateLimitReason = Field(
        "rateLimitExceeded", description="the reason of an injected 403 fault (429 is always rateLimitExceeded)"
    )
    default_time_zone: str = Field("UTC", description="time zone of an account's primary calendar when first used")


class CalendarConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    forbidden_reason: RateLimitReason | None = None
    default_time_zone: str | None = None


@dataclass(frozen=True)
class PageRequest:
    """Where a page starts: `page_token` (None = the first page), its size, and the query it must belong to."""

    page_token: str | None
    max_results: int
    fingerprint: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _SyncMark:
    account_id: str
    scope: str
    watermark: int
    generation: int


@dataclass(frozen=True)
class _Cursor:
    account_id: str
    scope: str
    fingerprint: tuple[tuple[str, str], ...]
    items: tuple[dict[str, Any], ...]
    offset: int
    watermark: int | None  # None: the list ends without a nextSyncToken


@dataclass(frozen=True)
class Snapshot:
    """What the first page of a list is cut from: the items, and the change counter to sync from (or None)."""

    items: list[dict[str, Any]]
    watermark: int | None


class CalendarWorld:
    """Every account's calendars behind one Google sandbox state (one world per state; reset with it)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._lock = threading.RLock()
        self.config = CalendarConfig()
        self._accounts: dict[str, AccountCalendars] = {}
        self._sync: dict[str, _SyncMark] = {}
        self._cursors: dict[str, _Cursor] = {}

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def reset(self) -> None:
        with self._lock:
            self.config = CalendarConfig()
            self._accounts.clear()
            self._sync.clear()
            self._cursors.clear()

    def now(self) -> dt.datetime:
        return self.state.clock.now()

    def fault_reasons(self) -> dict[int, str]:
        return {403: self.config.forbidden_reason}

    # -- accounts and calendars --------------------------------------------------------------------

    def account_data(self, account: SandboxAccount) -> AccountCalendars:
        """The account's calendars, created with its primary calendar (id = login) on first use."""
        with self._lock:
            data = self._accounts.get(account.account_id)
            if data is None:
                data = self._accounts[account.account_id] = AccountCalendars(account)
                self._add_calendar(data, account.login, account.login, self.config.default_time_zone, primary=True)
            return data

    def add_calendar(
        self, data: AccountCalendars, *, calendar_id: str | None, summary: str, time_zone: str,
        description: str | None = None,
    ) -> Calendar:  # fmt: skip
        """A secondary calendar (id `…@group.calendar.google.com` unless given); ValueError on a taken id."""
        with self._lock:
            new_id = calendar_id or f"{secrets.token_hex(26)}@group.calendar.google.com"
            if new_id in data.calendars:
                raise ValueError(f"calendar {new_id!r} exists already")
            return self._add_calendar(data, new_id, summary, time_zone, primary=False, description=description)

    def calendar(self, data: AccountCalendars, calendar_id: str) -> Calendar:
        """The account's calendar `calendar_id` (`primary` = its primary calendar), else 404 notFound."""
        with self._lock:
            found = data.primary if calendar_id == "primary" else data.calendars.get(calendar_id)
            if found is None:
                raise errors.not_found()
            return found

    def find_calendar(
        self, data: AccountCalendars, calendar_id: str, accounts: Sequence[SandboxAccount]
    ) -> Calendar | None:
        """For free/busy: the account's own calendar, or the primary calendar of another of the
        sandbox's `accounts` (as colleagues in one Workspace domain see each other's free/busy).
        The caller reads `accounts` from the kit first: this world never calls the kit under its lock."""
        with self._lock:
            if calendar_id == "primary" or calendar_id in data.calendars:
                return self.calendar(data, calendar_id)
            other = next((a for a in accounts if a.login == calendar_id), None)
            return None if other is None else self.account_data(other).primary

    def expire_sync_tokens(self, data: AccountCalendars) -> int:
        """Every sync token issued to the account so far answers 410 from now on; returns how many died."""
        with self._lock:
            live = [t for t, mark in self._sync.items() if mark.account_id == data.account.account_id
                    and mark.generation == data.generation]  # fmt: skip
            data.generation += 1
            return len(live)

    # -- events: reads -----------------------------------------------------------------------------

    def get_event(self, calendar: Calendar, event_id: str) -> StoredEvent:
        """A stored event (cancelled ones too, as `events.get` shows them) or a generated instance; else 404."""
        with self._lock:
            event, _ = self._resolve(calendar, event_id)
            return event

    def list_events(
        self, data: AccountCalendars, calendar: Calendar, query: EventQuery, page: PageRequest
    ) -> dict[str, Any]:
        """An `events.list` page (`calendar#events`)."""
        with self._lock:

            def snapshot() -> Snapshot:
                if query.sync_token is not None:
                    mark = self._sync_mark(data, calendar.id, query.sync_token)
                    changed = changed_events(calendar, query, mark.watermark, self.now())
                    return Snapshot(self._render_list(calendar, changed, query.response_zone), data.changes)
                found = full_list(calendar, query, self.now())
                watermark = data.changes if query.syncable else None
                return Snapshot(self._render_list(calendar, found, query.response_zone), watermark)

            body = self._envelope(calendar, query.response_zone)
            return body | self._page(data, calendar.id, page, snapshot)

    def instances(
        self,
        data: AccountCalendars,
        calendar: Calendar,
        series_id: str,
        *,
        time_min: dt.datetime | None,
        time_max: dt.datetime | None,
        original_start: dt.datetime | dt.date | None,
        show_deleted: bool,
        response_zone: str | None,
        page: PageRequest,
    ) -> dict[str, Any]:
        """`events.instances`: the series' instances (exceptions applied) in the window, by start."""
        with self._lock:
            series = calendar.events.get(series_id)
            if series is None:
                raise errors.not_found()

            def snapshot() -> Snapshot:
                if not series.is_series or series.cancelled:
                    return Snapshot([], None)
                found = series_instances(calendar, series, time_min, time_max, now=self.now(),
                                         show_deleted=show_deleted)  # fmt: skip
                if original_start is not None:
                    found = [e for e in found if e.original_start and same_start(e.original_start, original_start)]
                return Snapshot(self._render_list(calendar, found, response_zone), None)

            scope = f"{calendar.id}#{series_id}"  # page tokens of one series' instances
            return self._envelope(calendar, response_zone) | self._page(data, scope, page, snapshot)

    def calendar_list(self, data: AccountCalendars, sync_token: str | None, page: PageRequest) -> dict[str, Any]:
        """A `calendarList.list` page (`calendar#calendarList`): primary first, then by creation."""
        with self._lock:

            def snapshot() -> Snapshot:
                floor = -1 if sync_token is None else self._sync_mark(data, CALENDAR_LIST, sync_token).watermark
                chosen = sorted((c for c in data.calendars.values() if c.change > floor), key=lambda c: c.order)
                return Snapshot([calendar_entry(c) for c in chosen], data.changes)

            etag = f'"p3{data.changes:014d}"'
            return {"kind": "calendar#calendarList", "etag": etag} | self._page(data, CALENDAR_LIST, page, snapshot)

    def busy(self, calendar: Calendar, low: dt.datetime, high: dt.datetime) -> list[Span]:
        """Busy intervals of a calendar within [low, high) (see `queries.busy`)."""
        with self._lock:
            return busy(calendar, low, high, self.now())

    # -- events: writes ----------------------------------------------------------------------------

    def insert(
        self, data: AccountCalendars, calendar: Calendar, body: Any, *, creator: str | None = None
    ) -> StoredEvent:
        """`events.insert`: a client `id` is honoured (base32hex, 5–1024) and a taken one is 409."""
        with self._lock:
            draft = parse_body(body, calendar.time_zone)
            requested = body.get("id") if isinstance(body, Mapping) else None
            event_id = check_client_id(requested) if requested is not None else new_event_id()
            if event_id in calendar.events:
                raise errors.duplicate()
            now, change = self.now(), data.next_change()
            event = StoredEvent(
                id=event_id,
                fields=draft.fields,
                start=draft.start,
                end=draft.end,
                recurrence=draft.recurrence,
                status=draft.status,
                created=now,
                updated=now,
                etag=new_etag(now, change),
                sequence=draft.sequence or 0,
                ical_uid=draft.ical_uid or f"{event_id}@google.com",
                creator={"email": creator or calendar.owner},
                organizer=calendar.organizer,
                change=change,
                order=data.next_order(),
                series=draft.series,
            )
            calendar.events[event_id] = event
            return event

    def modify(
        self, data: AccountCalendars, calendar: Calendar, event_id: str, body: Any, *, patch: bool,
        if_match: str | None = None,
    ) -> StoredEvent:  # fmt: skip
        """`events.patch` (merge) or `events.update` (replace); a stale `If-Match` is 412. Writing an
        instance of a series stores it as an exception."""
        with self._lock:
            event, stored = self._resolve(calendar, event_id)
            _check_if_match(if_match, event.etag)
            instance = event.recurring_event_id is not None
            source = merge_patch(event.writable(calendar.time_zone), body) if patch else body
            draft = parse_body(source, calendar.time_zone, current=event, instance=instance)
            if not stored:
                event.order = data.next_order()
                calendar.events[event.id] = event
            event.apply(draft, now=self.now(), change=data.next_change())
            return event

    def delete(self, data: AccountCalendars, calendar: Calendar, event_id: str, *, if_match: str | None = None) -> None:
        """`events.delete`: the event (and a series' exceptions) become cancelled; twice → 410 deleted."""
        with self._lock:
            event, stored = self._resolve(calendar, event_id)
            _check_if_match(if_match, event.etag)
            if event.cancelled:
                raise errors.deleted()
            if not stored:
                event.order = data.next_order()
                calendar.events[event.id] = event
            now = self.now()
            event.status = "cancelled"
            event.touch(now=now, change=data.next_change())
            if event.is_series:
                for exception in calendar.exceptions_of(event):
                    if not exception.cancelled:
                        exception.status = "cancelled"
                        exception.touch(now=now, change=data.next_change())

    # -- rendering ---------------------------------------------------------------------------------

    def render_event(self, calendar: Calendar, event: StoredEvent, response_zone: str | None = None) -> dict[str, Any]:
        return render(event, calendar_id=calendar.id, calendar_zone=calendar.time_zone, owners=calendar.owners,
                      response_zone=response_zone)  # fmt: skip

    def _render_list(
        self, calendar: Calendar, events: list[StoredEvent], response_zone: str | None
    ) -> list[dict[str, Any]]:
        """Events in their list form: cancelled ones as tombstones."""
        return [render(event, calendar_id=calendar.id, calendar_zone=calendar.time_zone, owners=calendar.owners,
                       response_zone=response_zone, tombstone=event.cancelled) for event in events]  # fmt: skip

    def truth(self, calendar: Calendar) -> list[dict[str, Any]]:
        """Every stored event of a calendar, whole (cancelled ones too), in creation order: the tests' truth."""
        with self._lock:
            events = sorted(calendar.events.values(), key=lambda e: e.order)
            return [self.render_event(calendar, event) for event in events]

    # -- internals ---------------------------------------------------------------------------------

    def _add_calendar(
        self, data: AccountCalendars, calendar_id: str, summary: str, time_zone: str, *, primary: bool,
        description: str | None = None,
    ) -> Calendar:  # fmt: skip
        change, now = data.next_change(), self.now()
        calendar = Calendar(
            id=calendar_id,
            summary=summary,
            time_zone=time_zone,
            owner=data.account.login,
            primary=primary,
            order=data.next_order(),
            change=change,
            etag=new_etag(now, change),
            created=now,
            description=description,
        )
        data.calendars[calendar_id] = calendar
        return calendar

    def _resolve(self, calendar: Calendar, event_id: str) -> tuple[StoredEvent, bool]:
        """(event, stored?): a stored event, or the generated instance an instance id names."""
        stored = calendar.events.get(event_id)
        if stored is not None:
            return stored, True
        parts = split_instance_id(event_id)
        if parts is not None:
            series = calendar.events.get(parts[0])
            if series is not None and series.is_series and series.series is not None:
                start = parts[1]
                if isinstance(start, dt.datetime):
                    start = start.astimezone(series.series.zone)
                if series.series.occurs_at(start):
                    return instance_of(series, start, event_id), False
        raise errors.not_found()

    def _sync_mark(self, data: AccountCalendars, scope: str, token: str) -> _SyncMark:
        mark = self._sync.get(token)
        if mark is None or mark.account_id != data.account.account_id or mark.scope != scope:
            raise errors.full_sync_required()
        if mark.generation != data.generation:
            raise errors.full_sync_required()
        return mark

    def _page(
        self, data: AccountCalendars, scope: str, page: PageRequest, snapshot: Callable[[], Snapshot]
    ) -> dict[str, Any]:
        """`nextPageToken` + `items`, or on the last page `nextSyncToken` (when the list syncs) + `items`."""
        account_id = data.account.account_id
        if page.page_token is None:
            taken = snapshot()
            cursor = _Cursor(account_id, scope, page.fingerprint, tuple(taken.items), 0, taken.watermark)
        else:
            found = self._cursors.get(page.page_token)
            if found is None or (found.account_id, found.scope, found.fingerprint) != (
                account_id, scope, page.fingerprint
            ):  # fmt: skip
                raise errors.invalid("pageToken", "Invalid page token value.")
            cursor = found
        end = cursor.offset + page.max_results
        body: dict[str, Any] = {}
        if end < len(cursor.items):
            token = _opaque_token()
            self._cursors[token] = replace(cursor, offset=end)
            body["nextPageToken"] = token
        elif cursor.watermark is not None:
            token = _opaque_token()
            self._sync[token] = _SyncMark(account_id, scope, cursor.watermark, data.generation)
            body["nextSyncToken"] = token
        body["items"] = list(cursor.items[cursor.offset : end])
        return body

    def _envelope(self, calendar: Calendar, response_zone: str | None) -> dict[str, Any]:
        envelope: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"p3{max((e.change for e in calendar.events.values()), default=calendar.change):014d}"',
            "summary": calendar.summary,
        }
        if calendar.description:
            envelope["description"] = calendar.description
        return envelope | {
            "updated": format_timestamp(calendar.updated()),
            "timeZone": response_zone or calendar.time_zone,
            "accessRole": "owner",
            "defaultReminders": [dict(r) for r in DEFAULT_REMINDERS],
        }


calendar_world = per_state(CalendarWorld)
"""The Calendar world of a Google sandbox state (one per state; reset with it)."""


def _opaque_token() -> str:
    """A token shaped like Google's sync and page tokens (`CPDAlvWDx70CEPDAlvWDx70CGAU=`)."""
    return "C" + base64.b64encode(secrets.token_bytes(24)).decode()


def _check_if_match(if_match: str | None, etag: str) -> None:
    if if_match is None:
        return
    candidates = [value.strip().removeprefix("W/") for value in if_match.split(",")]
    if "*" not in candidates and etag not in candidates:
        raise errors.condition_not_met()
