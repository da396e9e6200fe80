"""A computation done once, either early, when there is time for it, or when its result is needed.

The sync prepares the next page while the database ingests the current one: the preparation
starts early but must fail where its result is used, after the current page is committed, so
that an error in it never undoes a page that was fine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Deferred(Generic[T]):
    """`compute` run at most once: by `run` (early; an exception is kept, not raised) or by
    `result` (which raises the kept exception, or returns the value)."""

    def __init__(self, compute: Callable[[], T]) -> None:
        self._compute: Callable[[], T] | None = compute
        self._value: T | None = None
        self._error: Exception | None = None

    def run(self) -> None:
        if self._compute is None:
            return
        compute, self._compute = self._compute, None
        try:
            self._value = compute()
        except Exception as error:  # kept for `result`: a BaseException (an interrupt) passes through
            self._error = error

    def result(self) -> T:
        self.run()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
