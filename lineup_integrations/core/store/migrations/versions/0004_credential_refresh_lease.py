"""a refresh lease on credentials: token refreshes no longer hold a transaction over the HTTP call

A refresh used to run the provider's token call inside the transaction that locked the
credentials row (on SQLite `BEGIN IMMEDIATE`: every writer of the store waited for the provider).
Now a caller claims a short lease on the row (`refresh_lease_owner`, a random token of that
caller, until `refresh_lease_expires_at`), calls the provider outside any transaction, and only
the lease holder may store the result. A crashed holder's lease simply expires.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refresh_lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("refresh_lease_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("refresh_lease_expires_at")
        batch_op.drop_column("refresh_lease_owner")
