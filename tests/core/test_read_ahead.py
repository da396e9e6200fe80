"""`read_ahead`: a chain produced on a helper thread, in order, bounded, failing and stopping cleanly."""

from __future__ import annotations

import threading

import pytest

from lineup_integrations.core.read_ahead import read_ahead

WAIT_SECONDS = 10.0


def upto(last: int):
    return lambda item: item + 1 if item < last else None


def test_every_item_arrives_in_chain_order_from_a_helper_thread() -> None:
    threads: set[str] = set()

    def produce(position: int) -> int:
        threads.add(threading.current_thread().name)
        return position

    assert list(read_ahead(produce, 0, upto(49), depth=3, name="chain")) == list(range(50))
    assert threads == {"chain"}


def test_the_producer_stays_at_most_depth_items_ahead_of_the_caller() -> None:
    produced: list[int] = []
    two_ahead = threading.Event()

    def produce(position: int) -> int:
        produced.append(position)
        if len(produced) == 3:
            two_ahead.set()
        return position

    items = read_ahead(produce, 0, upto(9), depth=2)
    assert next(items) == 0
    # Holding item 0, the caller lets the producer make items 1 and 2, and no more.
    assert two_ahead.wait(WAIT_SECONDS)
    assert next(items) == 1
    assert next(items) == 2
    assert produced[:3] == [0, 1, 2] and len(produced) <= 5
    items.close()
    assert len(produced) <= 5


def test_a_producer_error_reaches_the_caller_after_the_items_before_it() -> None:
    def produce(position: int) -> int:
        if position == 3:
            raise LookupError("page 3 is gone")
        return position

    received: list[int] = []
    with pytest.raises(LookupError, match="page 3 is gone"):
        for item in read_ahead(produce, 0, upto(9)):
            received.append(item)  # noqa: PERF402 - item by item: what arrived before the error counts
    assert received == [0, 1, 2]


def test_leaving_the_loop_stops_the_producer() -> None:
    produced: list[int] = []

    def produce(position: int) -> int:
        produced.append(position)
        return position

    for item in read_ahead(produce, 0, lambda item: item + 1, depth=2, name="endless"):
        if item == 5:
            break
    # The chain has no end: only stopping the producer keeps it from running on.
    assert len(produced) <= 5 + 1 + 2
    assert not any(thread.name == "endless" for thread in threading.enumerate())


def test_an_error_in_the_callers_loop_stops_the_producer() -> None:
    with pytest.raises(RuntimeError, match="write failed"):
        for item in read_ahead(lambda position: position, 0, lambda item: item + 1, name="abandoned"):
            if item == 2:
                raise RuntimeError("write failed")
    assert not any(thread.name == "abandoned" for thread in threading.enumerate())


def test_depth_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="depth"):
        list(read_ahead(lambda position: position, 0, upto(1), depth=0))
