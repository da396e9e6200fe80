"""Producing a chain of items on a helper thread while the caller consumes the earlier ones.

A sync is such a chain: each page says where the next one starts (its page token), each chunk of
raw records where the next chunk starts (its last keyset), and the caller's work on an item
(writing it to the store) costs about as much as producing it (an HTTP call; a read and a
mapping). Producing up to `depth` items ahead overlaps the two, so the waits of one side (the
network, the database) pass while the other side computes, and a slow item on one side does not
stall the other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

P = TypeVar("P")
T = TypeVar("T")


@dataclass(frozen=True)
class _Produced(Generic[T]):
    item: T


@dataclass(frozen=True)
class _Raised:
    error: BaseException


_END = object()


def read_ahead(
    produce: Callable[[P], T], start: P, after: Callable[[T], P | None], *, depth: int = 1, name: str = "read-ahead"
) -> Iterator[T]:
    """Yield `produce(start)`, then `produce(after(item))` for each item, until `after` gives None.

    The items are produced in order on one helper thread, at most `depth` of them ahead of the
    one the caller holds. An exception raised by `produce` or `after` is raised to the caller in
    place of the item it stopped at (every earlier item is yielded first). Closing the iterator
    (leaving the loop early, or an exception in the caller's loop) stops the producer; it returns
    once an item being produced is finished, so no call is abandoned half-way.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    slots = threading.Semaphore(depth)
    produced: queue.SimpleQueue[_Produced[T] | _Raised | object] = queue.SimpleQueue()
    stop = threading.Event()

    def run() -> None:
        position: P | None = start
        try:
            while position is not None:
                slots.acquire()
                if stop.is_set():
                    return
                item = produce(position)
                produced.put(_Produced(item))
                position = after(item)
            produced.put(_END)
        except BaseException as error:
            produced.put(_Raised(error))

    producer = threading.Thread(target=run, name=name, daemon=True)
    producer.start()
    try:
        while True:
            entry = produced.get()
            if entry is _END:
                return
            if isinstance(entry, _Raised):
                raise entry.error
            assert isinstance(entry, _Produced)
            slots.release()
            yield entry.item
    finally:
        stop.set()
        slots.release()  # a producer waiting for a slot wakes up and sees `stop`
        producer.join()
