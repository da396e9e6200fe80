"""The mapping step over the raw records of the store, chunk by chunk (`ContactsMapper.run`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lineup_integrations.core.store import Contact, RawRecord, Store, load_stream_state
from lineup_integrations.zoho.contacts import STREAM, ContactsMapper

FETCHED_AT = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)


def land(store: Store, change_seq: int, external_ids: list[str]) -> None:
    """Raw records as one committed sync page writes them: one change number for the page."""
    with store.session() as session:
        session.add_all(
            RawRecord(tenant_id="acme", provider="zoho", entity="contacts", external_id=external_id,
                      payload={"id": external_id, "Email": f"{external_id}@acme.example"}, change_seq=change_seq,
                      fetched_at=FETCHED_AT)
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
