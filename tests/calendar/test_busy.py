"""Busy blocks against a brute-force computation: minute by minute, who is busy."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from lineup_integrations.calendar.busy import merge_busy_blocks

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
minute = dt.timedelta(minutes=1)

events_strategy = st.lists(
    st.tuples(st.sampled_from(["ana", "bo", "cy"]), st.integers(0, 300), st.integers(-5, 120)), max_size=40
)


def frame(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [user for user, _, _ in rows],
        "start_utc": pd.to_datetime([T0 + start * minute for _, start, _ in rows], utc=True),
        "end_utc": pd.to_datetime([T0 + (start + length) * minute for _, start, length in rows], utc=True),
    })  # fmt: skip


def busy_minutes(rows: list[tuple[str, int, int]]) -> set[tuple[str, int]]:
    return {(user, m) for user, start, length in rows for m in range(start, start + length)}


@settings(max_examples=200, deadline=None)
@given(events_strategy)
def test_blocks_cover_exactly_the_busy_minutes_and_are_disjoint(rows: list[tuple[str, int, int]]) -> None:
    blocks = merge_busy_blocks(frame(rows))

    covered = {
        (block.user_id, m)
        for block in blocks.itertuples()
        for m in range(int((block.start_utc - T0) / minute), int((block.end_utc - T0) / minute))
    }
    assert covered == busy_minutes(rows)
    for _, user_blocks in blocks.groupby("user_id"):
        starts, ends = user_blocks["start_utc"].tolist(), user_blocks["end_utc"].tolist()
        assert all(
            end < next_start for end, next_start in zip(ends, starts[1:], strict=False)
        )  # disjoint, not touching


def test_touching_events_merge_and_an_empty_event_blocks_nothing() -> None:
    blocks = merge_busy_blocks(frame([("ana", 0, 30), ("ana", 30, 30), ("ana", 90, 0), ("bo", 10, 5)]))

    assert [(b.user_id, b.start_utc, b.end_utc) for b in blocks.itertuples()] == [
        ("ana", T0, T0 + 60 * minute),
        ("bo", T0 + 10 * minute, T0 + 15 * minute),
    ]


def test_no_events_no_blocks() -> None:
    assert merge_busy_blocks(frame([])).empty
