"""calendar events: checkpoints per account and calendar, raw events, Lineup's events, busy blocks

`calendar_checkpoints` holds each (integration, calendar)'s sync position; `calendar_raw_events`
the events as the provider returned them; `calendar_events` Lineup's events and occurrences
(UTC, with their zones); `interviewer_busy_blocks` each user's merged busy time. The first three
are keyed by integration (one interviewer's account), so one user's data is found and reset alone.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _key(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "calendar_checkpoints",
        sa.Column("integration_id", sa.String(40), sa.ForeignKey("integrations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("calendar_id", _key(255), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )  # fmt: skip
    op.create_table(
        "calendar_raw_events",
        sa.Column("integration_id", _key(40), nullable=False),
        sa.Column("calendar_id", _key(255), nullable=False),
        sa.Column("event_id", _key(255), nullable=False),
        sa.Column("tenant_id", _key(128), nullable=False),
        sa.Column("provider", _key(40), nullable=False),
        sa.Column("series_key", _key(255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("seen_round", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("integration_id", "calendar_id", "event_id", name="pk_calendar_raw_events"),
    )
    op.create_index(
        "ix_calendar_raw_events_series", "calendar_raw_events", ["integration_id", "calendar_id", "series_key"]
    )
    op.create_table(
        "calendar_events",
        sa.Column("integration_id", _key(40), nullable=False),
        sa.Column("calendar_id", _key(255), nullable=False),
        sa.Column("event_id", _key(255), nullable=False),
        sa.Column("tenant_id", _key(128), nullable=False),
        sa.Column("provider", _key(40), nullable=False),
        sa.Column("user_id", _key(128), nullable=False),
        sa.Column("source_key", _key(255), nullable=False),
        sa.Column("ical_uid", sa.String(1024)),
        sa.Column("title", sa.String(1024)),
        sa.Column("organizer", sa.String(320)),
        sa.Column("location", sa.String(1024)),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_zone", sa.String(64), nullable=False),
        sa.Column("end_zone", sa.String(64), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("busy", sa.Boolean(), nullable=False),
        sa.Column("series_id", sa.String(255)),
        sa.Column("original_start_utc", sa.DateTime(timezone=True)),
        sa.Column("attendees", sa.JSON(), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True)),
        sa.Column("etag", sa.String(255)),
        sa.Column("mapping_version", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("integration_id", "calendar_id", "event_id", name="pk_calendar_events"),
    )
    op.create_index("ix_calendar_events_source", "calendar_events", ["integration_id", "calendar_id", "source_key"])
    op.create_index("ix_calendar_events_user_start", "calendar_events", ["tenant_id", "user_id", "start_utc"])
    op.create_table(
        "interviewer_busy_blocks",
        sa.Column("tenant_id", _key(128), nullable=False),
        sa.Column("user_id", _key(128), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", "start_utc", name="pk_interviewer_busy_blocks"),
    )


def downgrade() -> None:
    op.drop_table("interviewer_busy_blocks")
    op.drop_table("calendar_events")
    op.drop_table("calendar_raw_events")
    op.drop_table("calendar_checkpoints")
