"""PostgreSQL COPY: hand-made COPY text over psycopg2 against psycopg 3's `Copy.write_row` (issue 14).
A script, not a test.

    .venv/bin/python benchmarks/copy_formats.py [--contacts 100000] [--rounds 5]

On a throwaway PostgreSQL (`devtools.local_postgres`), it writes the same rows — plain Python
values as the sync hands them to the store: text with some NULLs, numbers, aware datetimes, and
for raw records their JSON payloads — with a plain COPY straight into the migrated table inside a
savepoint (what a first sync does, `insert_first`), emptied before each write, in the sync's
batches: contacts in chunks of 5,000 (`CHUNK_SIZE`), raw records in pages of 200. The ways of
writing are alternated in every round (the machine's speed drifts); medians of the rounds:

- `handmade text`: the store's code before issue 14's change, kept here as the reference — each
  column encoded (datetimes `isoformat`, JSON by orjson) and COPY text built by columns, then
  psycopg2's `copy_expert` of that text;
- `psycopg3 text`: tuples of the plain values, written by psycopg 3's `write_row` in COPY's text
  format (column types set with `set_types`, JSON dumped by orjson inside `write_row`);
- `store: psycopg3 binary`: the store's own path, `bulk_rows` (JSON dumped, datetimes checked, rows
  as tuples) and `bulk_upsert(insert_first=True)`, i.e. psycopg 3's `write_row` in binary format.

`build` is the client work that can be done before the write (the sync does it while the batch
before is written), `copy` the write itself (with psycopg 3 this includes its formatting of the
rows, which `write_row` does as it sends them), `total` both. The ratios are over `handmade text`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import psycopg
import psycopg2
from psycopg.types.json import set_json_dumps
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from any directory
    sys.path.insert(0, str(ROOT))

from lineup_integrations.core.store import Contact, RawRecord, Same, Store, bulk_rows, bulk_upsert  # noqa: E402
from lineup_integrations.devtools.local_postgres import local_postgres  # noqa: E402

CONTACT_CHUNK = 5_000
RAW_PAGE = 200
CONTACT_TEXT = ("name", "first_name", "last_name", "email", "phone", "mobile", "title", "company", "department")
CONTACT_COLUMNS = (
    "tenant_id",
    "provider",
    "external_id",
    *CONTACT_TEXT,
    "mapping_version",
    "source_modified_at",
    "synced_at",
)
RAW_COLUMNS = (
    "tenant_id",
    "provider",
    "entity",
    "external_id",
    "payload",
    "source_modified_at",
    "deleted_at",
    "change_seq",
    "fetched_at",
)
Columns = dict[str, Any]


def contact_batches(count: int, seed: int = 14) -> list[Columns]:
    """Mapped contacts as `ContactsMapper.map_records` hands them to the store, in chunks."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    batches = []
    for start in range(0, count, CONTACT_CHUNK):
        ids = [f"{4_876_000_000_000 + n}" for n in range(start, min(start + CONTACT_CHUNK, count))]
        columns: Columns = {"tenant_id": Same("bench"), "provider": Same("zoho"), "external_id": ids}
        for name in CONTACT_TEXT:
            columns[name] = [None if rng.random() < 0.1 else f"{name} {rng.randrange(10**9)} Ünï" for _ in ids]
        columns["mapping_version"] = Same(1)
        columns["source_modified_at"] = [
            now - dt.timedelta(seconds=rng.randrange(10**8), microseconds=n) for n in range(len(ids))
        ]
        columns["synced_at"] = Same(now)
        batches.append(columns)
    return batches


def raw_batches(count: int, seed: int = 15) -> list[Columns]:
    """Raw records as `ContactsSync` hands a page of them to the store: the parsed Zoho records."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    batches = []
    for start in range(0, count, RAW_PAGE):
        ids = [f"{4_876_000_000_000 + n}" for n in range(start, min(start + RAW_PAGE, count))]
        payloads = [
            {
                "id": external_id,
                "First_Name": f"Ann {n}",
                "Last_Name": "O'Brien",
                "Full_Name": f"Ann {n}",
                "Email": f"ann.{n}@example.com",
                "Phone": "+1 555 0100",
                "Title": 'Head\tof "ops"',
                "Owner": {"id": "1", "name": "Ow Ner", "email": "owner@example.com"},
                "Account_Name": {"id": "77", "name": "Acme Ünï"},
                "Mailing_City": None,
                "Modified_Time": "2026-11-26T14:20:00+05:30",
                "Tag": [],
                "$approval": {"delegate": False},
            }
            for n, external_id in enumerate(ids, start)
        ]
        batches.append(
            {
                "tenant_id": Same("bench"),
                "provider": Same("zoho"),
                "entity": Same("contacts"),
                "external_id": ids,
                "payload": payloads,
                "source_modified_at": [now - dt.timedelta(seconds=rng.randrange(10**8)) for _ in ids],
                "deleted_at": Same(None),
                "change_seq": Same(start // RAW_PAGE + 1),
                "fetched_at": Same(now),
            }
        )
    return batches


def as_tuples(columns: Columns) -> list[tuple[Any, ...]]:
    """The batch's rows, as `write_row` takes them."""
    count = next(len(values) for values in columns.values() if not isinstance(values, Same))
    return list(
        zip(
            *(([values.value] * count if isinstance(values, Same) else values) for values in columns.values()),
            strict=True,
        )
    )


# -- the reference: the store's hand-made COPY text (before issue 14) -------------------------------


def _escape_copy_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return _escape_copy_text(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


_NONE_AS_EMPTY: dict[None, str] = {None: ""}
_NONE_AS_NULL: dict[None, str] = {None: "\\N"}
_COPY_SPECIALS = ("\\", "\t", "\n", "\r")


def _copy_column(values: list[Any]) -> list[str]:
    """One column in COPY text: text escaped all at once (joined on NUL) when it needs it, None by `map`."""
    kinds = set(map(type, values))
    if kinds <= {str, type(None)}:
        joined = "\x00".join(map(_NONE_AS_EMPTY.get, values, values))
        if joined.count("\x00") == len(values) - 1:
            texts = (
                _escape_copy_text(joined).split("\x00") if any(char in joined for char in _COPY_SPECIALS) else values
            )
            return list(map(_NONE_AS_NULL.get, values, texts)) if type(None) in kinds else list(texts)
    return [_copy_text(value) for value in values]


def handmade_copy_text(table: Any, columns: Columns) -> str:
    """The batch as COPY text, as the store built it: datetimes as ISO 8601 (with their offset),
    JSON columns dumped by orjson, then each column in COPY's text format (the batches here have no
    repeated key)."""
    count = next(len(values) for values in columns.values() if not isinstance(values, Same))
    texts = []
    for name, values in columns.items():
        json_column = table.c[name].type.compile(dialect=postgresql.dialect()) == "JSON"
        if isinstance(values, Same):
            value = values.value
            value = orjson.dumps(value).decode() if json_column and value is not None else value
            texts.append([_copy_text(value)] * count)
            continue
        if json_column:
            values = [
                None if value is None else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
                for value in values
            ]
        elif values and isinstance(values[0], dt.datetime):
            values = [None if value is None else value.astimezone(dt.UTC).isoformat() for value in values]
        texts.append(_copy_column(values))
    return "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"


class Feed:
    """COPY data as the file psycopg2's `copy_expert` reads."""

    def __init__(self, text: str) -> None:
        self._text: str | None = text

    def read(self, _size: int = -1) -> str:
        text, self._text = self._text or "", None
        return text


def pg_types(table: Any, columns: tuple[str, ...]) -> list[str]:
    """PostgreSQL type names of `columns` for `Copy.set_types`."""
    dialect = postgresql.dialect()
    names = {"VARCHAR": "text", "TIMESTAMP WITH TIME ZONE": "timestamptz"}
    compiled = (table.c[name].type.compile(dialect=dialect).split("(")[0] for name in columns)
    return [names.get(name, name.lower()) for name in compiled]


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def handmade(url: dict[str, Any], table: Any, batches: list[Columns]) -> tuple[float, float]:
    """The reference: hand-made COPY text, then psycopg2's copy_expert; (build seconds, copy seconds)."""
    build = copy = 0.0
    sql = f"COPY {table.name} ({', '.join(batches[0])}) FROM STDIN"
    connection = psycopg2.connect(**url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table.name}")
            connection.commit()
            for columns in batches:
                spent, text = timed(lambda columns=columns: handmade_copy_text(table, columns))
                build += spent

                def write(text: str = text) -> None:
                    cursor.execute("SAVEPOINT bulk_insert_first")
                    cursor.copy_expert(sql, Feed(text))
                    cursor.execute("RELEASE SAVEPOINT bulk_insert_first")

                copy += timed(write)[0]
            connection.commit()
    finally:
        connection.close()
    return build, copy


def through_the_store(store: Store, table: Any, batches: list[Columns], key: tuple[str, ...]) -> tuple[float, float]:
    """The store's path: `bulk_rows`, then `bulk_upsert(insert_first=True)`; (build seconds, copy seconds)."""
    build = copy = 0.0
    with store.connection() as connection:
        with store.session(on=connection) as session:
            session.execute(text(f"TRUNCATE {table.name}"))
        with store.session(on=connection) as session:
            for columns in batches:
                spent, rows = timed(lambda columns=columns: bulk_rows(connection, table, columns, key=key))
                build += spent
                copy += timed(
                    lambda rows=rows: bulk_upsert(session, rows, update=rows.columns[len(key) :], insert_first=True)
                )[0]
    return build, copy


def with_psycopg3(url: dict[str, Any], table: Any, batches: list[Columns], *, binary: bool) -> tuple[float, float]:
    """Tuples of the plain values, then psycopg 3's `write_row`; (build seconds, copy seconds)."""
    build = copy = 0.0
    columns = tuple(batches[0])
    types = pg_types(table, columns)
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")
    connect = {"host": url["host"], "port": url["port"], "user": url["user"], "dbname": url["dbname"]}
    with psycopg.connect(**connect) as connection, connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table.name}")
        connection.commit()
        for batch in batches:
            spent, rows = timed(lambda batch=batch: as_tuples(batch))
            build += spent

            def write(rows: list[tuple[Any, ...]] = rows) -> None:
                cursor.execute("SAVEPOINT bulk_insert_first")
                with cursor.copy(sql) as copy_:
                    copy_.set_types(types)
                    for row in rows:
                        copy_.write_row(row)
                cursor.execute("RELEASE SAVEPOINT bulk_insert_first")

            copy += timed(write)[0]
        connection.commit()
    return build, copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    set_json_dumps(lambda value: orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    workloads = {
        "contacts": (Contact.__table__, contact_batches(args.contacts), ("tenant_id", "provider", "external_id")),
        "raw records": (
            RawRecord.__table__,
            raw_batches(args.contacts),
            ("tenant_id", "provider", "entity", "external_id"),
        ),
    }
    with local_postgres() as server:
        server.execute("CREATE DATABASE copy_formats")
        store = Store(server.url("copy_formats"))
        store.upgrade()
        url = {"host": "127.0.0.1", "port": server.port, "user": server.user, "dbname": "copy_formats"}
        ways: dict[str, Callable[[Any, list[Columns], tuple[str, ...]], tuple[float, float]]] = {
            "handmade text": lambda table, batches, _key: handmade(url, table, batches),
            "psycopg3 text": lambda table, batches, _key: with_psycopg3(url, table, batches, binary=False),
            "store: psycopg3 binary": lambda table, batches, key: through_the_store(store, table, batches, key),
        }
        print(f"{args.contacts:,} rows per workload, {args.rounds} rounds, ways alternated; medians in seconds")
        for workload, (table, batches, key) in workloads.items():
            times: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
            for round_ in range(args.rounds):
                order = list(ways) if round_ % 2 == 0 else list(reversed(ways))
                for way in order:
                    times[way].append(ways[way](table, batches, key))
            medians = {
                way: (
                    statistics.median(b for b, _ in runs),
                    statistics.median(c for _, c in runs),
                    statistics.median(b + c for b, c in runs),
                )
                for way, runs in times.items()
            }
            base = medians["handmade text"]
            for way, (build, copy, total) in medians.items():
                print(
                    f"{workload:12} {way:23} build {build:6.3f}  copy {copy:6.3f}  total {total:6.3f}"
                    f"  copy/handmade {copy / base[1]:5.2f}  total/handmade {total / base[2]:5.2f}"
                )
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
