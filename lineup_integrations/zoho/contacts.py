"""The mapping step of the contacts pipeline: raw Zoho records → Lineup contacts.

`ContactsMapper.run` works from the store only: it reads the raw records changed since its own
checkpoint (the `change_seq` the raw sync stamps on every page) in chunks, maps each chunk with
the tenant's active mapping (vectorised, pandas), upserts the contacts idempotently by (tenant,
provider, external id), deletes the contacts whose raw record was deleted, and puts records a
rule cannot transform into the dead-letter table. When the active mapping version differs from
the one the checkpoint was made with, it starts over from the first raw record: a mapping change
or rollback rebuilds every contact without one API call.

`SyncFollower` does the same work during a sync, on the records the sync has just parsed: the
sync tells it what each committed page changed, in that page's transaction, so a sync maps its
records without reading them back from the store. Both advance the same checkpoint.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pydantic import BaseModel
from sqlalchemy import Connection, CursorResult, Engine, Text, cast, delete, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from lineup_integrations.core.gc_freeze import older_objects_frozen
from lineup_integrations.core.mapping import (
    CONTACT_SCHEMA,
    EXTERNAL_ID,
    RejectedRecord,
    VersionedMapping,
    active_mapping,
    apply_inbound,
)
from lineup_integrations.core.read_ahead import read_ahead
from lineup_integrations.core.store import (
    BulkRows,
    Contact,
    DeadLetter,
    RawRecord,
    Same,
    Store,
    bulk_rows,
    bulk_upsert,
    load_stream_state,
    save_stream_state,
    table_of,
)

PROVIDER = "zoho"
ENTITY = "contacts"
STREAM = "contacts.mapped"
CHUNK_SIZE = 5000
CONTACT_COLUMNS = CONTACT_SCHEMA.field_names
# What a chunk reads of each raw record: plain columns, no ORM objects (100,000 of them cost seconds);
# the payload as its JSON text, decoded for the whole chunk in one orjson call.
RAW_COLUMNS = (
    RawRecord.change_seq,
    RawRecord.external_id,
    cast(RawRecord.payload, Text).label("payload"),
    RawRecord.deleted_at.is_not(None).label("deleted"),
    RawRecord.source_modified_at,
)
# A chunk's contacts are written with `bulk_upsert`: this key, and these columns updated.
CONTACT_KEY = ("tenant_id", "provider", EXTERNAL_ID)
CONTACT_UPDATED = (*CONTACT_COLUMNS, "mapping_version", "source_modified_at", "synced_at")


def applied_version(state: dict[str, Any]) -> tuple[int | None, int | None]:
    """The mapping a checkpoint was made with: the tenant's version, and the default file's own
    version when that is 0 — so a new shipped default rebuilds the tenants that use it."""
    return state.get("mapping_version"), state.get("default_version")


def applied_version_of(mapping: VersionedMapping) -> tuple[int, int | None]:
    return mapping.version, mapping.default_version


Keyset = tuple[int, str | None]  # (change number, external id) of a raw record


class MappedCursor(BaseModel):
    """The mapping step's checkpoint: the keyset (change number, external id) of the last raw record
    mapped; no external id means every record of that change number."""

    mapping_version: int | None = None
    default_version: int | None = None  # the shipped file's own version, while the tenant is on version 0
    after_seq: int = 0
    after_external_id: str | None = None

    @property
    def keyset(self) -> Keyset:
        return self.after_seq, self.after_external_id


@dataclass
class ContactQuality:
    total: int = 0
    duplicate_external_ids: int = 0
    without_email: int = 0


@dataclass
class MappedChunk:
    """One chunk of raw records, mapped and ready to write: contact rows to upsert, external ids
    whose contacts to delete, records the mapping rejected; `last` is the keyset checkpoint after it."""

    last: Keyset
    gone: list[str]
    contacts: BulkRows | None = None  # None when the chunk holds no live record
    rejected: list[RejectedRecord] = field(default_factory=list)


@dataclass
class MappingRunResult:
    """What mapping runs did; several runs (and a follower) of one step add up into one."""

    mapping_version: int = 0
    rebuilt: bool = False
    upserted: int = 0
    deleted: int = 0
    rejected: int = 0
    duration_s: float = 0.0


class ContactsMapper:
    def __init__(self, store: Store, tenant_id: str, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.chunk_size = chunk_size

    def run(self, result: MappingRunResult | None = None) -> MappingRunResult:
        """Map everything changed since the checkpoint (everything, after a mapping change); the
        counts are added to `result` when given."""
        with older_objects_frozen():
            return self._run(result or MappingRunResult())

    def _run(self, result: MappingRunResult) -> MappingRunResult:
        started = time.perf_counter()
        mapping, cursor, current = self._mapping_and_checkpoint()
        result.mapping_version = mapping.version
        if not current:
            result.rebuilt = cursor.mapping_version is not None
            cursor = MappedCursor(mapping_version=mapping.version, default_version=mapping.default_version)
        # The next chunk is read and mapped on a helper thread while this one is written.
        chunks = read_ahead(
            lambda after: self._map_chunk(after, mapping),
            cursor.keyset,
            lambda chunk: chunk.last if chunk else None,
            name="contacts-map",
        )
        for chunk in chunks:
            if chunk is None:
                break
            with self.store.session() as session:
                self.write_chunk(session, chunk, result)
                cursor.after_seq, cursor.after_external_id = chunk.last
                self.save_cursor(session, cursor)
        with self.store.session() as session:
            self.save_cursor(session, cursor)  # also records a new mapping version when nothing was left to map
        result.duration_s += time.perf_counter() - started
        return result

    def follower(self, result: MappingRunResult) -> SyncFollower | None:
        """A follower for the sync about to run, continuing from the checkpoint — which must cover
        every raw change so far (call `run` first). None when the active mapping is no longer the
        one the checkpoint was made with (it changed meanwhile): `run` after the sync does it all."""
        mapping, cursor, current = self._mapping_and_checkpoint()
        if not current:
            return None
        return SyncFollower(self, mapping, cursor, result, contacts_are_new=not self._has_contacts())

    def _has_contacts(self) -> bool:
        with self.store.engine.connect() as connection:
            return bool(
                connection.scalar(
                    select(exists().where(Contact.tenant_id == self.tenant_id, Contact.provider == PROVIDER))
                )
            )

    def _mapping_and_checkpoint(self) -> tuple[VersionedMapping, MappedCursor, bool]:
        """The active mapping, the checkpoint, and whether the checkpoint was made with that mapping."""
        mapping = active_mapping(self.store, self.tenant_id, PROVIDER, ENTITY)
        with self.store.session() as session:
            cursor = self._load_cursor(session)
        return mapping, cursor, applied_version(cursor.model_dump()) == applied_version_of(mapping)

    def _map_chunk(self, after: Keyset, mapping: VersionedMapping) -> MappedChunk | None:
        """The raw records after the keyset `after`, mapped; None when there are none left."""
        after_seq, after_external_id = after
        changed = (
            RawRecord.change_seq > after_seq
            if after_external_id is None
            else tuple_(RawRecord.change_seq, RawRecord.external_id) > tuple_(after_seq, after_external_id)
        )
        # A plain read, not a store session: on SQLite those take the write lock (BEGIN IMMEDIATE),
        # and the writer of the previous chunk would wait out the busy handler's sleeps for it.
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                select(*RAW_COLUMNS)
                .where(
                    RawRecord.tenant_id == self.tenant_id, RawRecord.provider == PROVIDER, RawRecord.entity == ENTITY,
                    changed,
                )
                .order_by(RawRecord.change_seq, RawRecord.external_id)
                .limit(self.chunk_size)
            ).all()  # fmt: skip
        if not rows:
            return None
        live = [row for row in rows if not row.deleted]
        chunk = MappedChunk(
            last=(rows[-1].change_seq, rows[-1].external_id), gone=[row.external_id for row in rows if row.deleted]
        )
        if live:
            payloads = orjson.loads("[" + ",".join(row.payload or "null" for row in live) + "]")
            modified_at = {row.external_id: row.source_modified_at for row in live}
            chunk.contacts, chunk.rejected = self.map_records(payloads, modified_at, mapping, connection)
        return chunk

    def map_records(
        self,
        payloads: list[dict[str, Any]],
        modified_at: Mapping[str, dt.datetime | None],
        mapping: VersionedMapping,
        bind: Connection | Engine,
    ) -> tuple[BulkRows, list[RejectedRecord]]:
        """Zoho records → contact rows, and the records a rule rejected. `modified_at`: each record's
        source modification time (aware) by external id. The rows hold plain values; the store
        encodes them for `bind`'s backend (`bulk_rows`) here, so that this per-row work is done
        wherever the mapping runs (while the chunk before is written, for a `SyncFollower`)."""
        batch = apply_inbound(payloads, mapping.mapping)
        mapped = _columns(batch.frame, (EXTERNAL_ID, *CONTACT_COLUMNS))
        contacts = bulk_rows(bind, table_of(Contact), {
            "tenant_id": Same(self.tenant_id), "provider": Same(PROVIDER), **mapped,
            "mapping_version": Same(mapping.version),
            "source_modified_at": list(map(modified_at.get, mapped[EXTERNAL_ID])),
            "synced_at": Same(dt.datetime.now(dt.UTC)),
        }, key=CONTACT_KEY)  # fmt: skip
        return contacts, batch.rejected

    def write_chunk(
        self,
        session: Session,
        chunk: MappedChunk,
        result: MappingRunResult,
        *,
        insert_first: bool = False,
        meanwhile: Callable[[], None] | None = None,
    ) -> None:
        """Delete the contacts of the chunk's deleted records, upsert its contacts (`insert_first`:
        they are most likely new; `meanwhile`: work run once while the database ingests them; see
        `bulk_upsert`) and dead-letter the records it rejected."""
        self.delete_contacts(session, chunk.gone, result)
        if chunk.contacts is not None:
            bulk_upsert(session, chunk.contacts, update=CONTACT_UPDATED, insert_first=insert_first, meanwhile=meanwhile)
            result.upserted += len(chunk.contacts)
        elif meanwhile is not None:
            meanwhile()
        self._dead_letter(session, chunk.rejected, result)

    def delete_contacts(self, session: Session, external_ids: Sequence[str], result: MappingRunResult) -> None:
        if external_ids:
            deleted: CursorResult[Any] = session.execute(  # type: ignore[assignment]  # a DELETE's result
                delete(Contact).where(
                    Contact.tenant_id == self.tenant_id,
                    Contact.provider == PROVIDER,
                    Contact.external_id.in_(external_ids),
                )
            )
            result.deleted += deleted.rowcount or 0

    def _dead_letter(self, session: Session, rejected: list[RejectedRecord], result: MappingRunResult) -> None:
        ids = [item.external_id for item in rejected]
        if not ids:
            return
        # A record rejected again replaces its open letter instead of piling up copies.
        session.execute(
            delete(DeadLetter).where(
                DeadLetter.tenant_id == self.tenant_id,
                DeadLetter.provider == PROVIDER,
                DeadLetter.entity == ENTITY,
                DeadLetter.stage == "map",
                DeadLetter.replayed_at.is_(None),
                DeadLetter.external_id.in_(ids),
            )
        )
        session.add_all(
            DeadLetter(tenant_id=self.tenant_id, provider=PROVIDER, entity=ENTITY, external_id=item.external_id,
                       stage="map", error=item.error, payload=item.payload)
            for item in rejected
        )  # fmt: skip
        result.rejected += len(ids)

    def quality(self) -> ContactQuality:
        """The asset checks' figures over the tenant's contacts (a plain read: no write lock)."""
        scope = (Contact.tenant_id == self.tenant_id, Contact.provider == PROVIDER)
        with self.store.engine.connect() as connection:
            total = connection.scalar(select(func.count()).where(*scope)) or 0
            duplicated = connection.scalar(
                select(func.count()).select_from(
                    select(Contact.external_id).where(*scope).group_by(Contact.external_id)
                    .having(func.count() > 1).subquery()
                )
            ) or 0  # fmt: skip
            without_email = (
                connection.scalar(select(func.count()).where(*scope, or_(Contact.email.is_(None), Contact.email == "")))
                or 0
            )
        return ContactQuality(total=total, duplicate_external_ids=duplicated, without_email=without_email)

    def _load_cursor(self, session: Session) -> MappedCursor:
        state = load_stream_state(session, tenant_id=self.tenant_id, provider=PROVIDER, stream=STREAM)
        return MappedCursor.model_validate(state) if state else MappedCursor()

    def save_cursor(self, session: Session, cursor: MappedCursor) -> None:
        save_stream_state(
            session, tenant_id=self.tenant_id, provider=PROVIDER, stream=STREAM, state=cursor.model_dump(mode="json")
        )


class SyncFollower:
    """Maps a sync's records as it lands them (the sync's `RawChangeListener`).

    The sync hands it each page's records before writing them (`prepare`, outside any
    transaction) and says in the page's transaction that they landed. Records are mapped in
    chunks of `chunk_size` (the mapping is vectorised: a chunk costs little more than a page).
    Mapping a chunk is client work and writing one is the database's, of about the same length,
    so each hides the other: once a chunk's worth of records is held, the chunk mapped before is
    written (the checkpoint moved to its end) in the transaction of the page that has just landed,
    while the records held are mapped into the next; so a chunk is written only after all its
    records have landed. Records held, or mapped and not yet written, when a run dies are mapped
    from the store by the next `ContactsMapper.run`.
    Deletions are applied at once, after the records held (which are older changes).
    `contacts_are_new`: the tenant had no contacts when the sync began (its first), so the records
    it lands map to new contacts."""

    def __init__(
        self,
        mapper: ContactsMapper,
        mapping: VersionedMapping,
        cursor: MappedCursor,
        result: MappingRunResult,
        *,
        contacts_are_new: bool = False,
    ) -> None:
        self.mapper = mapper
        self.mapping = mapping
        self.cursor = cursor
        self.result = result
        self.contacts_are_new = contacts_are_new
        self._pending: list[dict[str, Any]] = []
        self._pending_modified: dict[str, dt.datetime | None] = {}
        self._pending_seq = 0
        self._mapped: MappedChunk | None = None  # mapped, written with the next chunk's page

    def prepare(
        self, change_seq: int, records: list[dict[str, Any]], modified_at: Mapping[str, dt.datetime | None]
    ) -> None:
        """Hold the page's records (mapped in chunks, see `landed`)."""
        self._pending.extend(records)
        self._pending_modified.update(modified_at)
        self._pending_seq = change_seq

    def landed(self, session: Session, prepared: None) -> None:
        if len(self._pending) >= self.mapper.chunk_size:
            self._write_mapped_and_map_pending(session)

    def deleted(self, session: Session, change_seq: int, external_ids: Sequence[str]) -> None:
        self.flush(session)
        self.mapper.delete_contacts(session, external_ids, self.result)
        self._checkpoint(session, change_seq)

    def flush(self, session: Session) -> None:
        """Map and write every record held now (the sync calls it before its pass ends)."""
        self._write_mapped_and_map_pending(session)
        self._write_mapped_and_map_pending(session)  # what the first call mapped

    def _write_mapped_and_map_pending(self, session: Session) -> None:
        """Write the mapped chunk, if any, while the pending records, if any, are mapped into the next."""
        started = time.perf_counter()
        written, self._mapped = self._mapped, None
        if written is None:
            self._map_pending()
        else:
            self.mapper.write_chunk(
                session, written, self.result, insert_first=self.contacts_are_new, meanwhile=self._map_pending
            )
            self._checkpoint(session, written.last[0])
        self.result.duration_s += time.perf_counter() - started

    def _map_pending(self) -> None:
        if not self._pending:
            return
        contacts, rejected = self.mapper.map_records(
            self._pending, self._pending_modified, self.mapping, self.mapper.store.engine
        )
        self._mapped = MappedChunk(last=(self._pending_seq, None), gone=[], contacts=contacts, rejected=rejected)
        self._pending, self._pending_modified = [], {}

    def _checkpoint(self, session: Session, change_seq: int) -> None:
        self.cursor.after_seq, self.cursor.after_external_id = change_seq, None
        self.mapper.save_cursor(session, self.cursor)


def _columns(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, list[Any]]:
    """The frame's columns as lists of Python values, with None for every missing marker (NaN included)."""
    columns = {}
    for name in names:
        values = frame[name].to_numpy(dtype=object)
        columns[name] = list(np.where(pd.isna(values), None, values))
    return columns
