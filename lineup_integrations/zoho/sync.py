"""Incremental, resumable sync of a tenant's Zoho contacts into the store's raw records.

A sync is a *pass* in two phases, deleted records first (so a record restored from the recycle
bin and then edited ends live), then changed records. The pass state — phase, the next page to
fetch, the newest `Modified_Time` seen — is checkpointed in `sync_cursors` in the same
transaction as each page's records, so a run killed at any point resumes at the first page it
had not committed, with no duplicate (records are upserted by id) and nothing lost.

Fetching overlaps writing: the next pages are requested while the current one is written, and
the next page is prepared (its rows built and encoded by the store) while the database ingests
this one.
A `RawChangeListener` (the mapping step's `SyncFollower`) is told, in each transaction, what
that transaction changed, so it can map the records the sync has already parsed.

- incremental (default): `If-Modified-Since` = the newest `Modified_Time` already stored (Zoho
  returns records modified strictly after it, so nothing is fetched twice and the call count
  is the minimum, ceil(changed / per_page)); deleted records since the newest deletion seen.
  With no change this costs exactly two calls (both answer 304 or 204). Zoho's times have a
  one-second grain: an edit landing in the very second of the watermark, after it was read,
  is caught by the next full refresh (`full_refresh` run config).
- full refresh (run config, or the first sync): every record; afterwards any stored record not
  seen in the pass is marked deleted (the pass saw the whole dataset, so absence means deletion).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, CursorResult, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from lineup_integrations.core.deferred import Deferred
from lineup_integrations.core.gc_freeze import older_objects_frozen
from lineup_integrations.core.http import ApiError
from lineup_integrations.core.read_ahead import read_ahead
from lineup_integrations.core.store import (
    TENANT_WIDE,
    BulkRows,
    Integration,
    RawRecord,
    Same,
    Store,
    bulk_rows,
    bulk_upsert,
    load_stream_state,
    save_stream_state,
    table_of,
)
from lineup_integrations.zoho.client import ZohoClient
from lineup_integrations.zoho.models import ContactPage, DeletedPage, DeletedRecord, PagePosition

PROVIDER = "zoho"
ENTITY = "contacts"
STREAM = "contacts"
# On a first (full) sync, deletions older than this before its start are already reflected by the listing.
FIRST_DELETED_WATERMARK_MARGIN = dt.timedelta(minutes=5)
# A page-token chain that cannot go on: past Zoho's 100,000-record reach, or tokens expired (24 h)
# or bound to other parameters (a resumed pass). The pass continues with a fresh chain.
# Pages fetched ahead of the one being written: the fetch runs while a page is written, and a slow
# page on one side (a retried call, a commit that checkpoints the WAL) does not stall the other.
PAGES_AHEAD = 2
CHAIN_ENDED_CODES = frozenset({"PAGINATION_LIMIT_EXCEEDED", "EXPIRED_VALUE", "TOKEN_BOUND_DATA_MISMATCH"})
CONTACT_FIELDS: tuple[str, ...] = (
    "First_Name", "Last_Name", "Full_Name", "Email", "Secondary_Email", "Phone", "Mobile", "Title",
    "Department", "Account_Name", "Owner", "Mailing_City", "Mailing_Country", "Created_Time", "Modified_Time",
)  # fmt: skip
# A page's raw records are written with `bulk_upsert`: this key, and these columns updated.
RAW_KEY = ("tenant_id", "provider", "entity", "external_id")
RAW_UPDATED = ("payload", "source_modified_at", "deleted_at", "change_seq", "fetched_at")


class RawChangeListener(Protocol):
    """Follows the raw records' changes as the sync commits them: told of each page before it is
    written (`prepare`) and, inside the transaction that writes it, after (`landed`); likewise of
    deletions (`deleted`). `change_seq` grows with each page and each deletion."""

    def prepare(
        self, change_seq: int, records: list[dict[str, Any]], modified_at: Mapping[str, dt.datetime | None]
    ) -> Any:
        """A page's `records` are about to be upserted (`modified_at`: their `source_modified_at`
        by id, aware UTC datetimes): do the work that needs no database. It runs outside any
        transaction, perhaps while the page before is being written; pages come in order, and
        what it returns goes to `landed` in the transaction that writes them."""

    def landed(self, session: Session, prepared: Any) -> None:
        """The page `prepare` saw was upserted in this transaction."""

    def deleted(self, session: Session, change_seq: int, external_ids: Sequence[str]) -> None: ...

    def flush(self, session: Session) -> None:
        """The records phase is over: anything the listener holds back must be written now."""


class PassState(BaseModel):
    mode: Literal["full", "incremental"]
    phase: Literal["deleted", "records"]
    started_at: dt.datetime
    modified_since: dt.datetime | None = None
    deleted_since: dt.datetime | None = None
    position: PagePosition = PagePosition()
    max_modified: dt.datetime | None = None
    max_deleted: dt.datetime | None = None


class ContactsCursor(BaseModel):
    """The durable state of one tenant's contacts stream (`sync_cursors.state`)."""

    watermark: dt.datetime | None = None
    deleted_watermark: dt.datetime | None = None
    current_pass: PassState | None = None


@dataclass
class SyncStats:
    mode: str = "incremental"
    resumed: bool = False
    pages: int = 0
    fetched: int = 0
    upserted: int = 0
    deleted: int = 0
    duration_s: float = 0.0
    watermark: dt.datetime | None = None


def load_cursor(session: Session, tenant_id: str) -> ContactsCursor:
    state = load_stream_state(session, tenant_id=tenant_id, provider=PROVIDER, stream=STREAM)
    return ContactsCursor.model_validate(state) if state else ContactsCursor()


def _save_cursor(session: Session, tenant_id: str, cursor: ContactsCursor) -> None:
    save_stream_state(
        session, tenant_id=tenant_id, provider=PROVIDER, stream=STREAM, state=cursor.model_dump(mode="json")
    )


AnyPage = TypeVar("AnyPage", ContactPage, DeletedPage)


@dataclass
class _PreparedPage:
    """A page of changed records made ready to write (`ContactsSync._prepare_page`)."""

    following: PagePosition | None  # where the page after it starts; None after the last
    fetched: int = 0
    rows: BulkRows | None = None  # None: the page holds no record
    newest: dt.datetime | None = None  # the newest Modified_Time among its records
    for_listener: Any = None  # what the listener prepared for the page's transaction


def _position_after(page: ContactPage | DeletedPage | None) -> PagePosition | None:
    return page.next_position() if page is not None else None


def parse_zoho_time(value: str | None) -> dt.datetime | None:
    """Zoho times carry the organisation's offset (`2023-10-15T14:20:00+05:30`); the store keeps UTC."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


class ContactsSync:
    """Runs one pass (or resumes one) for one tenant. Not thread-safe; one per run."""

    def __init__(
        self,
        store: Store,
        client: ZohoClient,
        tenant_id: str,
        *,
        per_page: int = 200,
        listener: RawChangeListener | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        if not 100 <= per_page <= 200:
            raise ValueError("per_page must be between 100 and 200 (Zoho's page size limit is 200)")
        self.store = store
        self.client = client
        self.tenant_id = tenant_id
        self.per_page = per_page
        self.listener = listener
        self.clock = clock
        self._connection: Connection | None = None  # held while a pass runs

    def run(self, *, full_refresh: bool = False, since: dt.datetime | None = None) -> SyncStats:
        # One connection for the pass's transactions.
        with older_objects_frozen(), self.store.connection() as self._connection:
            try:
                return self._run(full_refresh=full_refresh, since=since)
            finally:
                self._connection = None

    def _transaction(self) -> contextlib.AbstractContextManager[Session]:
        return self.store.session(on=self._connection)

    def _held_connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("ContactsSync: a page was prepared outside a pass (run() holds the connection)")
        return self._connection

    def _run(self, *, full_refresh: bool, since: dt.datetime | None) -> SyncStats:
        started = time.perf_counter()
        with self._transaction() as session:
            cursor = load_cursor(session, self.tenant_id)
            self._seq = self._last_change_seq(session)
        # Nothing stored yet (a first sync): the records are new, which lets the store insert them plainly.
        self._records_are_new = self._seq == 0
        stats = SyncStats()
        requested_full = full_refresh or cursor.watermark is None
        if cursor.current_pass is not None and (cursor.current_pass.mode == "full") == requested_full and since is None:
            stats.resumed = True  # a crashed attempt left a pass: carry on from its checkpoint
        else:
            cursor.current_pass = self._new_pass(cursor, full=requested_full, since=since)
        current = cursor.current_pass
        stats.mode = current.mode
        if current.phase == "deleted":
            self._deleted_phase(cursor, stats)
        self._records_phase(cursor, stats)
        self._finish(cursor, stats)
        stats.duration_s = time.perf_counter() - started
        stats.watermark = cursor.watermark
        return stats

    def _new_pass(self, cursor: ContactsCursor, *, full: bool, since: dt.datetime | None) -> PassState:
        now = self.clock()
        if full:
            return PassState(mode="full", phase="records", started_at=now)
        return PassState(
            mode="incremental",
            phase="deleted",
            started_at=now,
            modified_since=since or cursor.watermark,
            deleted_since=since or cursor.deleted_watermark or now,
        )

    def _last_change_seq(self, session: Session) -> int:
        return (
            session.scalar(
                select(func.coalesce(func.max(RawRecord.change_seq), 0)).where(
                    RawRecord.tenant_id == self.tenant_id, RawRecord.provider == PROVIDER, RawRecord.entity == ENTITY
                )
            )
            or 0
        )

    # -- paging with read-ahead ---------------------------------------------------------------------

    def _pages(
        self, fetch: Callable[[PagePosition], AnyPage | None], start: PagePosition
    ) -> Generator[tuple[AnyPage | None, PagePosition | None], None, None]:
        """Yield (page, position after it); the next pages are fetched while the caller writes this one."""
        pages = read_ahead(fetch, start, _position_after, depth=PAGES_AHEAD, name="zoho-prefetch")
        for page in pages:
            yield page, _position_after(page)

    # -- phases ------------------------------------------------------------------------------------

    def _deleted_phase(self, cursor: ContactsCursor, stats: SyncStats) -> None:
        current = cursor.current_pass
        assert current is not None

        def fetch(position: PagePosition) -> DeletedPage | None:
            return self.client.deleted_page(
                page=position.page, per_page=self.per_page, modified_since=current.deleted_since
            )

        for page, following in self._pages(fetch, current.position):
            with self._transaction() as session:
                stats.pages += 1
                if page is not None:
                    stats.deleted += self._mark_deleted(session, page.records)
                    for record in page.records:
                        deleted_at = record.deleted_time.astimezone(dt.UTC)
                        if current.max_deleted is None or deleted_at > current.max_deleted:
                            current.max_deleted = deleted_at
                if following is None:
                    current.phase, current.position = "records", PagePosition()
                else:
                    current.position = following
                _save_cursor(session, self.tenant_id, cursor)

    def _records_phase(self, cursor: ContactsCursor, stats: SyncStats) -> None:
        current = cursor.current_pass
        assert current is not None

        def fetch(position: PagePosition) -> ContactPage | None:
            return self.client.contacts_page(
                fields=CONTACT_FIELDS,
                per_page=self.per_page,
                page=None if position.page_token else position.page,
                page_token=position.page_token,
                modified_since=current.modified_since,
                sort_by="Modified_Time",
                sort_order="asc",
            )

        while True:
            try:
                with contextlib.closing(self._pages(fetch, current.position)) as pages:
                    self._write_pages(pages, cursor, stats)
                return
            except ApiError as error:
                if error.code not in CHAIN_ENDED_CODES:
                    raise
                stats.pages += 1
                self._restart_chain(cursor)

    def _write_pages(
        self, pages: Iterator[tuple[ContactPage | None, PagePosition | None]], cursor: ContactsCursor, stats: SyncStats
    ) -> None:
        """Write each page with the checkpoint after it, one transaction each. A page is prepared
        (rows built and encoded by the store, records handed to the listener) while the database ingests
        the one before it; a failure to fetch or prepare it surfaces only once the page before is
        committed."""
        current = cursor.current_pass
        assert current is not None

        def prepare_next() -> _PreparedPage | None:
            return self._prepare_page(next(pages, None))

        upcoming = Deferred(prepare_next)
        while (prepared := upcoming.result()) is not None:
            upcoming = Deferred(prepare_next)
            with self._transaction() as session:
                stats.pages += 1
                self._write_page(session, prepared, stats, meanwhile=upcoming.run)
                if prepared.newest and (current.max_modified is None or prepared.newest > current.max_modified):
                    current.max_modified = prepared.newest
                if prepared.following is not None:
                    current.position = prepared.following
                _save_cursor(session, self.tenant_id, cursor)

    def _restart_chain(self, cursor: ContactsCursor) -> None:
        """A page-token chain ends at 100,000 records (and its tokens after a day): continue with a new
        chain from the newest time already stored. Records are sorted by `Modified_Time` ascending,
        so nothing after that time was missed; the second before it is fetched again (idempotent)."""
        current = cursor.current_pass
        assert current is not None
        if current.max_modified is not None:
            current.modified_since = current.max_modified - dt.timedelta(seconds=1)
        current.position = PagePosition()
        with self._transaction() as session:
            _save_cursor(session, self.tenant_id, cursor)

    def _prepare_page(self, fetched: tuple[ContactPage | None, PagePosition | None] | None) -> _PreparedPage | None:
        """A fetched page made ready to write: everything that needs no database. None past the last."""
        if fetched is None:
            return None
        page, following = fetched
        prepared = _PreparedPage(following)
        if page is None or not page.records:
            return prepared
        seq = self._next_seq()
        external_ids = [str(record["id"]) for record in page.records]
        modified = [parse_zoho_time(record.get("Modified_Time")) for record in page.records]
        prepared.newest = max(filter(None, modified), default=None)
        prepared.fetched = len(page.records)
        # Plain values: the store encodes them (JSON, datetimes) for its backend, here, off the write.
        prepared.rows = bulk_rows(self._held_connection(), table_of(RawRecord), {
            "tenant_id": Same(self.tenant_id), "provider": Same(PROVIDER), "entity": Same(ENTITY),
            "external_id": external_ids, "payload": page.records, "source_modified_at": modified,
            "deleted_at": Same(None), "change_seq": Same(seq), "fetched_at": Same(dt.datetime.now(dt.UTC)),
        }, key=RAW_KEY)  # fmt: skip
        if self.listener is not None:
            prepared.for_listener = self.listener.prepare(
                seq, page.records, dict(zip(external_ids, modified, strict=True))
            )
        return prepared

    def _write_page(
        self, session: Session, prepared: _PreparedPage, stats: SyncStats, *, meanwhile: Callable[[], None]
    ) -> None:
        """`prepared`'s records upserted (and the listener told), `meanwhile` run during the write."""
        if prepared.rows is None:
            meanwhile()
            return
        bulk_upsert(session, prepared.rows, update=RAW_UPDATED, insert_first=self._records_are_new, meanwhile=meanwhile)
        if self.listener is not None:
            self.listener.landed(session, prepared.for_listener)
        stats.fetched += prepared.fetched
        stats.upserted += len(prepared.rows)

    def _mark_deleted(self, session: Session, records: list[DeletedRecord]) -> int:
        """Tombstone the stored records among `records` (ids we never stored are ignored); one round trip."""
        deleted_at = {record.id: record.deleted_time.astimezone(dt.UTC) for record in records}
        live = session.scalars(
            select(RawRecord.external_id).where(
                RawRecord.tenant_id == self.tenant_id, RawRecord.provider == PROVIDER, RawRecord.entity == ENTITY,
                RawRecord.external_id.in_(deleted_at), RawRecord.deleted_at.is_(None),
            )
        ).all()  # fmt: skip
        if not live:
            return 0
        seq = self._next_seq()
        table = table_of(RawRecord)
        session.connection().execute(
            update(table)
            .where(
                table.c.tenant_id == self.tenant_id,
                table.c.provider == PROVIDER,
                table.c.entity == ENTITY,
                table.c.external_id == bindparam("b_external_id"),
            )
            .values(deleted_at=bindparam("b_deleted_at"), change_seq=seq),
            [{"b_external_id": external_id, "b_deleted_at": deleted_at[external_id]} for external_id in live],
        )
        if self.listener is not None:
            self.listener.deleted(session, seq, live)
        return len(live)

    def _next_seq(self) -> int:
        """Every committed page gets the next change number; the mapping step reads 'changed since N'."""
        self._seq += 1
        return self._seq

    def _finish(self, cursor: ContactsCursor, stats: SyncStats) -> None:
        current = cursor.current_pass
        assert current is not None
        with self._transaction() as session:
            if self.listener is not None:
                self.listener.flush(session)
            if current.mode == "full":
                # The pass saw every live record: whatever it did not see was deleted at the source.
                seq = self._next_seq()
                result: CursorResult[Any] = session.execute(  # type: ignore[assignment]  # an UPDATE's
                    update(RawRecord)
                    .where(and_(
                        RawRecord.tenant_id == self.tenant_id, RawRecord.provider == PROVIDER,
                        RawRecord.entity == ENTITY, RawRecord.deleted_at.is_(None),
                        RawRecord.fetched_at < current.started_at,
                    ))
                    .values(deleted_at=dt.datetime.now(dt.UTC), change_seq=seq)
                )  # fmt: skip
                stats.deleted += result.rowcount or 0
                cursor.deleted_watermark = current.started_at - FIRST_DELETED_WATERMARK_MARGIN
            if current.max_deleted and (
                cursor.deleted_watermark is None or current.max_deleted > cursor.deleted_watermark
            ):
                cursor.deleted_watermark = current.max_deleted
            if current.max_modified and (cursor.watermark is None or current.max_modified > cursor.watermark):
                cursor.watermark = current.max_modified
            elif cursor.watermark is None:
                cursor.watermark = current.started_at - FIRST_DELETED_WATERMARK_MARGIN
            cursor.current_pass = None
            _save_cursor(session, self.tenant_id, cursor)
            session.execute(
                update(Integration)
                .where(
                    Integration.tenant_id == self.tenant_id,
                    Integration.provider == PROVIDER,
                    Integration.user_id == TENANT_WIDE,
                )
                .values(last_synced_at=dt.datetime.now(dt.UTC))
            )
