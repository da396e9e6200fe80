"""The integration store's tables (SQLAlchemy 2 declarative models).

One schema serves SQLite (the embedded default) and PostgreSQL (production); Alembic owns
every change to it (`alembic/versions`). Secrets live only in `credentials`, as vault
ciphertext; nothing else in the store may hold a token.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite stores BIGINT primary keys without autoincrement unless they are plain INTEGER.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def key_string(length: int) -> String:
    """Text that identifies (ids, tenant and provider names), ordered by its bytes. On PostgreSQL
    that is the "C" collation: a language's collation (`strcoll`) means nothing for ids and costs
    each of the B-tree comparisons of a bulk write. SQLite's default collation already compares bytes."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


TENANT_WIDE = ""
"""The `user_id` of a tenant-wide integration (Zoho's organisation), as opposed to one Lineup
user's (a calendar, `Provider.per_user`)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_integration_id() -> str:
    return f"int-{uuid.uuid4().hex[:20]}"


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on both backends: SQLite drops tzinfo, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: pass an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012 - SQLAlchemy's hook


class IntegrationStatus(enum.StrEnum):
    PENDING = "pending"
    CONNECTED = "connected"
    NEEDS_REAUTH = "needs_reauth"
    DISCONNECTED = "disconnected"
    ERROR = "error"


class IntegrationNotConnectedError(Exception):
    """A tenant's integration cannot be used: never connected, disconnected, or awaiting re-consent."""


class Integration(Base):
    """One tenant's connection to one provider, tenant-wide (`user_id` '') or for one Lineup user
    (a per-user provider: a calendar). (tenant_id, provider, user_id) is unique: reconnecting reuses the row."""

    __tablename__ = "integrations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider", "user_id", name="uq_integrations_tenant_provider_user"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_integration_id)
    tenant_id: Mapped[str] = mapped_column(String(128), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    # The Lineup user whose account this is (revision 0005); TENANT_WIDE ('') for a tenant-wide integration.
    user_id: Mapped[str] = mapped_column(String(128), default=TENANT_WIDE, server_default=TENANT_WIDE)
    status: Mapped[str] = mapped_column(String(20), default=IntegrationStatus.PENDING.value)
    # The provider's id of the connected account: Zoho organisation, Google/Microsoft user or tenant.
    external_account_id: Mapped[str | None] = mapped_column(String(255), index=True)
    region: Mapped[str | None] = mapped_column(String(20))  # Zoho data centre (us, eu, in, …)
    accounts_server: Mapped[str | None] = mapped_column(String(255))  # where token calls go
    api_domain: Mapped[str | None] = mapped_column(String(255))  # where API calls go
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status_reason: Mapped[str | None] = mapped_column(Text)
    # The organisation's daily API budget where it differs from the provider default (e.g. Zoho's edition).
    daily_api_budget: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    connected_at: Mapped[dt.datetime | None]
    last_synced_at: Mapped[dt.datetime | None]


class Credential(Base):
    """The OAuth grant of one integration, encrypted by the vault (AES-256-GCM, bound to this row)."""

    __tablename__ = "credentials"

    integration_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    access_token: Mapped[str] = mapped_column(Text)  # vault ciphertext
    refresh_token: Mapped[str | None] = mapped_column(Text)  # vault ciphertext
    key_id: Mapped[str] = mapped_column(String(64), index=True)  # the vault key both were sealed with
    token_type: Mapped[str] = mapped_column(String(20), default="Bearer")
    expires_at: Mapped[dt.datetime]
    refreshed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The refresh lease (revision 0004): the caller whose random token is `refresh_lease_owner`
    # is refreshing these tokens until `refresh_lease_expires_at`; only it may store the result.
    # Both None when no refresh is under way. A crashed holder's lease expires on its own.
    refresh_lease_owner: Mapped[str | None] = mapped_column(String(64))
    refresh_lease_expires_at: Mapped[dt.datetime | None]


class OAuthState(Base):
    """A pending authorization: the `state` is stored only as its SHA-256, single use, short lived."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(40))
    # Whose grant the callback saves (revision 0005): a Lineup user, or TENANT_WIDE.
    user_id: Mapped[str] = mapped_column(String(128), default=TENANT_WIDE, server_default=TENANT_WIDE)
    code_verifier: Mapped[str | None] = mapped_column(Text)  # vault ciphertext (PKCE)
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    actor: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    used_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """Append-only audit log of every integration action (the spec's 'All integration actions are logged')."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    tenant_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(20), default="success")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RawRecord(Base):
    """A provider record exactly as the API returned it; the source of truth for re-mapping without API calls.

    The primary key leads with `external_id`: a bulk write inserts a page of ids into it, and ids
    differ in their first column where tenant, provider and entity would be compared first, equal,
    every time. `ix_raw_records_changed` serves everything read per tenant."""

    __tablename__ = "raw_records"
    __table_args__ = (
        PrimaryKeyConstraint("external_id", "tenant_id", "provider", "entity", name="pk_raw_records"),
        Index("ix_raw_records_changed", "tenant_id", "provider", "entity", "change_seq"),
    )

    tenant_id: Mapped[str] = mapped_column(key_string(128))
    provider: Mapped[str] = mapped_column(key_string(40))
    entity: Mapped[str] = mapped_column(key_string(40))
    external_id: Mapped[str] = mapped_column(key_string(255))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source_modified_at: Mapped[dt.datetime | None]
    deleted_at: Mapped[dt.datetime | None]
    # The write's number in its stream (tenant, provider, entity), growing with every page and every
    # deletion a sync commits: downstream steps read "changed since N".
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SyncCursor(Base):
    """Incremental-sync state of one (tenant, provider, stream), checkpointed after every committed page."""

    __tablename__ = "sync_cursors"

    tenant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Contact(Base):
    """A contact in Lineup's schema, mapped from a provider record; keyed by (tenant, provider, external id)."""

    __tablename__ = "contacts"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "provider", "external_id", name="pk_contacts"),)

    tenant_id: Mapped[str] = mapped_column(key_string(128))
    provider: Mapped[str] = mapped_column(key_string(40))
    external_id: Mapped[str] = mapped_column(key_string(255))
    name: Mapped[str | None] = mapped_column(String(512))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    mobile: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(255))
    company: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(255))
    source_modified_at: Mapped[dt.datetime | None]
    mapping_version: Mapped[int] = mapped_column(Integer, default=0)
    synced_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    """A record that could not be processed, kept aside with its error so one bad record never fails a page."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_open", "tenant_id", "provider", "replayed_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(40))  # fetch | map | write | outbound
    error: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[dt.datetime | None]


class MappingVersion(Base):
    """One immutable version of a tenant's field mapping for (provider, entity)."""

    __tablename__ = "mapping_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "provider", "entity", "version", name="uq_mapping_versions_key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[list[Any]] = mapped_column(JSON)
    based_on_version: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ActiveMapping(Base):
    """Which mapping version is in force for a tenant; moving it is a rollback or a roll-forward."""

    __tablename__ = "active_mappings"

    tenant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiUsage(Base):
    """API calls made per tenant, provider and hour: the rolling 24-hour count a quota is spent against."""

    __tablename__ = "api_usage"

    tenant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)


class ProviderFieldCache(Base):
    """Provider field metadata (e.g. Zoho `settings/fields`) cached per tenant for mapping validation."""

    __tablename__ = "provider_field_cache"

    tenant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    module: Mapped[str] = mapped_column(String(64), primary_key=True)
    fields: Mapped[list[Any]] = mapped_column(JSON)
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalendarCheckpoint(Base):
    """Where one account's calendar sync stands (revision 0006), committed with every page it lands:
    the provider's position (page token, sync token, delta link), the round it belongs to and the
    window it covers. One row per (integration, calendar): each interviewer account and calendar
    resumes on its own."""

    __tablename__ = "calendar_checkpoints"

    integration_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    calendar_id: Mapped[str] = mapped_column(key_string(255), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(40))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CalendarRawEvent(Base):
    """A calendar event exactly as the provider's API returned it (revision 0006): what
    `calendar_events` is rebuilt from without an API call. `series_key` groups what is rebuilt
    together: a recurring series (its master, exceptions and occurrences) or a single event.
    `seen_round` is the last full round that listed it (deletion by difference after a resync)."""

    __tablename__ = "calendar_raw_events"
    __table_args__ = (
        PrimaryKeyConstraint("integration_id", "calendar_id", "event_id", name="pk_calendar_raw_events"),
        Index("ix_calendar_raw_events_series", "integration_id", "calendar_id", "series_key"),
    )

    integration_id: Mapped[str] = mapped_column(key_string(40))
    calendar_id: Mapped[str] = mapped_column(key_string(255))
    event_id: Mapped[str] = mapped_column(key_string(255))
    tenant_id: Mapped[str] = mapped_column(key_string(128))
    provider: Mapped[str] = mapped_column(key_string(40))
    series_key: Mapped[str] = mapped_column(key_string(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    seen_round: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalendarEventRow(Base):
    """An event or one occurrence of a series on an interviewer's calendar, in Lineup's schema
    (revision 0006; the `calendar_events` table both calendar providers write). Times are UTC with
    the zone they were written in beside them; `source_key` is the raw `series_key` it was built from."""

    __tablename__ = "calendar_events"
    __table_args__ = (
        PrimaryKeyConstraint("integration_id", "calendar_id", "event_id", name="pk_calendar_events"),
        Index("ix_calendar_events_source", "integration_id", "calendar_id", "source_key"),
        Index("ix_calendar_events_user_start", "tenant_id", "user_id", "start_utc"),
    )

    integration_id: Mapped[str] = mapped_column(key_string(40))
    calendar_id: Mapped[str] = mapped_column(key_string(255))
    event_id: Mapped[str] = mapped_column(key_string(255))
    tenant_id: Mapped[str] = mapped_column(key_string(128))
    provider: Mapped[str] = mapped_column(key_string(40))
    user_id: Mapped[str] = mapped_column(key_string(128))
    source_key: Mapped[str] = mapped_column(key_string(255))
    ical_uid: Mapped[str | None] = mapped_column(String(1024))
    title: Mapped[str | None] = mapped_column(String(1024))
    organizer: Mapped[str | None] = mapped_column(String(320))
    location: Mapped[str | None] = mapped_column(String(1024))
    start_utc: Mapped[dt.datetime]
    end_utc: Mapped[dt.datetime]
    start_zone: Mapped[str] = mapped_column(String(64))
    end_zone: Mapped[str] = mapped_column(String(64))
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))
    busy: Mapped[bool] = mapped_column(Boolean, default=True)
    series_id: Mapped[str | None] = mapped_column(String(255))
    original_start_utc: Mapped[dt.datetime | None]
    attendees: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source_updated_at: Mapped[dt.datetime | None]
    etag: Mapped[str | None] = mapped_column(String(255))
    mapping_version: Mapped[int] = mapped_column(Integer, default=0)
    synced_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class BusyBlock(Base):
    """One interviewer's busy time (revision 0006; `interviewer_busy_blocks`): the busy events of every
    calendar the user connected, merged into disjoint intervals; what scheduling reads."""

    __tablename__ = "interviewer_busy_blocks"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "user_id", "start_utc", name="pk_interviewer_busy_blocks"),)

    tenant_id: Mapped[str] = mapped_column(key_string(128))
    user_id: Mapped[str] = mapped_column(key_string(128))
    start_utc: Mapped[dt.datetime]
    end_utc: Mapped[dt.datetime]
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def table_of(model: type[Base]) -> Table:
    """A model's table, typed as one (SQLAlchemy types `__table__` as any FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
