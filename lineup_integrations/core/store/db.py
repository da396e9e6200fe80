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
import functools
import itertools
import operator
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from psycopg import errors as postgres_errors
from sqlalchemy import Connection, Engine, Table, TypeDecorator, create_engine, event, func, make_url, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import sqltypes

from lineup_integrations.core.deferred import Deferred
from lineup_integrations.core.store.models import ApiUsage, AuditEntry, Base, SyncCursor

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

SQLITE_BUSY_TIMEOUT_MS = 60_000
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000
SQLITE_CACHE_KIB = 16_384
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"  # shipped as package data


def _dump_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (raw provider records above all: a full sync writes and re-reads every record) are
# encoded and decoded with orjson, several times faster than the standard library's json.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _dump_json, "json_deserializer": orjson.loads}


def create_store_engine(url: str) -> Engine:
    """An engine for the store; for SQLite the folder is created and transactions are driven explicitly;
    PostgreSQL is driven by psycopg 3."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **_JSON_CODEC
        )
        _drive_sqlite_transactions(engine)
        return engine
    return create_engine(_with_psycopg3(url), pool_pre_ping=True, pool_size=10, max_overflow=20, **_JSON_CODEC)


def _with_psycopg3(url: str) -> Any:
    """A PostgreSQL URL driven by psycopg 3, whichever driver it names (`postgresql://`,
    `postgresql+psycopg2://`): the store's bulk writes use psycopg 3's binary COPY, which must run
    on the connection, and in the transaction, of the rest of the write."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg") if parsed.get_backend_name() == "postgresql" else parsed


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
        # A sync commits every page; with randomly ordered keys each commit dirties a few hundred index
        # pages, and checkpointing (two fsyncs) every 1,000 WAL pages, SQLite's default, costs a
        # checkpoint every few pages. 10,000 pages (~40 MB of WAL) keeps that to a few per 100,000 records.
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        # Those randomly ordered keys land all over their indexes (about 5 MB per 100,000 raw records):
        # with SQLite's default 2 MiB page cache nearly every insert read its index page back from the
        # OS. A connection's cache grows only as far as it is used.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
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
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._sessions = sessionmaker(self._writer, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def session(self, on: Connection | None = None) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises; on the connection
        `on` (from `connection()`) when given, else on one checked out of the pool for it."""
        if on is None:
            with self._sessions.begin() as session:
                yield session
        else:
            session = self._sessions(bind=on)
            with session, session.begin():
                yield session

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled connection held for a series of transactions (`session(on=…)`). A sync commits
        every page: checking a connection out per page costs a round trip each on PostgreSQL, whose
        pool pings a connection before handing it out."""
        with self._writer.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def locked_session(self) -> Iterator[Session]:
        """A transaction for a read-then-write critical section: on SQLite every transaction already
        holds the write lock; on PostgreSQL use `select(...).with_for_update()` inside it."""
        with self._sessions.begin() as session:
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command

        with self.engine.begin() as connection:
            command.upgrade(self._alembic_config(connection), "head")

    def downgrade(self, revision: str) -> None:
        """Take the schema back to an older Alembic revision (rolling a release back)."""
        from alembic import command

        with self.engine.begin() as connection:
            command.downgrade(self._alembic_config(connection), revision)

    def _alembic_config(self, connection: Connection) -> AlembicConfig:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        config.attributes["connection"] = connection
        return config

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
    session.execute(
        _upsert_statement(session.get_bind().dialect.name, model.__table__, tuple(key), tuple(update)), unique
    )


@functools.lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table: Table, key: tuple[str, ...], update: tuple[str, ...]) -> Any:
    """Built once per shape: a sync checkpoints after every page, and building the statement (its
    `excluded` columns above all) costs more than executing it."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement: Any = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={column: statement.excluded[column] for column in update}
    )
    if dialect == "postgresql":
        statement = statement.returning(*(statement.table.c[column] for column in key))
    return statement


# -- the hot bulk path: one compiled statement, driver-level executemany ------------------------------


def _dialect_name(bind: Session | Connection | Engine) -> str:
    return (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name


@functools.lru_cache(maxsize=64)
def _bulk_upsert_sql(
    dialect_name: str, table: str, columns: tuple[str, ...], key: tuple[str, ...], update: tuple[str, ...]
) -> tuple[str, ...]:
    """SQLite: the one INSERT … ON CONFLICT statement. PostgreSQL: create the staging table (once per
    connection: a temporary table lives as long as its connection), COPY into it, upsert from it and
    empty it; and the COPY straight into the table that `insert_first` tries."""
    quote = (postgresql.dialect() if dialect_name == "postgresql" else sqlite.dialect()).identifier_preparer.quote
    names = ", ".join(quote(column) for column in columns)
    conflict = f"ON CONFLICT ({', '.join(quote(column) for column in key)}) DO UPDATE SET " + ", ".join(
        f"{quote(column)} = excluded.{quote(column)}" for column in update
    )
    if dialect_name != "postgresql":
        return (f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join('?' for _ in columns)}) {conflict}",)
    stage = f"_bulk_{table}_{zlib.crc32(repr((columns, key, update)).encode()):08x}"
    return (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
        f"SELECT {names} FROM {quote(table)} WITH NO DATA",
        f"COPY {stage} ({names}) FROM STDIN (FORMAT BINARY)",
        # DELETE, not TRUNCATE: a truncation gives the temporary table a new file every call.
        f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM {stage} {conflict}; DELETE FROM {stage}",
        f"COPY {quote(table)} ({names}) FROM STDIN (FORMAT BINARY)",
    )


# -- the store's encoding of plain Python values: what a column's type makes of them -----------------

_TZINFO = operator.attrgetter("tzinfo")
_SQLITE_ISO = operator.methodcaller("isoformat", " ", "microseconds")


def _column_kind(column: Any) -> str:
    """ "json", "datetime" or "plain": how `bulk_rows` encodes the values of `column` (a table column)."""
    column_type = column.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, sqltypes.JSON):
        return "json"
    if isinstance(column_type, sqltypes.DateTime):
        return "datetime"
    return "plain"


def _json_texts(values: Sequence[Any]) -> list[str | None]:
    """JSON values (dicts, lists, …) as the text SQLAlchemy's JSON type writes (orjson); None as NULL."""
    dumps, option = orjson.dumps, orjson.OPT_NON_STR_KEYS
    return [None if value is None else dumps(value, option=option).decode() for value in values]


def _encoded(kind: str, values: Sequence[Any], *, postgres: bool) -> Sequence[Any]:
    """One column's plain Python values as the store hands them to its driver: JSON as text, and
    datetimes as SQLite's text or, for PostgreSQL's binary COPY, checked aware datetimes (psycopg
    writes their binary form, the exact instant); the rest as it is."""
    if kind == "json":
        return _json_texts(values)
    if kind == "datetime":
        return _checked_datetimes(values) if postgres else _sqlite_datetimes(values)
    return values


def _sqlite_datetimes(values: Sequence[Any]) -> list[str | None]:
    """Aware datetimes as the text SQLAlchemy's DATETIME stores on SQLite (`YYYY-MM-DD HH:MM:SS.ffffff`,
    UTC, so rows written either way compare and read back alike); None
    as NULL. A sync's times are already UTC (checked for the whole column at once), so the usual
    column is converted by `map` over a C method, without a Python call per value."""
    present = [value for value in values if value is not None] if None in values else values
    if _checked_zones(present) - {dt.UTC}:
        present = [value.astimezone(dt.UTC) for value in present]
    texts = [text[:26] for text in map(_SQLITE_ISO, present)]
    if len(present) == len(values):
        return texts
    encoded = iter(texts)
    return [None if value is None else next(encoded) for value in values]


def _checked_datetimes(values: Sequence[Any]) -> Sequence[Any]:
    """`values` (datetimes or None) as they are, refused when one is naive or not a datetime."""
    _checked_zones([value for value in values if value is not None] if None in values else values)
    return values


def _checked_zones(datetimes: Sequence[Any]) -> set[Any]:
    """The time zones of `datetimes`; refused when one is naive or not a datetime."""
    try:
        zones = set(map(_TZINFO, datetimes))
    except AttributeError:
        raise TypeError("a datetime column of bulk_rows holds a value that is not a datetime") from None
    if None in zones:
        raise ValueError("naive datetime given to the store: pass an aware UTC datetime")
    return zones


# What psycopg 3 writes each kind of column as, in binary COPY: by the column's PostgreSQL type. A
# JSON column's binary form is its text, which `bulk_rows` dumps beforehand (orjson), so it goes as text.
_COPY_TYPES = {
    "VARCHAR": "text",
    "TEXT": "text",
    "CHAR": "text",
    "INTEGER": "int4",
    "BIGINT": "int8",
    "SMALLINT": "int2",
    "BOOLEAN": "bool",
    "DOUBLE PRECISION": "float8",
    "FLOAT": "float8",
    "REAL": "float4",
    "NUMERIC": "numeric",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "JSON": "text",
}


@functools.lru_cache(maxsize=256)
def _copy_type(column: Any) -> str:
    """The type psycopg 3 writes `column`'s values as in a binary COPY (`Copy.set_types`)."""
    compiled = column.type.compile(dialect=postgresql.dialect()).split("(")[0]
    if compiled not in _COPY_TYPES:
        raise ValueError(f"bulk_rows cannot COPY {column.table.name}.{column.name} ({compiled}) in binary")
    return _COPY_TYPES[compiled]


@dataclass(frozen=True)
class Same:
    """One value for every row of a `bulk_rows` batch (a tenant, a change number): encoded once."""

    value: Any


Column = Sequence[Any] | Same


@dataclass(frozen=True)
class BulkRows:
    """Rows of `table` for `bulk_upsert`, made ready before the write: one per key (a repeated key,
    the last row wins), as tuples encoded for the backend they were built for (PostgreSQL's when
    `copy_types` is given, SQLite's when it is None). That is all the per-row Python work of a bulk
    write but psycopg's binary formatting (in C, as the rows are sent), so a caller can do it while
    the database ingests the batch before (`bulk_upsert`'s `meanwhile`). Build them with `bulk_rows`."""

    table: Table
    columns: tuple[str, ...]
    key: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    copy_types: tuple[str, ...] | None  # PostgreSQL: the types of the binary COPY; None: SQLite's rows

    def __len__(self) -> int:
        return len(self.rows)


def bulk_rows(
    bind: Session | Connection | Engine, table: Table, columns: dict[str, Column], *, key: Sequence[str]
) -> BulkRows:
    """Rows of `table` for `bulk_upsert` on the backend of `bind` (only asked for its dialect), given
    column by column: each column's values in row order, or `Same(value)`.

    Values are plain Python values, and the store alone decides how they are written, by the
    table's column types: a JSON column takes dicts, lists and text (None is SQL NULL); a
    datetime column aware datetimes (any offset, stored as UTC); other columns str, int, float,
    bool or None of the column's type, as they are. Give every column the write needs: column
    defaults do not apply. Built by columns because that is how a column's values are encoded
    cheaply, and how a mapped frame and a page of records come."""
    unknown = [name for name in columns if name not in table.c]
    if unknown:
        raise ValueError(f"bulk_rows: {table.name} has no column {', '.join(unknown)}")
    lists = {name: list(values) for name, values in columns.items() if not isinstance(values, Same)}
    count = len(next(iter(lists.values()), [None]))
    if any(len(values) != count for values in lists.values()):
        raise ValueError("bulk_rows: the columns hold different numbers of rows")
    kept = _last_row_of_each_key([lists[name] for name in key if name in lists], count)
    if kept is not None:
        lists = {name: [values[index] for index in kept] for name, values in lists.items()}
        count = len(kept)
    postgres = _dialect_name(bind) == "postgresql"
    encoded: list[Iterable[Any]] = []
    for name, values in columns.items():
        kind = _column_kind(table.c[name])
        if isinstance(values, Same):
            encoded.append(itertools.repeat(_encoded(kind, [values.value], postgres=postgres)[0], count))
        else:
            encoded.append(_encoded(kind, lists[name], postgres=postgres))
    copy_types = tuple(_copy_type(table.c[name]) for name in columns) if postgres else None
    rows = list(zip(*encoded, strict=False)) if count else []  # not strict: a Same column repeats endlessly
    return BulkRows(table, tuple(columns), tuple(key), rows, copy_types)


def _last_row_of_each_key(key_columns: list[list[Any]], count: int) -> list[int] | None:
    """The indexes, in row order, of the last row of each key; None when no key repeats.
    `key_columns`: the key's columns that vary (none: every row has the same key)."""
    if not key_columns:
        return [count - 1] if count > 1 else None
    keys = key_columns[0] if len(key_columns) == 1 else list(zip(*key_columns, strict=True))
    if len(set(keys)) == count:
        return None
    return sorted({row_key: index for index, row_key in enumerate(keys)}.values())


def bulk_upsert(
    session: Session,
    rows: BulkRows,
    *,
    update: Sequence[str],
    insert_first: bool = False,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """`upsert` for the hot bulk writes (a sync page of raw records, a chunk of mapped contacts):
    the same semantics — insert, or update the `update` columns where the key exists — into the
    table `rows` were built for, without SQLAlchemy's per-row parameter processing.

    `rows` come from `bulk_rows`, which encoded them for this session's backend (no type
    processing runs here). The statement text is built once per shape. SQLite runs the INSERT … ON
    CONFLICT with the driver's executemany (`exec_driver_sql`); PostgreSQL COPYs the rows (binary,
    psycopg 3's `write_row`) into a per-connection temporary staging table and upserts from it in one
    statement (the server parses a multi-row VALUES list several times slower than COPY data), in
    the session's transaction.

    `insert_first`: the rows are most likely new (a tenant's first sync). On PostgreSQL they are
    then COPYed straight into the table, in a savepoint, and only if a key already exists is that
    rolled back and the upsert done: a plain COPY skips the staging table and the conflict checks,
    about a third of the server's time per row. SQLite ignores it (its upsert costs what an insert
    does).

    `meanwhile`: work that needs no database, run once during the write. On PostgreSQL it runs
    while the server ingests the COPY data, which has been sent; the write then waits for what is
    left of the server's work. On SQLite (in this process) it runs after the rows are written. An
    exception from it is raised once the write is done (so the caller's transaction rolls back)."""
    later = Deferred(meanwhile or (lambda: None))
    if rows:
        _write_bulk_rows(session, rows, update=update, insert_first=insert_first, meanwhile=later.run)
    later.result()


def _write_bulk_rows(
    session: Session, rows: BulkRows, *, update: Sequence[str], insert_first: bool, meanwhile: Callable[[], None]
) -> None:
    connection = session.connection()
    dialect = connection.dialect.name
    sql = _bulk_upsert_sql(dialect, rows.table.name, rows.columns, rows.key, tuple(update))
    if dialect != "postgresql":
        if rows.copy_types is not None:
            raise ValueError("these BulkRows were made for PostgreSQL (bulk_rows with a PostgreSQL bind)")
        connection.exec_driver_sql(sql[0], rows.rows)
        return
    if rows.copy_types is None:
        raise ValueError("these BulkRows were made for SQLite (bulk_rows with a SQLite bind)")
    create, copy, upsert_from_stage, copy_into_table = sql
    with connection.connection.cursor() as cursor:  # type: ignore[attr-defined]  # psycopg's cursor is a context manager
        if insert_first and _copied_without_conflict(cursor, copy_into_table, rows, meanwhile):
            return
        cursor.execute(create)
        _copy(cursor, copy, rows, meanwhile)
        cursor.execute(upsert_from_stage)


def _copy(cursor: Any, copy: str, rows: BulkRows, meanwhile: Callable[[], None]) -> None:
    """COPY `rows` with psycopg 3's `write_row` in binary format, and run `meanwhile` once they are
    sent (all but psycopg's last buffer, at most 32 KiB), while the server ingests them.

    psycopg 3's binary `write_row` is kept over hand-made COPY text sent with psycopg2's `copy_expert`,
    as the faster of the two in a same-run comparison (benchmarks/copy_formats.py; figures in
    benchmarks/README.md)."""
    with cursor.copy(copy) as feed:
        feed.set_types(rows.copy_types)
        write_row = feed.write_row
        for row in rows.rows:
            write_row(row)
        meanwhile()


def _copied_without_conflict(cursor: Any, copy: str, rows: BulkRows, meanwhile: Callable[[], None]) -> bool:
    """COPY `rows` in a savepoint; when a key already exists, undo it and answer False."""
    cursor.execute("SAVEPOINT bulk_insert_first")
    try:
        _copy(cursor, copy, rows, meanwhile)
    except postgres_errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT bulk_insert_first")
        return False
    cursor.execute("RELEASE SAVEPOINT bulk_insert_first")
    return True


def record_api_usage(session: Session, *, tenant_id: str, provider: str, calls: int, at: dt.datetime) -> None:
    """Add `calls` to the tenant's count for the hour of `at` (one statement, safe under concurrency)."""
    if calls <= 0:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ApiUsage).values(
        tenant_id=tenant_id, provider=provider, hour=at.replace(minute=0, second=0, microsecond=0), calls=calls
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "provider", "hour"], set_={"calls": ApiUsage.calls + statement.excluded.calls}
        )
    )


def api_calls_since(session: Session, *, tenant_id: str, provider: str, since: dt.datetime) -> int:
    """Calls recorded from the hour of `since` on (hour buckets: at most an hour's calls too many)."""
    return (
        session.scalar(
            select(func.coalesce(func.sum(ApiUsage.calls), 0)).where(
                ApiUsage.tenant_id == tenant_id,
                ApiUsage.provider == provider,
                ApiUsage.hour >= since.replace(minute=0, second=0, microsecond=0),
            )
        )
        or 0
    )


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
        [
            {
                "tenant_id": tenant_id,
                "provider": provider,
                "stream": stream,
                "state": state,
                "updated_at": dt.datetime.now(dt.UTC),
            }
        ],
        key=["tenant_id", "provider", "stream"],
        update=["state", "updated_at"],
    )
