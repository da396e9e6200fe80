"""raw records and contacts keyed by their natural keys; identifying text in the "C" collation

A sync writes every record of a page into the indexes of `raw_records` and `contacts`; this revision
makes that cheaper (about a fifth of PostgreSQL's time per record): the surrogate `id`s and their
sequences go, the natural keys become the primary keys (led, for raw records, by the column that
differs: `external_id`), and the identifying columns compare by bytes on PostgreSQL instead of by a
language's collation. The contacts mapping step's checkpoint, a keyset that held a raw record's
`id`, now holds its `external_id`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RAW_KEY = ("external_id", "tenant_id", "provider", "entity")
KEY_LENGTHS = {"tenant_id": 128, "provider": 40, "entity": 40, "external_id": 255}
CONTACT_KEY = ("tenant_id", "provider", "external_id")
MAPPED_STREAM = "contacts.mapped"
ALL_OF_SEQ = 2**63 - 1  # the old checkpoint's id meaning "every raw record of after_seq"


def _key_string(length: int, *, c_collation: bool) -> Any:
    collated = sa.String(length, collation="C") if c_collation else sa.String(length)
    return sa.String(length).with_variant(collated, "postgresql")


def _collate(batch_op: Any, columns: tuple[str, ...], *, c_collation: bool) -> None:
    for column in columns:
        batch_op.alter_column(
            column,
            type_=_key_string(KEY_LENGTHS[column], c_collation=c_collation),
            existing_type=sa.String(KEY_LENGTHS[column]),
            existing_nullable=False,
        )


def _rewrite_mapped_cursors(rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    cursors = sa.table(
        "sync_cursors",
        sa.column("tenant_id", sa.String),
        sa.column("provider", sa.String),
        sa.column("stream", sa.String),
        sa.column("state", sa.JSON),
    )
    bind = op.get_bind()
    for tenant_id, provider, state in bind.execute(
        sa.select(cursors.c.tenant_id, cursors.c.provider, cursors.c.state).where(cursors.c.stream == MAPPED_STREAM)
    ).all():
        bind.execute(
            cursors.update()
            .where(cursors.c.tenant_id == tenant_id, cursors.c.provider == provider, cursors.c.stream == MAPPED_STREAM)
            .values(state=rewrite(dict(state)))
        )


def _to_external_id_keyset(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint inside a change number (after some id of it) becomes the end of the number
    before: the rest of that number is mapped again, which upserts the same contacts."""
    after_id = state.pop("after_id", ALL_OF_SEQ)
    if after_id != ALL_OF_SEQ and state.get("after_seq"):
        state["after_seq"] -= 1
    state["after_external_id"] = None
    return state


def _to_id_keyset(state: dict[str, Any]) -> dict[str, Any]:
    if state.pop("after_external_id", None) is not None and state.get("after_seq"):
        state["after_seq"] -= 1
    state["after_id"] = ALL_OF_SEQ
    return state


def upgrade() -> None:
    with op.batch_alter_table("raw_records", schema=None, recreate="auto") as batch_op:
        batch_op.drop_constraint("uq_raw_records_key", type_="unique")
        batch_op.drop_column("id")
        _collate(batch_op, RAW_KEY, c_collation=True)
        batch_op.create_primary_key("pk_raw_records", list(RAW_KEY))
    with op.batch_alter_table("contacts", schema=None, recreate="auto") as batch_op:
        batch_op.drop_constraint("uq_contacts_key", type_="unique")
        batch_op.drop_column("id")
        _collate(batch_op, CONTACT_KEY, c_collation=True)
        batch_op.create_primary_key("pk_contacts", list(CONTACT_KEY))
    _rewrite_mapped_cursors(_to_external_id_keyset)


def _restore_surrogate_id(batch_op: Any, table: str, natural_key: tuple[str, ...]) -> None:
    batch_op.drop_constraint(f"pk_{table}", type_="primary")
    batch_op.add_column(
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), nullable=False)
    )
    batch_op.create_primary_key(f"{table}_pkey", ["id"])
    batch_op.create_unique_constraint(f"uq_{table}_key", list(natural_key))


def downgrade() -> None:
    _rewrite_mapped_cursors(_to_id_keyset)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        _collate(batch_op, CONTACT_KEY, c_collation=False)
        _restore_surrogate_id(batch_op, "contacts", CONTACT_KEY)
    with op.batch_alter_table("raw_records", schema=None) as batch_op:
        _collate(batch_op, RAW_KEY, c_collation=False)
        _restore_surrogate_id(batch_op, "raw_records", ("tenant_id", "provider", "entity", "external_id"))
