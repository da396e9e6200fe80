"""per-user integrations: a calendar is connected once per Lineup user, not once per tenant

`integrations.user_id` names the Lineup user whose account an integration is ('' for a
tenant-wide one, as Zoho's organisation: every existing row) and the unique key becomes
(tenant_id, provider, user_id). `oauth_states.user_id` carries the user from `connect` to the
callback, so the callback knows whose grant it saves.

The downgrade only works while no tenant has two integrations of one provider (two users'
calendars): the old key could not hold them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=128), server_default="", nullable=False))
        batch_op.drop_constraint("uq_integrations_tenant_provider", type_="unique")
        batch_op.create_unique_constraint("uq_integrations_tenant_provider_user", ["tenant_id", "provider", "user_id"])
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=128), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_column("user_id")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_integrations_tenant_provider_user", type_="unique")
        batch_op.create_unique_constraint("uq_integrations_tenant_provider", ["tenant_id", "provider"])
        batch_op.drop_column("user_id")
