"""Busy blocks: each user's busy events merged into disjoint intervals, the table scheduling reads.

Vectorised with pandas, per user: sort by start, carry the latest end seen so far (cumulative max
per user), and start a new block wherever an event begins after that end. Touching intervals
(one ends when the next starts) merge: nobody can be booked into a zero-length gap.
"""

from __future__ import annotations

import pandas as pd

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
