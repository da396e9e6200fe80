"""Forgetting what one tenant synced from one provider, when its connection now points at another account.

A tenant that reconnects a provider to a *different* account (another Zoho organisation, another
Google or Microsoft user) must not keep the old account's records: incremental cursors would
resume the old account's change stream against the new one, and the old records would stay
mapped as if they belonged to it. `reset_synced_data` deletes, in the caller's transaction (the
one that saves the new connection, so there is never a connected account with the other
account's data), everything synced for that (tenant, provider): cursors, raw records, mapped
contacts, dead letters of those records and the provider's cached field metadata. The tenant's
configuration (mapping versions, the active mapping) and its API usage are kept: they describe
the tenant, not the account. With the cursors gone, the next sync is a full sync.

A per-user integration (one interviewer's calendar) is reset alone: `reset_account_data`.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import CursorResult, Table, delete
from sqlalchemy.orm import Session

from lineup_integrations.core.store.models import (
    Base,
    BusyBlock,
    CalendarCheckpoint,
    CalendarEventRow,
    CalendarRawEvent,
    Contact,
    DeadLetter,
    ProviderFieldCache,
    RawRecord,
    SyncCursor,
)

SYNCED_DATA: tuple[type[Base], ...] = (SyncCursor, RawRecord, Contact, DeadLetter, ProviderFieldCache)
"""The tables holding what was synced from an account, each keyed by `tenant_id` and `provider`."""


def reset_synced_data(session: Session, *, tenant_id: str, provider: str) -> dict[str, int]:
    """Delete the tenant's synced data from `provider` (see the module docstring), in the caller's
    transaction; returns the number of rows deleted per table (for the audit entry)."""
    return {
        name: count
        for model in SYNCED_DATA
        for name, count in _delete(session, model, tenant_id=tenant_id, provider=provider).items()
    }


ACCOUNT_DATA: tuple[type[Base], ...] = (CalendarCheckpoint, CalendarRawEvent, CalendarEventRow)
"""The tables holding what was synced from one user's account, each keyed by `integration_id`."""


def reset_account_data(session: Session, *, integration_id: str, tenant_id: str, user_id: str) -> dict[str, int]:
    """`reset_synced_data` for one user's integration (a calendar): its checkpoints, raw events and
    events, and the user's busy blocks (rebuilt by the next sync from what remains)."""
    deleted: dict[str, int] = {}
    for model in ACCOUNT_DATA:
        deleted |= _delete(session, model, integration_id=integration_id)
    return deleted | _delete(session, BusyBlock, tenant_id=tenant_id, user_id=user_id)


def _delete(session: Session, model: type[Base], **equal: str) -> dict[str, int]:
    """Delete the rows of `model`'s table whose columns equal `equal`; `{table name: rows deleted}`."""
    table = cast(Table, model.__table__)
    statement = delete(table).where(*(table.c[name] == value for name, value in equal.items()))
    result = cast(CursorResult[tuple[()]], session.execute(statement))
    return {table.name: int(result.rowcount or 0)}
