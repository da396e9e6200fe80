"""Which store errors the provider assets retry: real errors from real SQLite connections."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, exc, text
from sqlalchemy.pool import QueuePool

from lineup_integrations.orchestration.retries import (
    SPEC_RETRY_DELAYS_SECONDS,
    is_transient_store_error,
    spec_retry_wait,
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one SQLite file; the second gives up at once when the file is locked."""
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder = create_engine(url, connect_args={"isolation_level": None})
    impatient = create_engine(url, connect_args={"timeout": 0})
    with holder.connect() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    yield holder, impatient
    holder.dispose()
    impatient.dispose()


def raised(engine: Engine, statement: str) -> exc.SQLAlchemyError:
    with pytest.raises(exc.SQLAlchemyError) as caught, engine.begin() as connection:
        connection.execute(text(statement))
    return caught.value


def test_a_database_locked_by_another_connection_is_transient(database: tuple[Engine, Engine]) -> None:
    holder, impatient = database
    with holder.connect() as connection:
        connection.execute(text("BEGIN EXCLUSIVE"))
        error = raised(impatient, "INSERT INTO t VALUES (1)")
        connection.execute(text("ROLLBACK"))
    assert isinstance(error, exc.OperationalError) and "locked" in str(error)
    assert is_transient_store_error(error)


@pytest.mark.parametrize("statement", ["SELECT * FROM no_such_table", "INSERT INTO t VALUES (1, 2)"])
def test_a_sqlite_error_that_waiting_cannot_fix_is_not_transient(
    database: tuple[Engine, Engine], statement: str
) -> None:
    error = raised(database[1], statement)
    assert isinstance(error, exc.OperationalError)
    assert not is_transient_store_error(error)


def test_errors_other_than_the_stores_are_not_transient() -> None:
    assert not is_transient_store_error(ValueError("no"))
    assert not is_transient_store_error(exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))


def test_a_pool_with_no_connection_to_spare_is_transient(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'pool.db'}", pool_size=1, max_overflow=0, pool_timeout=0.01, poolclass=QueuePool
    )
    with engine.connect(), pytest.raises(exc.TimeoutError) as caught:
        engine.connect()
    engine.dispose()
    assert is_transient_store_error(caught.value)


def test_the_wait_follows_the_spec_schedule_within_its_jitter() -> None:
    rng = random.Random(7)
    for retry_number, base in enumerate(SPEC_RETRY_DELAYS_SECONDS):
        waits = [spec_retry_wait(retry_number, rng=rng) for _ in range(200)]
        assert base * 0.75 <= min(waits) and max(waits) <= base * 1.25
        assert max(waits) - min(waits) > base * 0.25  # jittered, not constant
