"""Busy blocks: each user's busy events merged into disjoint intervals, the table scheduling reads.

Vectorised with pandas, per user: sort by start, carry the latest end seen so far (cumulative max
per user), and start a new block wherever an event begins after that end. Touching intervals
(one ends when the next starts) merge: nobody can be booked into a zero-length gap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import delete, select

from lineup_integrations.calendar.events import EventStatus
from lineup_integrations.core.store import BusyBlock, CalendarEventRow, Store

COLUMNS = ["user_id", "start_utc", "end_utc"]


def merge_busy_blocks(events: pd.DataFrame) -> pd.DataFrame:
    """`events` (user_id, start_utc, end_utc; any order, may overlap) → disjoint blocks per user,
    sorted by user and start. Rows whose end is not after their start are dropped (they block nothing)."""
    frame = events.loc[events["end_utc"] > events["start_utc"], COLUMNS].sort_values(["user_id", "start_utc"])
    if frame.empty:
        return pd.DataFrame({column: pd.Series(dtype=events[column].dtype) for column in COLUMNS})
    latest_end = frame.groupby("user_id", sort=False)["end_utc"].cummax()
    previous_end = latest_end.groupby(frame["user_id"], sort=False).shift()
    new_block = previous_end.isna() | (frame["start_utc"] > previous_end)
    block = new_block.cumsum()
    merged = (
        frame.assign(block=block)
        .groupby("block", sort=True)
        .agg(user_id=("user_id", "first"), start_utc=("start_utc", "min"), end_utc=("end_utc", "max"))
    )
    return merged.reset_index(drop=True)[COLUMNS]


@dataclass(frozen=True)
class BusyBlocksResult:
    users: int
    events: int
    blocks: int


def refresh_busy_blocks(store: Store, tenant_id: str, user_ids: Collection[str] | None = None) -> BusyBlocksResult:
    """Rebuild `interviewer_busy_blocks` for the tenant's users (all of them when `user_ids` is None)
    from `calendar_events` alone — no provider call — in one transaction, so scheduling never
    reads a user's blocks half replaced. A user whose events are all gone keeps no block."""
    busy = (
        CalendarEventRow.tenant_id == tenant_id,
        CalendarEventRow.busy.is_(True),
        CalendarEventRow.status != EventStatus.CANCELLED.value,
    )
    scope = () if user_ids is None else (CalendarEventRow.user_id.in_(list(user_ids)),)
    with store.session() as session:
        rows = session.execute(
            select(CalendarEventRow.user_id, CalendarEventRow.start_utc, CalendarEventRow.end_utc).where(*busy, *scope)
        ).all()
        events = pd.DataFrame(rows, columns=COLUMNS)
        blocks = merge_busy_blocks(events)
        stale = [BusyBlock.tenant_id == tenant_id]
        if user_ids is not None:
            stale.append(BusyBlock.user_id.in_(list(user_ids)))
        session.execute(delete(BusyBlock).where(*stale))
        now = dt.datetime.now(dt.UTC)
        session.add_all(
            BusyBlock(tenant_id=tenant_id, user_id=user, start_utc=start.to_pydatetime(), end_utc=end.to_pydatetime(),
                      computed_at=now)
            for user, start, end in blocks.itertuples(index=False)
        )  # fmt: skip
    return BusyBlocksResult(users=events["user_id"].nunique(), events=len(events), blocks=len(blocks))
