"""What the store knows of a panel of interviewers: their connected calendars, how fresh each
user's busy time is, and their busy blocks over a span (read by the availability API)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from lineup_integrations.calendar.availability import Interval
from lineup_integrations.calendar.checks import STALE_AFTER
from lineup_integrations.core.store import BusyBlock, Integration, IntegrationStatus, Store


@dataclass(frozen=True)
class UserCalendars:
    """A user's connected calendar accounts. `synced_at`: the oldest last sync among them (None when
    one never synced): the user's busy blocks are at least that fresh."""

    user_id: str
    providers: tuple[str, ...]
    synced_at: dt.datetime | None

    @property
    def connected(self) -> bool:
        return bool(self.providers)

    def stale(self, now: dt.datetime) -> bool:
        """Never synced, or not within two periodic reconciliations (the freshness check's rule)."""
        return self.synced_at is None or now - self.synced_at > STALE_AFTER


def panel_calendars(
    store: Store, tenant_id: str, user_ids: Sequence[str], providers: Collection[str]
) -> dict[str, UserCalendars]:
    """Each of `user_ids` with their connected accounts of `providers` (the calendars)."""
    with store.session() as session:
        rows = session.execute(
            select(Integration.user_id, Integration.provider, Integration.last_synced_at).where(
                Integration.tenant_id == tenant_id,
                Integration.user_id.in_(list(user_ids)),
                Integration.provider.in_(list(providers)),
                Integration.status == IntegrationStatus.CONNECTED.value,
            )
        ).all()
    accounts: dict[str, list[tuple[str, dt.datetime | None]]] = defaultdict(list)
    for user_id, provider, synced_at in rows:
        accounts[user_id].append((provider, synced_at))
    return {user_id: _calendars(user_id, accounts.get(user_id, [])) for user_id in user_ids}


def _calendars(user_id: str, accounts: list[tuple[str, dt.datetime | None]]) -> UserCalendars:
    times = [synced_at for _, synced_at in accounts]
    oldest = None if not times or None in times else min(t for t in times if t is not None)
    return UserCalendars(user_id, tuple(sorted(provider for provider, _ in accounts)), oldest)


def busy_blocks(
    store: Store, tenant_id: str, user_ids: Collection[str], start: dt.datetime, end: dt.datetime
) -> dict[str, list[Interval]]:
    """Each user's busy blocks overlapping `[start, end)`, in order."""
    with store.session() as session:
        rows = session.execute(
            select(BusyBlock.user_id, BusyBlock.start_utc, BusyBlock.end_utc)
            .where(BusyBlock.tenant_id == tenant_id, BusyBlock.user_id.in_(list(user_ids)),
                   BusyBlock.start_utc < end, BusyBlock.end_utc > start)
            .order_by(BusyBlock.user_id, BusyBlock.start_utc)
        ).all()  # fmt: skip
    blocks: dict[str, list[Interval]] = defaultdict(list)
    for user_id, block_start, block_end in rows:
        blocks[user_id].append((block_start, block_end))
    return blocks
