"""The mapping step of the contacts pipeline: raw Zoho records → Lineup contacts, from the store only.

It reads raw records changed since its own checkpoint (the `change_seq` the raw sync stamps on
every page) in chunks, maps each chunk with the tenant's active mapping (vectorised, pandas),
upserts the contacts idempotently by (tenant, provider, external id), deletes the contacts whose
raw record was deleted, and puts records a rule cannot transform into the dead-letter table.
When the active mapping version differs from the one the checkpoint was made with, the step
starts over from the first raw record: a mapping change or rollback rebuilds every contact
without one API call.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pydantic import BaseModel
from sqlalchemy import Text, cast, delete, func, or_, select, tuple_
from sqlalchemy.orm import Session

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
    Contact,
    DeadLetter,
    RawRecord,
    Store,
    bulk_upsert,
    db_datetime,
    load_stream_state,
    save_stream_state,
)

PROVIDER = "zoho"
ENTITY = "contacts"
STREAM = "contacts.mapped"
CHUNK_SIZE = 5000
CONTACT_COLUMNS = CONTACT_SCHEMA.field_names
# What a chunk reads of each raw record: plain columns, no ORM objects (100,000 of them cost seconds);
# the payload as its JSON text, decoded for the whole chunk in one orjson call.
RAW_COLUMNS = (RawRecord.id, RawRecord.change_seq, RawRecord.external_id, cast(RawRecord.payload, Text).label("payload"),
               RawRecord.deleted_at.is_not(None).label("deleted"), RawRecord.source_modified_at)
# A chunk's contacts are written with `bulk_upsert`: these columns in this order.
CONTACT_KEY = ("tenant_id", "provider", EXTERNAL_ID)
CONTACT_WRITE_COLUMNS = (*CONTACT_KEY, *CONTACT_COLUMNS, "mapping_version", "source_modified_at", "synced_at")


def applied_version(state: dict[str, Any]) -> tuple[int | None, int | None]:
    """The mapping a checkpoint was made with: the tenant's version, and the default file's own
    version when that is 0 — so a new shipped default rebuilds the tenants that use it."""
    return state.get("mapping_version"), state.get("default_version")


def applied_version_of(mapping: VersionedMapping) -> tuple[int, int | None]:
    return mapping.version, mapping.default_version


class MappedCursor(BaseModel):
    mapping_version: int | None = None
    default_version: int | None = None  # the shipped file's own version, while the tenant is on version 0
    after_seq: int = 0
    after_id: int = 0


@dataclass
class ContactQuality:
    total: int = 0
    duplicate_external_ids: int = 0
    without_email: int = 0


@dataclass
class MappedChunk:
    """One chunk of raw records, mapped and ready to write: contact rows to upsert, external ids
    whose contacts to delete, records the mapping rejected; `last` is the keyset checkpoint after it."""

    last: tuple[int, int]
    gone: list[str]
    contacts: list[tuple[Any, ...]] = field(default_factory=list)  # in CONTACT_WRITE_COLUMNS order
    rejected: list[RejectedRecord] = field(default_factory=list)


@dataclass
class MappingRunResult:
    mapping_version: int = 0
    rebuilt: bool = False
    upserted: int = 0
    deleted: int = 0
    rejected: int = 0
    duration_s: float = 0.0
    quality: ContactQuality = field(default_factory=ContactQuality)


class ContactsMapper:
    def __init__(self, store: Store, tenant_id: str, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.chunk_size = chunk_size

    def run(self) -> MappingRunResult:
        started = time.perf_counter()
        mapping = active_mapping(self.store, self.tenant_id, PROVIDER, ENTITY)
        with self.store.session() as session:
            cursor = self._load_cursor(session)
        result = MappingRunResult(mapping_version=mapping.version)
        if applied_version(cursor.model_dump()) != applied_version_of(mapping):
            result.rebuilt = cursor.mapping_version is not None
            cursor = MappedCursor(mapping_version=mapping.version, default_version=mapping.default_version)
        # The next chunk is read and mapped on a helper thread while this one is written.
        chunks = read_ahead(lambda after: self._map_chunk(after, mapping), (cursor.after_seq, cursor.after_id),
                            lambda chunk: chunk.last if chunk else None, name="contacts-map")
        for chunk in chunks:
            if chunk is None:
                break
            with self.store.session() as session:
                self._write_chunk(session, chunk, result)
                cursor.after_seq, cursor.after_id = chunk.last
                self._save_cursor(session, cursor)
        with self.store.session() as session:
            self._save_cursor(session, cursor)  # also records a new mapping version when nothing was left to map
            result.quality = self.quality(session)
        result.duration_s = time.perf_counter() - started
        return result

    def _map_chunk(self, after: tuple[int, int], mapping: VersionedMapping) -> MappedChunk | None:
        """The raw records after the keyset `after`, mapped; None when there are none left."""
        # A plain read, not a store session: on SQLite those take the write lock (BEGIN IMMEDIATE),
        # and the writer of the previous chunk would wait out the busy handler's sleeps for it.
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                select(*RAW_COLUMNS)
                .where(
                    RawRecord.tenant_id == self.tenant_id, RawRecord.provider == PROVIDER, RawRecord.entity == ENTITY,
                    tuple_(RawRecord.change_seq, RawRecord.id) > tuple_(*after),
                )
                .order_by(RawRecord.change_seq, RawRecord.id)
                .limit(self.chunk_size)
            ).all()  # fmt: skip
        if not rows:
            return None
        live = [row for row in rows if not row.deleted]
        chunk = MappedChunk(last=(rows[-1].change_seq, rows[-1].id),
                            gone=[row.external_id for row in rows if row.deleted])
        if live:
            payloads = orjson.loads("[" + ",".join(row.payload or "null" for row in live) + "]")
            batch = apply_inbound(payloads, mapping.mapping)
            external_ids, *values = _columns(batch.frame, (EXTERNAL_ID, *CONTACT_COLUMNS))
            to_db = db_datetime(connection)
            modified_at = {row.external_id: row.source_modified_at for row in live}
            prefix = (self.tenant_id, PROVIDER)
            suffix = (mapping.version,)
            synced_at = to_db(dt.datetime.now(dt.UTC))
            chunk.contacts = [
                (*prefix, external_id, *columns, *suffix, to_db(modified_at.get(external_id)), synced_at)
                for external_id, *columns in zip(external_ids, *values)
            ]
            chunk.rejected = batch.rejected
        return chunk

    def _write_chunk(self, session: Session, chunk: MappedChunk, result: MappingRunResult) -> None:
        if chunk.gone:
            result.deleted += session.execute(
                delete(Contact).where(Contact.tenant_id == self.tenant_id, Contact.provider == PROVIDER,
                                      Contact.external_id.in_(chunk.gone))
            ).rowcount or 0
        bulk_upsert(session, Contact.__table__, CONTACT_WRITE_COLUMNS, chunk.contacts, key=CONTACT_KEY,
                    update=CONTACT_WRITE_COLUMNS[len(CONTACT_KEY):])
        result.upserted += len(chunk.contacts)
        self._dead_letter(session, chunk.rejected, result)

    def _dead_letter(self, session: Session, rejected: list[RejectedRecord], result: MappingRunResult) -> None:
        ids = [item.external_id for item in rejected]
        if not ids:
            return
        # A record rejected again replaces its open letter instead of piling up copies.
        session.execute(
            delete(DeadLetter).where(DeadLetter.tenant_id == self.tenant_id, DeadLetter.provider == PROVIDER,
                                     DeadLetter.entity == ENTITY, DeadLetter.stage == "map",
                                     DeadLetter.replayed_at.is_(None), DeadLetter.external_id.in_(ids))
        )
        session.add_all(
            DeadLetter(tenant_id=self.tenant_id, provider=PROVIDER, entity=ENTITY, external_id=item.external_id,
                       stage="map", error=item.error, payload=item.payload)
            for item in rejected
        )  # fmt: skip
        result.rejected += len(ids)

    def quality(self, session: Session) -> ContactQuality:
        scope = (Contact.tenant_id == self.tenant_id, Contact.provider == PROVIDER)
        total = session.scalar(select(func.count()).where(*scope)) or 0
        duplicated = session.scalar(
            select(func.count()).select_from(
                select(Contact.external_id).where(*scope).group_by(Contact.external_id)
                .having(func.count() > 1).subquery()
            )
        ) or 0  # fmt: skip
        without_email = session.scalar(
            select(func.count()).where(*scope, or_(Contact.email.is_(None), Contact.email == ""))
        ) or 0
        return ContactQuality(total=total, duplicate_external_ids=duplicated, without_email=without_email)

    def _load_cursor(self, session: Session) -> MappedCursor:
        state = load_stream_state(session, tenant_id=self.tenant_id, provider=PROVIDER, stream=STREAM)
        return MappedCursor.model_validate(state) if state else MappedCursor()

    def _save_cursor(self, session: Session, cursor: MappedCursor) -> None:
        save_stream_state(session, tenant_id=self.tenant_id, provider=PROVIDER, stream=STREAM,
                          state=cursor.model_dump(mode="json"))


def _columns(frame: pd.DataFrame, names: Sequence[str]) -> list[np.ndarray]:
    """The frame's columns as object arrays with None for every missing marker (NaN included)."""
    arrays = []
    for name in names:
        values = frame[name].to_numpy(dtype=object)
        arrays.append(np.where(pd.isna(values), None, values))
    return arrays
