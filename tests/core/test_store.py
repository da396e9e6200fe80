import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lineup_integrations.core.store import (
    ApiUsage,
    Contact,
    Integration,
    RawRecord,
    Same,
    Store,
    api_calls_since,
    audit,
    bulk_rows,
    bulk_upsert,
    record_api_usage,
    upsert,
)
from lineup_integrations.core.store.db import SQLITE_CACHE_KIB, SQLITE_WAL_AUTOCHECKPOINT_PAGES
from lineup_integrations.core.store.models import AuditEntry, Base, SyncCursor


def test_migrations_are_idempotent_and_datetimes_come_back_in_utc(store: Store) -> None:
    store.upgrade()
    with store.session() as session:
        session.add(Integration(id="int-1", tenant_id="acme", provider="zoho", status="connected"))
    with store.session() as session:
        integration = session.get(Integration, "int-1")
        assert integration is not None
        assert integration.created_at.tzinfo is not None
        assert integration.created_at.utcoffset() == dt.timedelta(0)


def test_the_migrations_build_the_schema_the_models_describe(store: Store) -> None:
    with store.engine.connect() as connection:
        drift = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert drift == []


def test_revision_0005_keeps_the_integrations_as_tenant_wide_and_makes_tenant_provider_and_user_unique(
    store: Store,
) -> None:
    store.downgrade("0004")
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO integrations (id, tenant_id, provider, status, scopes, created_at, updated_at) "
                "VALUES (:id, :tenant, :provider, 'connected', '[]', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            [
                {"id": "int-acme-zoho", "tenant": "acme", "provider": "zoho"},
                {"id": "int-acme-google", "tenant": "acme", "provider": "google_calendar"},
            ],
        )
        connection.execute(
            text(
                "INSERT INTO oauth_states (state_hash, tenant_id, provider, redirect_uri, created_at, expires_at) "
                "VALUES ('h1', 'acme', 'zoho', 'http://cb', '2026-01-01 00:00:00', '2026-01-01 00:10:00')"
            )
        )
    store.upgrade()

    with store.session() as session:
        kept = session.execute(select(Integration.id, Integration.user_id, Integration.status)).all()
        assert session.scalar(text("SELECT user_id FROM oauth_states WHERE state_hash = 'h1'")) == ""
    assert sorted(kept) == [("int-acme-google", "", "connected"), ("int-acme-zoho", "", "connected")]

    def add(integration_id: str, user_id: str) -> None:
        with store.session() as session:
            session.add(Integration(id=integration_id, tenant_id="acme", provider="google_calendar", user_id=user_id))

    add("int-ana", "ana")  # a user's integration beside the tenant-wide one
    add("int-ben", "ben")  # and another user's
    with pytest.raises(IntegrityError):
        add("int-ana-again", "ana")
    with pytest.raises(IntegrityError):
        add("int-tenant-again", "")
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Integration)) == 4


def test_revision_0003_keeps_records_and_contacts_and_moves_the_mapping_checkpoint_to_external_ids(
    store: Store,
) -> None:
    store.downgrade("0002")
    raw = (
        "INSERT INTO raw_records (tenant_id, provider, entity, external_id, payload, change_seq, fetched_at) "
        "VALUES (:tenant, 'zoho', 'contacts', :external_id, '{\"id\": 1}', :seq, '2026-01-01 00:00:00')"
    )
    cursor = (
        "INSERT INTO sync_cursors (tenant_id, provider, stream, state, updated_at) "
        "VALUES (:tenant, 'zoho', :stream, :state, '2026-01-01 00:00:00')"
    )
    with store.engine.begin() as connection:
        connection.execute(
            text(raw),
            [
                {"tenant": "acme", "external_id": "1", "seq": 5},
                {"tenant": "acme", "external_id": "2", "seq": 5},
                {"tenant": "globex", "external_id": "1", "seq": 7},
            ],
        )
        connection.execute(
            text(cursor),
            [
                {
                    "tenant": "acme",
                    "stream": "contacts.mapped",
                    "state": '{"after_seq": 5, "after_id": 1}',
                },  # inside seq 5
                {
                    "tenant": "globex",
                    "stream": "contacts.mapped",
                    "state": f'{{"after_seq": 7, "after_id": {2**63 - 1}}}',
                },
                {"tenant": "acme", "stream": "contacts", "state": '{"watermark": null}'},
            ],
        )
        connection.execute(
            text(
                "INSERT INTO contacts (tenant_id, provider, external_id, email, mapping_version, synced_at) "
                "VALUES ('acme', 'zoho', '1', 'a@x.io', 1, '2026-01-01 00:00:00')"
            )
        )
    store.upgrade()
    with store.session() as session:
        kept = session.execute(select(RawRecord.tenant_id, RawRecord.external_id, RawRecord.payload)).all()
        contacts = session.execute(select(Contact.tenant_id, Contact.external_id, Contact.email)).all()
        states = dict(
            session.execute(
                select(SyncCursor.tenant_id, SyncCursor.state).where(SyncCursor.stream == "contacts.mapped")
            ).all()
        )
    assert sorted(kept) == [("acme", "1", {"id": 1}), ("acme", "2", {"id": 1}), ("globex", "1", {"id": 1})]
    assert contacts == [("acme", "1", "a@x.io")]
    # Inside a change number: the rest of it is mapped again (an idempotent upsert), nothing is skipped.
    assert states == {
        "acme": {"after_seq": 4, "after_external_id": None},
        "globex": {"after_seq": 7, "after_external_id": None},
    }
    with pytest.raises(IntegrityError), store.engine.begin() as connection:  # the natural key is the primary key
        connection.execute(text(raw), {"tenant": "acme", "external_id": "1", "seq": 6})


def test_sqlite_connections_are_set_up_for_many_small_write_transactions(tmp_path: Path) -> None:
    """WAL, a checkpoint every 10,000 pages and a page cache that holds a sync's key indexes, on every
    connection of the pool."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with store.engine.connect() as connection:
            pragmas = [
                connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "wal_autocheckpoint", "cache_size")
            ]
    finally:
        store.dispose()
    assert pragmas == ["wal", SQLITE_WAL_AUTOCHECKPOINT_PAGES, -SQLITE_CACHE_KIB]


@pytest.mark.parametrize("store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_postgresql_is_driven_by_psycopg_3_whichever_driver_the_url_names(store_url: str) -> None:
    """The bulk writes' binary COPY is psycopg 3's, on the connection of the rest of the transaction."""
    for url in (store_url, store_url.replace("+psycopg2", ""), store_url.replace("+psycopg2", "+psycopg")):
        store = Store(url)
        try:
            with store.engine.connect() as connection:
                driver = type(connection.connection.driver_connection).__module__
        finally:
            store.dispose()
        assert (store.engine.dialect.driver, driver) == ("psycopg", "psycopg"), url


def test_transactions_on_a_held_connection_commit_and_roll_back_one_by_one(store: Store) -> None:
    def add(external_id: str) -> Contact:
        return Contact(tenant_id="acme", provider="zoho", external_id=external_id, mapping_version=1)

    with store.connection() as connection:
        with store.session(on=connection) as session:
            session.add(add("kept"))
        try:
            with store.session(on=connection) as session:
                session.add(add("rolled back"))
                session.flush()
                raise RuntimeError("the page failed")
        except RuntimeError:
            pass
        with store.session(on=connection) as session:
            session.add(add("after"))
        with store.session() as other:  # another connection sees what was committed, and only that
            assert set(other.scalars(select(Contact.external_id))) == {"kept", "after"}


def test_upsert_inserts_then_updates_by_key(store: Store) -> None:
    base = {"tenant_id": "acme", "provider": "zoho", "mapping_version": 1}
    with store.session() as session:
        upsert(
            session,
            Contact,
            [{**base, "external_id": "1", "email": "a@x.io"}, {**base, "external_id": "2", "email": "b@x.io"}],
            key=["tenant_id", "provider", "external_id"],
            update=["email"],
        )
    with store.session() as session:
        upsert(
            session,
            Contact,
            [{**base, "external_id": "2", "email": "new@x.io"}],
            key=["tenant_id", "provider", "external_id"],
            update=["email"],
        )
    with store.session() as session:
        emails = dict(session.execute(select(Contact.external_id, Contact.email)).all())
    assert emails == {"1": "a@x.io", "2": "new@x.io"}


AWKWARD_TEXTS = ["tab\there", "new\nline\r\n", "back\\slash \\N", "quote \" and ' ", "", "ünï © 😀", "\\t literal"]


def test_bulk_upsert_round_trips_awkward_values_and_the_last_repeated_key_wins(store: Store) -> None:
    """Awkward text in a plain column (the key), as the one value of every row (`Same`), and inside
    JSON, a column mixing text and NULL, and a key repeated in one batch — given as plain Python
    values and encoded by the store, through SQLite's executemany and PostgreSQL's COPY text format."""
    key = ("tenant_id", "provider", "entity", "external_id")
    moment = dt.datetime(2023, 10, 15, 8, 50, 1, 250_000, tzinfo=dt.UTC)

    def write(tenant: str, rows: list[tuple[str, object, dt.datetime | None, int]]) -> None:
        """(external id, payload, source modification time, change number) rows of one tenant."""
        external_ids, payloads, modified, change_seqs = map(list, zip(*rows, strict=True))
        with store.session() as session:
            columns = {
                "tenant_id": Same(tenant),
                "provider": Same("zoho"),
                "entity": Same("contacts"),
                "external_id": external_ids,
                "payload": payloads,
                "source_modified_at": modified,
                "deleted_at": Same(None),
                "change_seq": change_seqs,
                "fetched_at": Same(moment),
            }
            bulk_upsert(session, bulk_rows(session, RawRecord.__table__, columns, key=key), update=list(columns)[4:])

    payloads: dict[str, object] = {
        text: {"Full_Name": text, "Nested": {"list": [text, None, 1.5]}} for text in AWKWARD_TEXTS
    }
    payloads["no payload"] = None
    write("acme", [(text, payload, moment, 1) for text, payload in payloads.items()])
    tenant = "ac\tme \\N"  # one awkward value for every row (converted once, as such)
    write(tenant, [("repeated", {"v": "old"}, None, 2), ("repeated", {"v": "new"}, None, 3)])

    with store.session() as session:
        stored = {row.external_id: row for row in session.scalars(select(RawRecord))}
    assert {text: row.payload for text, row in stored.items() if text != "repeated"} == payloads
    assert (
        stored["repeated"].tenant_id,
        stored["repeated"].payload,
        stored["repeated"].change_seq,
        stored["repeated"].source_modified_at,
    ) == (tenant, {"v": "new"}, 3, None)
    assert stored["tab\there"].source_modified_at == moment and stored["tab\there"].deleted_at is None


# A contact write through `bulk_upsert`: the key, then the columns updated.
CONTACT_EMAIL_COLUMNS = ("tenant_id", "provider", "external_id", "email", "mapping_version", "synced_at")


def bulk_write_contacts(session: Session, contacts: list[tuple[object, ...]], **options: Any) -> None:
    columns = dict(zip(CONTACT_EMAIL_COLUMNS, map(list, zip(*contacts, strict=True)), strict=True))
    bulk_upsert(
        session,
        bulk_rows(session, Contact.__table__, columns, key=CONTACT_EMAIL_COLUMNS[:3]),
        update=CONTACT_EMAIL_COLUMNS[3:],
        **options,
    )


def test_bulk_rows_refuses_columns_of_different_lengths(store: Store) -> None:
    with store.session() as session, pytest.raises(ValueError, match="different numbers of rows"):
        bulk_rows(
            session,
            Contact.__table__,
            {"tenant_id": Same("acme"), "external_id": ["1", "2"], "email": ["a@x.io"]},
            key=["tenant_id", "external_id"],
        )


def test_bulk_rows_encode_datetimes_and_json_by_the_columns_type(store: Store) -> None:
    """The store, not its caller, encodes values: datetimes at any offset land as the same instant
    in UTC (microseconds kept; a column mixing offsets and NULL, and one value for every row), a JSON
    column takes dicts, lists and a bare string too, stored as a JSON string, not as raw text."""
    key = ("tenant_id", "provider", "entity", "external_id")
    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    modified = [
        dt.datetime(2023, 10, 15, 14, 20, 0, 5, tzinfo=india),
        None,
        dt.datetime(2023, 10, 15, 8, 50, tzinfo=dt.UTC),
        dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=india),
    ]
    payloads = ["just text", {"Nested": [1, 2.5, None]}, [], {"n": 7}]
    fetched = dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    with store.session() as session:
        columns = {
            "tenant_id": Same("acme"),
            "provider": Same("zoho"),
            "entity": Same("contacts"),
            "external_id": ["1", "2", "3", "4"],
            "payload": payloads,
            "source_modified_at": modified,
            "deleted_at": Same(None),
            "change_seq": Same(1),
            "fetched_at": Same(fetched),
        }
        bulk_upsert(session, bulk_rows(session, RawRecord.__table__, columns, key=key), update=["payload"])
    with store.session() as session:
        stored = {row.external_id: row for row in session.scalars(select(RawRecord))}
        in_utc = session.scalars(
            select(RawRecord.external_id).where(
                RawRecord.source_modified_at == dt.datetime(2023, 10, 15, 8, 50, 0, 5, tzinfo=dt.UTC)
            )
        ).all()
    assert [stored[name].source_modified_at for name in "1234"] == modified
    assert [stored[name].payload for name in "1234"] == payloads
    assert {row.fetched_at for row in stored.values()} == {dt.datetime(2026, 1, 1, 4, tzinfo=dt.UTC)}
    assert in_utc == ["1"]  # compared in SQL with a value SQLAlchemy wrote: the same text, the same instant


def test_bulk_rows_refuse_naive_datetimes_other_values_in_datetime_columns_and_unknown_columns(store: Store) -> None:
    def rows(values: dict[str, Any]) -> None:
        with store.session() as session:
            bulk_rows(
                session,
                Contact.__table__,
                {"tenant_id": Same("acme"), "external_id": ["1"], **values},
                key=["tenant_id", "external_id"],
            )

    with pytest.raises(ValueError, match="naive datetime"):
        rows({"synced_at": [dt.datetime(2026, 1, 1)]})
    with pytest.raises(ValueError, match="naive datetime"):
        rows({"synced_at": Same(dt.datetime(2026, 1, 1))})
    with pytest.raises(TypeError, match="not a datetime"):
        rows({"synced_at": ["2026-01-01 00:00:00"]})
    with pytest.raises(ValueError, match="no column nickname"):
        rows({"nickname": ["Bob"]})


def test_bulk_upsert_insert_first_inserts_new_rows_and_upserts_a_batch_that_meets_an_existing_key(store: Store) -> None:
    """`insert_first` is a hint, never a change of meaning: a batch with a key already stored is
    upserted whole (PostgreSQL rolls its plain COPY back to the savepoint) and the transaction goes on."""

    def write(session: Session, rows: list[tuple[str, int]]) -> None:
        synced_at = dt.datetime.now(dt.UTC)
        contacts = [("acme", "zoho", email[0], email, version, synced_at) for email, version in rows]
        bulk_write_contacts(session, contacts, insert_first=True)

    with store.session() as session:
        write(session, [("a@x.io", 1), ("b@x.io", 1), ("b@y.io", 1)])
    with store.session() as session:
        write(session, [("b@z.io", 2), ("c@x.io", 2)])
        session.add(Contact(tenant_id="acme", provider="zoho", external_id="d", mapping_version=3))
    with store.session() as session:
        stored = {
            contact.external_id: (contact.email, contact.mapping_version)
            for contact in session.scalars(select(Contact))
        }
    assert stored == {"a": ("a@x.io", 1), "b": ("b@z.io", 2), "c": ("c@x.io", 2), "d": (None, 3)}


def test_bulk_upsert_runs_meanwhile_once_while_the_database_ingests_the_rows(store: Store) -> None:
    """`meanwhile` runs once per write, also when PostgreSQL's plain COPY meets an existing key and
    the batch is upserted instead. On PostgreSQL it runs while the server is still in the COPY (seen
    from another connection); on SQLite after the rows. An exception from it aborts the write."""
    seen: list[str | None] = []

    def write(emails: list[str], *, insert_first: bool, fail: bool = False) -> None:
        with store.session() as session:
            backend = (
                None if store.is_sqlite else session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            )

            def meanwhile() -> None:
                if fail:
                    raise RuntimeError("meanwhile failed")
                if backend is None:
                    seen.append(None)
                    return
                with store.engine.connect() as other:
                    seen.append(
                        other.execute(
                            text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": backend}
                        ).scalar()
                    )

            synced_at = dt.datetime.now(dt.UTC)
            contacts = [("acme", "zoho", email[0], email, 1, synced_at) for email in emails]
            bulk_write_contacts(session, contacts, insert_first=insert_first, meanwhile=meanwhile)

    write(["a@x.io", "b@x.io"], insert_first=True)  # new keys: the plain COPY
    write(["b@y.io", "c@x.io"], insert_first=True)  # "b" exists: the plain COPY is undone, the batch upserted
    write(["c@y.io"], insert_first=False)
    with pytest.raises(RuntimeError, match="meanwhile failed"):
        write(["d@x.io"], insert_first=False, fail=True)

    with store.session() as session:
        stored = {contact.external_id: contact.email for contact in session.scalars(select(Contact))}
    assert stored == {"a": "a@x.io", "b": "b@y.io", "c": "c@y.io"}
    assert len(seen) == 3
    if store.is_sqlite:
        assert seen == [None, None, None]
    else:
        assert all(query is not None and query.startswith("COPY") for query in seen), seen


def test_audit_entries_append_in_the_callers_transaction(store: Store) -> None:
    with store.session() as session:
        audit(session, tenant_id="acme", provider="zoho", action="connect", actor="user:1", detail={"scopes": 2})
    with store.session() as session:
        entries = session.scalars(select(AuditEntry)).all()
    assert [(e.action, e.actor, e.detail) for e in entries] == [("connect", "user:1", {"scopes": 2})]


def test_api_usage_adds_up_per_hour_and_counts_the_last_day(store: Store) -> None:
    now = dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.UTC)
    with store.session() as session:
        record_api_usage(session, tenant_id="acme", provider="zoho", calls=3, at=now)
        record_api_usage(session, tenant_id="acme", provider="zoho", calls=4, at=now + dt.timedelta(minutes=20))
        record_api_usage(session, tenant_id="acme", provider="zoho", calls=9, at=now - dt.timedelta(hours=30))
        record_api_usage(session, tenant_id="globex", provider="zoho", calls=5, at=now)
    with store.session() as session:
        since = now - dt.timedelta(hours=24)
        assert api_calls_since(session, tenant_id="acme", provider="zoho", since=since) == 7
        assert session.get(ApiUsage, ("acme", "zoho", now.replace(minute=0))).calls == 7
