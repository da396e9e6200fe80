"""One account's calendars into the store: raw events, Lineup's events, a checkpoint per page.

For each calendar the feed lists, `CalendarSync` pages the provider's change feed from the stored
position and commits every page in one transaction with everything it implies: the raw events
upserted and deleted, Lineup's events rebuilt for every series the page touched (expanded,
mapped), and the position to resume from. A run killed between two pages resumes after the last
committed one; nothing is applied twice or lost.

A *full round* starts from no position: on the first sync, when `full` is asked, when the provider
no longer knows the position (`ResyncRequired`, a 410), and — for a feed bound to its window
(Graph) — when the window has moved since the round began. A full round lists every event that
exists now, so its last page deletes whatever it did not list (`seen_round` older than the
round): deletions that happened while the position was lost are found by difference, and nothing
is deleted before the whole listing has landed.

For a feed that covers the whole calendar (Google), a moved window or a changed mapping needs no
API call: every series of the calendar is rebuilt from the stored raw events.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import CursorResult, delete, select, text
from sqlalchemy.orm import Session

from lineup_integrations.calendar.events import Attendee, CalendarEvent
from lineup_integrations.calendar.feed import CalendarFeed, CalendarRef, EventPage, Payload, ResyncRequired, Window
from lineup_integrations.core.gc_freeze import older_objects_frozen
from lineup_integrations.core.mapping import VersionedMapping, apply_inbound
from lineup_integrations.core.mapping.apply import EXTERNAL_ID
from lineup_integrations.core.read_ahead import read_ahead
from lineup_integrations.core.store import (
    CalendarCheckpoint,
    CalendarEventRow,
    CalendarRawEvent,
    DeadLetter,
    Same,
    Store,
    bulk_rows,
    bulk_upsert,
    table_of,
)

ENTITY = "events"
_IN_CHUNK = 500  # ids per IN (…) list: well under SQLite's and PostgreSQL's parameter limits
_RAW = table_of(CalendarRawEvent)
_EVENTS = table_of(CalendarEventRow)
DESCRIPTIVE = ("title", "organizer", "location")
_ATTENDEES = TypeAdapter(list[tuple[Attendee, ...]])
_ANALYZE_FIRST = 2_000  # raw events a run writes before PostgreSQL's statistics are first refreshed


@dataclass
class CalendarStats:
    """What one calendar's sync did (summed per account by `AccountStats`)."""

    pages: int = 0
    fetched: int = 0
    removed: int = 0
    events_written: int = 0
    events_deleted: int = 0
    rejected: int = 0
    mode: str = "incremental"  # incremental | full | resync | rebase
    resumed: bool = False


@dataclass
class AccountStats:
    calendars: dict[str, CalendarStats] = field(default_factory=dict)
    calendars_removed: int = 0
    duration_s: float = 0.0

    def total(self, name: str) -> int:
        return sum(int(getattr(stats, name)) for stats in self.calendars.values())

    @property
    def modes(self) -> str:
        return ",".join(sorted({stats.mode for stats in self.calendars.values()})) or "none"


def mapping_tag(mapping: VersionedMapping) -> list[int | None]:
    """What identifies the mapping events were built with: its version and the default file's."""
    return [mapping.version, mapping.default_version]


class CalendarSync:
    """Syncs the calendars of one connected account (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        feed: CalendarFeed,
        *,
        tenant_id: str,
        integration_id: str,
        user_id: str,
        mapping: VersionedMapping,
        window: Window,
    ) -> None:
        self.store = store
        self.feed = feed
        self.tenant_id = tenant_id
        self.integration_id = integration_id
        self.user_id = user_id
        self.mapping = mapping
        self.window = window
        self._written = 0  # raw events this run upserted
        self._analyze_at = _ANALYZE_FIRST
        # A calendar's first sync: the series keys landed so far (None: the calendar had events
        # before this run). A key not among them has no other member than the page's own payloads
        # and no event yet, so nothing is looked up or deleted for it — the bulk of a first sync.
        self._landed_keys: set[str] | None = None

    def run(self, *, full: bool = False) -> AccountStats:
        """Every calendar the feed lists; calendars the account no longer has are forgotten."""
        started = time.perf_counter()
        stats = AccountStats()
        calendars = self.feed.calendars()
        stats.calendars_removed = self._forget_calendars_except({c.calendar_id for c in calendars})
        with older_objects_frozen():  # the collector walks only what the pass allocates
            for calendar in calendars:
                stats.calendars[calendar.calendar_id] = self.sync_calendar(calendar, full=full)
        stats.duration_s = time.perf_counter() - started
        return stats

    def sync_calendar(self, calendar: CalendarRef, *, full: bool = False) -> CalendarStats:
        stats = CalendarStats()
        state = self._load_state(calendar)
        window = self.window.to_json()
        self._landed_keys = set() if state is None else None
        if state is None or full or (self.feed.window_bound and state.get("window") != window):
            stats.mode = "full" if state is None or full else "rebase"
            state = self._new_round(state)
        else:
            stats.resumed = bool(state["full"]) and state["position"] is not None
            if not self.feed.window_bound and (
                state.get("window") != window or state.get("mapping") != mapping_tag(self.mapping)
            ):
                stats.mode = "rebase"
                self._rebuild_calendar(calendar, state, stats)
        try:
            self._consume(calendar, state, stats)
        except ResyncRequired:
            stats.mode = "resync"
            self._landed_keys = None  # what the failed round landed is in the store now
            state = self._new_round(state)
            self._consume(calendar, state, stats)
        if self.feed.window_bound and state.get("mapping") != mapping_tag(self.mapping):
            self._rebuild_calendar(calendar, state, stats)
        return stats

    # -- rounds and pages ------------------------------------------------------------------------

    def _new_round(self, state: dict[str, Any] | None) -> dict[str, Any]:
        """A full round: the next round number, no position, this run's window."""
        number = int(state["round"]) + 1 if state else 1
        return {"round": number, "full": True, "position": None, "window": self.window.to_json(),
                "mapping": (state or {}).get("mapping")}  # fmt: skip

    def _consume(self, calendar: CalendarRef, state: dict[str, Any], stats: CalendarStats) -> None:
        """The feed's pages committed in order; the next page is fetched on a helper thread while
        this one is written (`read_ahead`: the network's wait passes while the store works)."""
        pages = self.feed.pages(calendar, state["position"], self.window)

        def fetch(feed: Iterator[EventPage]) -> EventPage | None:
            return next(feed, None)

        def after(page: EventPage | None) -> Iterator[EventPage] | None:
            return None if page is None or page.final else pages

        for page in read_ahead(fetch, pages, after, name="calendar-pages"):
            if page is not None:
                self._commit_page(calendar, state, page, stats)

    def _commit_page(self, calendar: CalendarRef, state: dict[str, Any], page: EventPage, stats: CalendarStats) -> None:
        round_number = int(state["round"])
        with self.store.session() as session:
            keys = self._delete_raw(session, calendar, page.removed)
            keys |= self._upsert_raw(session, calendar, page.events, round_number)
            if page.final and state["full"] and self._landed_keys is None:  # a first sync left nothing unseen
                keys |= self._delete_unseen(session, calendar, round_number)
            written = {str(event["id"]): event for event in page.events}
            new = self._new_keys(keys)
            self._rebuild(session, calendar, keys, stats, written=written, new=new)
            if page.final and state["full"]:  # every series was rebuilt: with this window and mapping
                state.update(window=self.window.to_json(), mapping=mapping_tag(self.mapping))
            state.update(position=page.position, full=bool(state["full"]) and not page.final)
            self._save_state(session, calendar, state)
        stats.pages += 1
        stats.fetched += len(page.events)
        stats.removed += len(page.removed)
        self._keep_statistics(len(page.events))

    def _new_keys(self, keys: set[str]) -> set[str]:
        """The keys of `keys` landing for the first time in a calendar's first sync (see `_landed_keys`)."""
        if self._landed_keys is None:
            return set()
        new = keys - self._landed_keys
        self._landed_keys |= keys
        return new

    def _keep_statistics(self, written: int) -> None:
        """PostgreSQL plans a page's lookups by series key (`_rebuild`) from its table statistics:
        rows it has not analysed yet (a first sync, a new account) are estimated at about one per
        calendar, so it reads every row of the calendar and filters them by key — quadratic over a
        large first sync (a 50,000-event calendar: 71 s instead of about 10). So the statistics of
        the two tables are refreshed whenever the raw events this run wrote have doubled since the
        last refresh: a handful of `ANALYZE`s per run (each samples at most 30,000 rows a table)."""
        self._written += written
        if self._written < self._analyze_at or self.store.engine.dialect.name != "postgresql":
            return
        self._analyze_at = 2 * self._written
        with self.store.session() as session:
            session.execute(text(f"ANALYZE {_RAW.name}, {_EVENTS.name}"))

    def _rebuild_calendar(self, calendar: CalendarRef, state: dict[str, Any], stats: CalendarStats) -> None:
        """Every series of the calendar rebuilt from the store (a moved window, a new mapping): no API call."""
        with self.store.session() as session:
            keys = set(session.scalars(select(CalendarRawEvent.series_key).distinct().where(*self._of(calendar))))
            keys |= set(
                session.scalars(select(CalendarEventRow.source_key).distinct().where(*self._events_of(calendar)))
            )
            self._rebuild(session, calendar, keys, stats)
            state.update(window=self.window.to_json(), mapping=mapping_tag(self.mapping))
            self._save_state(session, calendar, state)

    # -- raw events ------------------------------------------------------------------------------

    def _of(self, calendar: CalendarRef) -> tuple[Any, ...]:
        return (
            CalendarRawEvent.integration_id == self.integration_id,
            CalendarRawEvent.calendar_id == calendar.calendar_id,
        )

    def _events_of(self, calendar: CalendarRef) -> tuple[Any, ...]:
        return (
            CalendarEventRow.integration_id == self.integration_id,
            CalendarEventRow.calendar_id == calendar.calendar_id,
        )

    def _delete_raw(self, session: Session, calendar: CalendarRef, event_ids: Sequence[str]) -> set[str]:
        """Delete the raw events with these ids; returns their series keys (to rebuild)."""
        keys: set[str] = set()
        for chunk in _chunks(list(dict.fromkeys(event_ids))):
            keys |= set(session.scalars(
                select(CalendarRawEvent.series_key).where(*self._of(calendar), CalendarRawEvent.event_id.in_(chunk))
            ))  # fmt: skip
            session.execute(delete(CalendarRawEvent).where(*self._of(calendar), CalendarRawEvent.event_id.in_(chunk)))
        return keys

    def _upsert_raw(
        self, session: Session, calendar: CalendarRef, events: Sequence[Payload], round_number: int
    ) -> set[str]:
        if not events:
            return set()
        keys = [self.feed.series_key(event) for event in events]
        rows = bulk_rows(session, _RAW, {
            "integration_id": Same(self.integration_id),
            "calendar_id": Same(calendar.calendar_id),
            "event_id": [str(event["id"]) for event in events],
            "tenant_id": Same(self.tenant_id),
            "provider": Same(self.feed.provider),
            "series_key": keys,
            "payload": list(events),
            "seen_round": Same(round_number),
            "fetched_at": Same(dt.datetime.now(dt.UTC)),
        }, key=("integration_id", "calendar_id", "event_id"))  # fmt: skip
        bulk_upsert(  # a first sync's rows are new: PostgreSQL COPYs them straight into the table
            session, rows, update=("series_key", "payload", "seen_round", "fetched_at"),
            insert_first=self._landed_keys is not None,
        )  # fmt: skip
        return set(keys)

    def _delete_unseen(self, session: Session, calendar: CalendarRef, round_number: int) -> set[str]:
        """The end of a full round: what it did not list is gone (returns the series keys to rebuild)."""
        unseen = (*self._of(calendar), CalendarRawEvent.seen_round < round_number)
        keys = set(session.scalars(select(CalendarRawEvent.series_key).distinct().where(*unseen)))
        session.execute(delete(CalendarRawEvent).where(*unseen))
        return keys

    # -- Lineup's events -------------------------------------------------------------------------

    def _rebuild(
        self,
        session: Session,
        calendar: CalendarRef,
        keys: set[str],
        stats: CalendarStats,
        *,
        written: Mapping[str, Payload] | None = None,
        new: AbstractSet[str] = frozenset(),
    ) -> None:
        """Lineup's events of these series keys, rebuilt from their stored raw events. `written`: the
        payloads this transaction just upserted, by event id; they are not read back from the store
        (only the ids of a series' members are, and the payloads of the members not among them).
        `new`: keys whose only members are in `written` and that have no event yet."""
        if not keys:
            return
        payloads: dict[str, list[Payload]] = defaultdict(list)
        if new and written:
            for payload in written.values():
                key = self.feed.series_key(payload)
                if key in new:
                    payloads[key].append(payload)
        for chunk in _chunks(sorted(keys - new)):
            if written:
                self._members(session, calendar, chunk, written, payloads)
            else:
                rows = session.execute(
                    select(CalendarRawEvent.series_key, CalendarRawEvent.payload)
                    .where(*self._of(calendar), CalendarRawEvent.series_key.in_(chunk))
                )  # fmt: skip
                for key, payload in rows:
                    payloads[key].append(payload)
            result = session.execute(
                delete(CalendarEventRow).where(*self._events_of(calendar), CalendarEventRow.source_key.in_(chunk))
            )
            stats.events_deleted += int(cast(CursorResult[Any], result).rowcount or 0)
        built: list[tuple[str, CalendarEvent, Payload]] = []
        for key, members in payloads.items():
            try:
                events = self.feed.build_events(calendar, members, self.window, integration_id=self.integration_id)
            except ValueError as error:  # a recurrence or a time zone the provider should have refused
                self._set_aside(session, key, members, error, stats)
                continue
            built.extend((key, event, payload) for event, payload in events
                         if self.window.overlaps(event.start_utc, event.end_utc))  # fmt: skip
        self._write_events(session, calendar, built, stats)

    def _set_aside(
        self, session: Session, key: str, members: list[Payload], error: ValueError, stats: CalendarStats
    ) -> None:
        """A series (or event) that cannot be built: a dead letter with its payloads, the rest of the page goes on."""
        session.add(DeadLetter(
            tenant_id=self.tenant_id, provider=self.feed.provider, entity=ENTITY, external_id=key, stage="map",
            error=f"cannot build the events of {key!r}: {error}", payload={"members": members},
        ))  # fmt: skip
        stats.rejected += 1

    def _members(
        self,
        session: Session,
        calendar: CalendarRef,
        keys: list[str],
        written: Mapping[str, Payload],
        payloads: dict[str, list[Payload]],
    ) -> None:
        """The stored members of these series keys into `payloads`: those in `written` as they are,
        the others' payloads read from the store."""
        stored: list[str] = []
        rows = session.execute(
            select(CalendarRawEvent.series_key, CalendarRawEvent.event_id)
            .where(*self._of(calendar), CalendarRawEvent.series_key.in_(keys))
        )  # fmt: skip
        for key, event_id in rows:
            payload = written.get(event_id)
            if payload is None:
                stored.append(event_id)
            else:
                payloads[key].append(payload)
        for chunk in _chunks(stored):
            for key, payload in session.execute(
                select(CalendarRawEvent.series_key, CalendarRawEvent.payload)
                .where(*self._of(calendar), CalendarRawEvent.event_id.in_(chunk))
            ):  # fmt: skip
                payloads[key].append(payload)

    def _write_events(
        self,
        session: Session,
        calendar: CalendarRef,
        built: list[tuple[str, CalendarEvent, Payload]],
        stats: CalendarStats,
    ) -> None:
        if not built:
            return
        events = [event for _, event, _ in built]
        columns: dict[str, Any] = {
            "integration_id": Same(self.integration_id),
            "calendar_id": Same(calendar.calendar_id),
            "event_id": [e.event_id for e in events],
            "tenant_id": Same(self.tenant_id),
            "provider": Same(self.feed.provider),
            "user_id": Same(self.user_id),
            "source_key": [key for key, _, _ in built],
            "ical_uid": [e.ical_uid for e in events],
            **self._descriptive_fields(session, [payload for _, _, payload in built], events, stats),
            "start_utc": [e.start_utc for e in events],
            "end_utc": [e.end_utc for e in events],
            "start_zone": [e.start_zone for e in events],
            "end_zone": [e.end_zone for e in events],
            "all_day": [e.all_day for e in events],
            "status": [e.status.value for e in events],
            "busy": [e.busy for e in events],
            "series_id": [e.series_id for e in events],
            "original_start_utc": [e.original_start_utc for e in events],
            "attendees": _ATTENDEES.dump_python([e.attendees for e in events], mode="json"),  # one call, not one a row
            "source_updated_at": [e.updated_at for e in events],
            "etag": [e.etag for e in events],
            "mapping_version": Same(self.mapping.version),
            "synced_at": Same(dt.datetime.now(dt.UTC)),
        }
        rows = bulk_rows(session, _EVENTS, columns, key=("integration_id", "calendar_id", "event_id"))
        bulk_upsert(
            session, rows, update=tuple(name for name in columns if name not in rows.key),
            insert_first=self._landed_keys is not None,
        )  # fmt: skip
        stats.events_written += len(rows)

    def _descriptive_fields(
        self, session: Session, payloads: list[Payload], events: list[CalendarEvent], stats: CalendarStats
    ) -> dict[str, list[Any]]:
        """Title, organizer and location of each of `events` (columns in their order), through the
        tenant's mapping of their `payloads`. An event the mapping rejects keeps its time (busy time is
        never lost to a bad title), gets None there and a dead letter."""
        batch = apply_inbound(payloads, self.mapping.mapping)
        frame = batch.frame.set_index(EXTERNAL_ID)
        for rejected in batch.rejected:
            session.add(DeadLetter(
                tenant_id=self.tenant_id, provider=self.feed.provider, entity=ENTITY, external_id=rejected.external_id,
                stage="map", error=rejected.error, payload=rejected.payload,
            ))  # fmt: skip
        stats.rejected += len(batch.rejected)
        row_of = {event_id: row for row, event_id in enumerate(frame.index.tolist())}
        rows = [row_of.get(event.event_id) for event in events]
        columns = {}
        for name in DESCRIPTIVE:  # by columns: no pandas call per row
            values = frame[name].tolist()
            columns[name] = [None if row is None else values[row] for row in rows]
        return columns

    # -- checkpoints -----------------------------------------------------------------------------

    def _load_state(self, calendar: CalendarRef) -> dict[str, Any] | None:
        with self.store.session() as session:
            checkpoint = session.get(CalendarCheckpoint, (self.integration_id, calendar.calendar_id))
            return dict(checkpoint.state) if checkpoint is not None else None

    def _save_state(self, session: Session, calendar: CalendarRef, state: dict[str, Any]) -> None:
        checkpoint = session.get(CalendarCheckpoint, (self.integration_id, calendar.calendar_id))
        if checkpoint is None:
            session.add(CalendarCheckpoint(
                integration_id=self.integration_id, calendar_id=calendar.calendar_id, tenant_id=self.tenant_id,
                provider=self.feed.provider, state=dict(state),
            ))  # fmt: skip
        else:
            checkpoint.state = dict(state)

    def _forget_calendars_except(self, kept: set[str]) -> int:
        """Calendars the account no longer lists (deleted, unshared): their events and checkpoints go."""
        with self.store.session() as session:
            known = set(session.scalars(
                select(CalendarCheckpoint.calendar_id).where(CalendarCheckpoint.integration_id == self.integration_id)
            ))  # fmt: skip
            gone = sorted(known - kept)
            for model in (CalendarRawEvent, CalendarEventRow, CalendarCheckpoint):
                table = table_of(model)
                for chunk in _chunks(gone):
                    session.execute(delete(table).where(
                        table.c.integration_id == self.integration_id, table.c.calendar_id.in_(chunk)
                    ))  # fmt: skip
        return len(gone)


def _chunks(values: Sequence[str] | Iterable[str]) -> Iterable[list[str]]:
    items = list(values)
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]
