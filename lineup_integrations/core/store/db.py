"""Engine, sessions, locking and bulk upserts over SQLite (default) or PostgreSQL.

SQLite is put in WAL mode with a busy timeout so that the gateway, the Dagster run workers and
the CLI can share one file. Every SQLite transaction takes the write lock up front (`BEGIN
IMMEDIATE`): a deferred transaction that reads and then writes cannot wait for the lock when
another process committed in between (SQLite answers "database is locked" at once), whereas an
immediate one simply queues behind the busy timeout. Readers are never blocked in WAL mode.
On PostgreSQL, a read-then-write critical section (token refresh) uses `SELECT … FOR UPDATE`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from lineup_integrations.core.settings import PROJECT_ROOT
from lineup_integrations.core.store.models import ApiUsage, AuditEntry, Base, SyncCursor

SQLITE_BUSY_TIMEOUT_MS = 60_000
ALEMBIC_DIR = PROJECT_ROOT / "alembic"


def _dump_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (raw provider records above all: a full sync writes and re-reads every record) are
# encoded and decoded with orjson, several times faster than the standard library's json.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _dump_json, "json_deserializer": orjson.loads}


def create_store_engine(url: str) -> Engine:
    """An engine for the store; for SQLite the folder is created and transactions are driven explicitly."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                               **_JSON_CODEC)
        _drive_sqlite_transactions(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **_JSON_CODEC)


def _drive_sqlite_transactions(engine: Engine) -> None:
    # pysqlite's own BEGIN handling defeats BEGIN IMMEDIATE; take it over (SQLAlchemy's documented recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Store:
    """The integration store: one engine, short transactions, and the few helpers every module shares."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        self._sessions = sessionmaker(self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def locked_session(self) -> Iterator[Session]:
        """A transaction for a read-then-write critical section: on SQLite every transaction already
        holds the write lock; on PostgreSQL use `select(...).with_for_update()` inside it."""
        with self._sessions.begin() as session:
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(ALEMBIC_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def serialize_on(session: Session, key: str) -> None:
    """Hold a lock named `key` until the transaction ends, even when no row exists yet to lock
    (PostgreSQL advisory lock; on SQLite every transaction already holds the write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def upsert(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert `rows`, or update the `update` columns of the rows whose `key` already exists — one statement.

    Every row must have the same keys; a key given as None writes NULL; when a key repeats in
    `rows`, the last row wins (as upserting them one by one would). The statement targets the
    model's table (Core), so many rows reach the driver as one batch: the ORM's bulk path would
    split them into one statement per distinct set of non-None keys. On PostgreSQL the statement
    returns the keys only so that SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues");
    without RETURNING an ON CONFLICT insert goes one row per round trip."""
    if not rows:
        return
    unique = list({tuple(row[column] for column in key): row for row in rows}.values())
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={column: statement.excluded[column] for column in update}
    )
    if dialect == "postgresql":
        statement = statement.returning(*(statement.table.c[column] for column in key))
    session.execute(statement, unique)


def record_api_usage(session: Session, *, tenant_id: str, provider: str, calls: int, at: dt.datetime) -> None:
    """Add `calls` to the tenant's count for the hour of `at` (one statement, safe under concurrency)."""
    if calls <= 0:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ApiUsage).values(tenant_id=tenant_id, provider=provider,
                                        hour=at.replace(minute=0, second=0, microsecond=0), calls=calls)
    session.execute(statement.on_conflict_do_update(
        index_elements=["tenant_id", "provider", "hour"], set_={"calls": ApiUsage.calls + statement.excluded.calls}))


def api_calls_since(session: Session, *, tenant_id: str, provider: str, since: dt.datetime) -> int:
    """Calls recorded from the hour of `since` on (hour buckets: at most an hour's calls too many)."""
    return session.scalar(select(func.coalesce(func.sum(ApiUsage.calls), 0)).where(
        ApiUsage.tenant_id == tenant_id, ApiUsage.provider == provider,
        ApiUsage.hour >= since.replace(minute=0, second=0, microsecond=0))) or 0


def audit(
    session: Session,
    *,
    tenant_id: str,
    provider: str | None,
    action: str,
    actor: str,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry in the caller's transaction. `detail` must never carry a secret."""
    session.add(
        AuditEntry(
            at=dt.datetime.now(dt.UTC),
            tenant_id=tenant_id,
            provider=provider,
            action=action,
            actor=actor,
            outcome=outcome,
            detail=detail or {},
        )
    )


def load_stream_state(session: Session, *, tenant_id: str, provider: str, stream: str) -> dict[str, Any] | None:
    """The checkpoint of one sync stream, or None before its first run."""
    row = session.get(SyncCursor, (tenant_id, provider, stream))
    return dict(row.state) if row else None


def save_stream_state(session: Session, *, tenant_id: str, provider: str, stream: str, state: dict[str, Any]) -> None:
    """Checkpoint a sync stream in the caller's transaction (so it commits with the data it describes)."""
    upsert(
        session,
        SyncCursor,
        [{"tenant_id": tenant_id, "provider": provider, "stream": stream, "state": state,
          "updated_at": dt.datetime.now(dt.UTC)}],
        key=["tenant_id", "provider", "stream"],
        update=["state", "updated_at"],
    )
