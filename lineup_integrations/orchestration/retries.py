"""The spec's retry schedule for provider assets: 5 more attempts after 2, 4, 8, 16 and 32 s, with jitter.

Dagster's `Backoff.EXPONENTIAL` waits (2^n − 1)·delay (1, 3, 7, 15 s for delay=1), which is not
the spec's schedule, so provider assets raise `RetryRequested` with the exact wait instead; the
wait shows in the run's event log as the step's retry event. Errors that a retry cannot fix
(revoked grant, missing scope, disconnected tenant) raise `Failure(allow_retries=False)`.

The store fails transiently too: a lock or busy timeout, a connection the server dropped (restart,
failover, `pg_terminate_backend`), a full pool. `is_transient_store_error` tells those from the
store errors a retry cannot fix (a missing table, a constraint, a read-only file).
"""

from __future__ import annotations

import random
from typing import Any

import dagster as dg
from sqlalchemy import exc as sa_exc

SPEC_RETRY_DELAYS_SECONDS: tuple[float, ...] = (2, 4, 8, 16, 32)
JITTER_FRACTION = 0.25
# SQLite reports its lock contention as OperationalError with these words; its other
# OperationalErrors (no such table, readonly database, disk full) do not go away by waiting.
TRANSIENT_SQLITE_MESSAGES = ("database is locked", "database table is locked", "database is busy")


def spec_retry_wait(retry_number: int, *, rng: random.Random | None = None) -> float:
    """The wait before attempt `retry_number + 2`: the spec's delay ± 25 % (jitter spreads a thundering herd)."""
    base = SPEC_RETRY_DELAYS_SECONDS[min(retry_number, len(SPEC_RETRY_DELAYS_SECONDS) - 1)]
    return base * (1 + (rng or random).uniform(-JITTER_FRACTION, JITTER_FRACTION))


def is_transient_store_error(error: BaseException) -> bool:
    """True for a store error that a later attempt can get past: any SQLAlchemy error that lost its
    connection, a pool checkout timeout, SQLite's lock contention and PostgreSQL's
    `OperationalError`s (connection lost or refused, admin shutdown, lock or statement timeout,
    serialization failure, deadlock)."""
    if isinstance(error, sa_exc.TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, sa_exc.OperationalError):
        return False
    if type(error.orig).__module__.startswith("sqlite3"):
        message = str(error.orig).lower()
        return any(words in message for words in TRANSIENT_SQLITE_MESSAGES)
    return True


def request_spec_retry(context: dg.AssetExecutionContext, error: Exception) -> dg.RetryRequested:
    """Build the `RetryRequested` to raise (`raise request_spec_retry(context, e) from e`)."""
    wait = spec_retry_wait(context.retry_number)
    context.log.warning(
        "Attempt %d failed (%s); retrying in %.1f s (spec schedule %s)",
        context.retry_number + 1,
        type(error).__name__,
        wait,
        "/".join(f"{d:g}s" for d in SPEC_RETRY_DELAYS_SECONDS),
    )
    return dg.RetryRequested(max_retries=len(SPEC_RETRY_DELAYS_SECONDS), seconds_to_wait=wait)


def permanent_failure(description: str, **metadata: Any) -> dg.Failure:
    """A failure Dagster must not retry (the run fails at once, its reason in the event log)."""
    return dg.Failure(description=description, metadata=dict(metadata), allow_retries=False)
