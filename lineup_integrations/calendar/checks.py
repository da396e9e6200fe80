"""The figures behind the calendar asset checks, read from the store after each sync.

- `events_end_after_start`: an event ending before it starts is a provider's (or a normaliser's)
  defect; the sync keeps such events as they came, and this check names how many there are.
- `busy_blocks_disjoint`: each user's blocks must neither overlap nor touch (the merge joins
  touching intervals); a failed or partial rebuild shows here.
- `synced_recently`: the oldest last sync among the tenant's connected accounts of the provider is
  at most two schedule intervals old; an account whose syncs keep failing fails it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select

from lineup_integrations.core.store import BusyBlock, CalendarEventRow, Integration, IntegrationStatus, Store

SYNC_INTERVAL = dt.timedelta(minutes=15)
"""How often the periodic reconciliation syncs every connected account (its cron is derived from this)."""
STALE_AFTER = 2 * SYNC_INTERVAL


@dataclass(frozen=True)
class EventFigures:
    events: int
    ending_before_start: int


@dataclass(frozen=True)
class Freshness:
    accounts: int
    oldest_sync: dt.datetime | None
    never_synced: int

    def fresh(self, now: dt.datetime) -> bool:
        return self.never_synced == 0 and (self.oldest_sync is None or now - self.oldest_sync <= STALE_AFTER)


def event_figures(store: Store, tenant_id: str, provider: str) -> EventFigures:
    of = (CalendarEventRow.tenant_id == tenant_id, CalendarEventRow.provider == provider)
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(CalendarEventRow).where(*of)) or 0
        backwards = session.scalar(
            select(func.count()).select_from(CalendarEventRow).where(*of, CalendarEventRow.end_utc < CalendarEventRow.start_utc)
        ) or 0  # fmt: skip
    return EventFigures(events=total, ending_before_start=backwards)


def overlapping_busy_blocks(store: Store, tenant_id: str) -> int:
    """Blocks that start before (or exactly when) the previous block of the same user ends."""
    with store.session() as session:
        rows = session.execute(
            select(BusyBlock.user_id, BusyBlock.start_utc, BusyBlock.end_utc).where(BusyBlock.tenant_id == tenant_id)
        ).all()
    blocks = pd.DataFrame(rows, columns=["user_id", "start_utc", "end_utc"]).sort_values(["user_id", "start_utc"])
    previous_end = blocks.groupby("user_id")["end_utc"].shift()
    return int((blocks["start_utc"] <= previous_end).sum())


def freshness(store: Store, tenant_id: str, provider: str) -> Freshness:
    with store.session() as session:
        synced = list(session.scalars(select(Integration.last_synced_at).where(
            Integration.tenant_id == tenant_id, Integration.provider == provider,
            Integration.status == IntegrationStatus.CONNECTED.value,
        )))  # fmt: skip
    times = [time for time in synced if time is not None]
    return Freshness(accounts=len(synced), oldest_sync=min(times, default=None), never_synced=len(synced) - len(times))
