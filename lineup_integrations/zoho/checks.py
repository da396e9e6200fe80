"""The figures behind the `contacts` asset checks, read from the store after each step.

Each check can fail on a real defect, unlike a restatement of a primary key:

- `raw_records_mapped`: every live raw record has a contact, or an open dead letter saying why it
  has none, and no contact outlives its raw record. A mapping checkpoint that skipped records, or
  a deletion that never reached the contacts, fails it.
- `no_open_dead_letters`: records set aside (a rule could not transform them, a write failed) and
  not replayed yet. They are not lost, but someone has to look at them: a warning with the count.
- `synced_recently`: the tenant's last successful sync is at most two schedule intervals old; a
  tenant whose syncs keep failing, or are no longer scheduled, fails it.

Plain reads on a connection of their own (no write lock), like `ContactsMapper.quality`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, select

from lineup_integrations.core.store import TENANT_WIDE, Contact, DeadLetter, Integration, RawRecord, Store
from lineup_integrations.zoho.contacts import ENTITY, PROVIDER

SYNC_INTERVAL = dt.timedelta(minutes=15)
"""How often `zoho_periodic_sync` syncs each tenant (its cron is derived from this)."""
STALE_AFTER = 2 * SYNC_INTERVAL
"""A sync older than this means at least one scheduled sync in a row did not succeed."""


@dataclass(frozen=True)
class RawVersusContacts:
    live_raw: int
    contacts: int
    unmapped: int  # live raw records with neither a contact nor an open dead letter
    orphaned: int  # contacts whose raw record is deleted or gone

    @property
    def consistent(self) -> bool:
        return self.unmapped == 0 and self.orphaned == 0


def raw_versus_contacts(store: Store, tenant_id: str) -> RawVersusContacts:
    raw_scope = (RawRecord.tenant_id == tenant_id, RawRecord.provider == PROVIDER, RawRecord.entity == ENTITY)
    contact_scope = (Contact.tenant_id == tenant_id, Contact.provider == PROVIDER)
    has_contact = exists().where(*contact_scope, Contact.external_id == RawRecord.external_id)
    dead_lettered = exists().where(
        DeadLetter.tenant_id == tenant_id, DeadLetter.provider == PROVIDER, DeadLetter.entity == ENTITY,
        DeadLetter.replayed_at.is_(None), DeadLetter.external_id == RawRecord.external_id,
    )  # fmt: skip
    live_raw = exists().where(*raw_scope, RawRecord.deleted_at.is_(None), RawRecord.external_id == Contact.external_id)
    with store.engine.connect() as connection:
        live = connection.scalar(select(func.count()).where(*raw_scope, RawRecord.deleted_at.is_(None))) or 0
        contacts = connection.scalar(select(func.count()).where(*contact_scope)) or 0
        unmapped = connection.scalar(select(func.count()).where(
            *raw_scope, RawRecord.deleted_at.is_(None), and_(~has_contact, ~dead_lettered))) or 0  # fmt: skip
        orphaned = connection.scalar(select(func.count()).where(*contact_scope, ~live_raw)) or 0
    return RawVersusContacts(live_raw=live, contacts=contacts, unmapped=unmapped, orphaned=orphaned)


def open_dead_letters(store: Store, tenant_id: str) -> dict[str, int]:
    """Open (not replayed) dead letters of the tenant's Zoho records, counted by stage."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(DeadLetter.stage, func.count())
            .where(DeadLetter.tenant_id == tenant_id, DeadLetter.provider == PROVIDER,
                   DeadLetter.replayed_at.is_(None))
            .group_by(DeadLetter.stage)
        ).all()  # fmt: skip
    return {stage: count for stage, count in rows}


def last_synced_at(store: Store, tenant_id: str) -> dt.datetime | None:
    """When the tenant's last sync finished (set by the sync's final transaction), None if never."""
    with store.engine.connect() as connection:
        return connection.scalar(
            select(Integration.last_synced_at).where(Integration.tenant_id == tenant_id,
                                                     Integration.provider == PROVIDER,
                                                     Integration.user_id == TENANT_WIDE)
        )  # fmt: skip
