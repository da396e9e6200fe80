"""The mapping step over the raw records of the store, chunk by chunk (`ContactsMapper.run`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lineup_integrations.core.store import Contact, RawRecord, Store, load_stream_state
from lineup_integrations.zoho.contacts import STREAM, ContactsMapper

FETCHED_AT = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def modified_at(external_id: str) -> dt.datetime:
    """A record's source modification time, in Zoho's organisation offset (IST), microseconds included."""
    return dt.datetime(2026, 11, 26, 9, ord(external_id[0]) % 60, 1, 250, tzinfo=dt.timezone(dt.timedelta(hours=5.5)))


def land(store: Store, change_seq: int, external_ids: list[str]) -> None:
    """Raw records as one committed sync page writes them: one change number for the page."""
    with store.session() as session:
        session.add_all(
            RawRecord(tenant_id="acme", provider="zoho", entity="contacts", external_id=external_id,
                      payload={"id": external_id, "Email": f"{external_id}@acme.example"}, change_seq=change_seq,
                      source_modified_at=modified_at(external_id), fetched_at=FETCHED_AT)
            for external_id in external_ids
        )  # fmt: skip


def contact_emails(store: Store) -> dict[str, str | None]:
    with store.session() as session:
        return dict(session.execute(select(Contact.external_id, Contact.email)).all())


def test_chunks_that_end_inside_a_change_number_map_every_record_once(store: Store) -> None:
    land(store, 1, ["d", "a", "c", "b"])
    land(store, 2, ["f", "e", "g"])

    first = ContactsMapper(store, "acme", chunk_size=3).run()  # chunks: a b c | d e f | g

    assert first.upserted == 7
    assert contact_emails(store) == {key: f"{key}@acme.example" for key in "abcdefg"}
    with store.session() as session:
        state = load_stream_state(session, tenant_id="acme", provider="zoho", stream=STREAM)
    assert state is not None and (state["after_seq"], state["after_external_id"]) == (2, "g")

    land(store, 3, ["h"])
    assert ContactsMapper(store, "acme", chunk_size=3).run().upserted == 1  # only what came after the checkpoint


def test_contacts_carry_their_records_modification_time_and_when_they_were_mapped(store: Store) -> None:
    """The mapper hands the store datetimes (read from the raw records, and the time of the mapping);
    the store writes them: they read back as the same instants, in UTC."""
    land(store, 1, ["a", "b"])
    before = dt.datetime.now(dt.UTC)
    ContactsMapper(store, "acme").run()
    after = dt.datetime.now(dt.UTC)
    with store.session() as session:
        rows = session.execute(select(Contact.external_id, Contact.source_modified_at, Contact.synced_at)).all()
    assert {external_id: modified for external_id, modified, _ in rows} == {key: modified_at(key) for key in "ab"}
    assert all(modified.tzinfo is not None and modified.utcoffset() == dt.timedelta(0) for _, modified, _ in rows)
    assert all(before <= synced <= after for _, _, synced in rows)
