"""Each tenant's mapping per (provider, entity): a chain of immutable versions with one active.

Version 0 is the shipped default file (`mappings/<provider>/<entity>.yaml`) and needs no row: a
tenant that never changed anything has no `mapping_versions` rows and no `active_mappings` row.
A change (`propose_mapping`) is validated and merged into the active version and saved as the
next number, which becomes active; a rollback (`activate_mapping`) only moves the pointer, to any
earlier version including 0, and creates no rule. Both are audited with the old and new numbers.

Concurrency: a change reads the active version, merges and writes in one transaction that holds
the tenant's mapping lock (SQLite `BEGIN IMMEDIATE`; PostgreSQL `SELECT … FOR UPDATE` on the
`active_mappings` row). Before a tenant's first change there is no row to lock, so two first
changes can both try version 1; the unique (tenant, provider, entity, version) constraint refuses
the second, which is retried and then merges on top of the first. No change is ever lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lineup_integrations.core.mapping.defaults import load_default_mapping
from lineup_integrations.core.mapping.model import Direction, FieldRule, Mapping, ProviderField
from lineup_integrations.core.mapping.validation import merge_validated
from lineup_integrations.core.store import ActiveMapping, MappingVersion, Store, audit, serialize_on, upsert

DEFAULT_VERSION = 0


class UnknownMappingVersionError(LookupError):
    """A version number the tenant's chain does not have."""


class VersionedMapping(BaseModel, frozen=True):
    """One version of a tenant's mapping; `mapping.version == version`. For version 0 (the
    default file) `default_version` is the file's own version and there is no author or time."""

    tenant_id: str
    provider: str
    entity: str
    version: int
    mapping: Mapping
    based_on_version: int | None = None
    default_version: int | None = None
    created_by: str | None = None
    created_at: dt.datetime | None = None


def _default(tenant_id: str, provider: str, entity: str) -> VersionedMapping:
    mapping = load_default_mapping(provider, entity)
    return VersionedMapping(
        tenant_id=tenant_id,
        provider=provider,
        entity=entity,
        version=DEFAULT_VERSION,
        mapping=mapping.model_copy(update={"version": DEFAULT_VERSION}),
        default_version=mapping.version,
    )


def _from_row(row: MappingVersion) -> VersionedMapping:
    mapping = Mapping(
        provider=row.provider,
        entity=row.entity,
        version=row.version,
        rules=tuple(FieldRule.model_validate(rule) for rule in row.rules),
    )
    return VersionedMapping(
        tenant_id=row.tenant_id,
        provider=row.provider,
        entity=row.entity,
        version=row.version,
        mapping=mapping,
        based_on_version=row.based_on_version,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _load(session: Session, tenant_id: str, provider: str, entity: str, version: int) -> VersionedMapping:
    if version == DEFAULT_VERSION:
        return _default(tenant_id, provider, entity)
    row = session.scalar(select(MappingVersion).where(
        MappingVersion.tenant_id == tenant_id, MappingVersion.provider == provider,
        MappingVersion.entity == entity, MappingVersion.version == version,
    ))  # fmt: skip
    if row is None:
        raise UnknownMappingVersionError(f"{provider} {entity} mapping has no version {version}")
    return _from_row(row)


def _active_version(session: Session, tenant_id: str, provider: str, entity: str) -> int:
    query = select(ActiveMapping.version).where(
        ActiveMapping.tenant_id == tenant_id, ActiveMapping.provider == provider, ActiveMapping.entity == entity
    )
    version = session.scalar(query)
    return DEFAULT_VERSION if version is None else version


def _lock_key(tenant_id: str, provider: str, entity: str) -> str:
    return f"mapping:{tenant_id}:{provider}:{entity}"


def _point_to(session: Session, tenant_id: str, provider: str, entity: str, version: int) -> None:
    upsert(session, ActiveMapping,
           [{"tenant_id": tenant_id, "provider": provider, "entity": entity, "version": version,
             "updated_at": dt.datetime.now(dt.UTC)}],
           key=["tenant_id", "provider", "entity"], update=["version", "updated_at"])  # fmt: skip


def active_mapping(store: Store, tenant_id: str, provider: str, entity: str) -> VersionedMapping:
    """The version in force (the default file while the tenant has changed nothing)."""
    with store.session() as session:
        return _load(session, tenant_id, provider, entity, _active_version(session, tenant_id, provider, entity))


def mapping_history(store: Store, tenant_id: str, provider: str, entity: str) -> list[VersionedMapping]:
    """Every version, oldest first, starting with the default (version 0)."""
    with store.session() as session:
        rows = session.scalars(select(MappingVersion).where(
            MappingVersion.tenant_id == tenant_id, MappingVersion.provider == provider,
            MappingVersion.entity == entity,
        ).order_by(MappingVersion.version)).all()  # fmt: skip
    return [_default(tenant_id, provider, entity), *(_from_row(row) for row in rows)]


def propose_mapping(
    store: Store,
    tenant_id: str,
    provider: str,
    entity: str,
    changes: Sequence[FieldRule],
    *,
    direction: Direction,
    actor: str,
    provider_fields: Sequence[ProviderField],
) -> VersionedMapping:
    """Validate `changes`, merge them into the active version, save the result as the next
    version and make it active. Raises `MappingValidationError` (nothing saved) when invalid.
    A change that leaves the rules as they are creates no version and returns the active one.
    Concurrent changes of one mapping queue on a lock, so each builds on the one before."""
    with store.locked_session() as session:
        serialize_on(session, _lock_key(tenant_id, provider, entity))
        current = _load(session, tenant_id, provider, entity, _active_version(session, tenant_id, provider, entity))
        merged = merge_validated(current.mapping, changes, direction=direction, provider_fields=provider_fields)
        if merged.rules == current.mapping.rules:
            return current
        latest = session.scalar(select(func.max(MappingVersion.version)).where(
            MappingVersion.tenant_id == tenant_id, MappingVersion.provider == provider,
            MappingVersion.entity == entity,
        )) or DEFAULT_VERSION  # fmt: skip
        row = MappingVersion(
            tenant_id=tenant_id,
            provider=provider,
            entity=entity,
            version=latest + 1,
            rules=[rule.model_dump(mode="json", by_alias=True) for rule in merged.rules],
            based_on_version=current.version,
            created_by=actor,
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(row)
        session.flush()
        _point_to(session, tenant_id, provider, entity, row.version)
        audit(
            session,
            tenant_id=tenant_id,
            provider=provider,
            action="mapping_update",
            actor=actor,
            detail={
                "entity": entity,
                "old_version": current.version,
                "new_version": row.version,
                "default_version": current.default_version,
                "rules_changed": len(changes),
            },
        )
        return _from_row(row)


def activate_mapping(
    store: Store, tenant_id: str, provider: str, entity: str, version: int, *, actor: str
) -> VersionedMapping:
    """Make an existing version (0 = the default) the active one: a rollback or roll-forward that
    creates no rule. Raises `UnknownMappingVersionError` for a version the chain does not have."""
    with store.locked_session() as session:
        serialize_on(session, _lock_key(tenant_id, provider, entity))
        old = _active_version(session, tenant_id, provider, entity)
        target = _load(session, tenant_id, provider, entity, version)
        if version != old:
            _point_to(session, tenant_id, provider, entity, version)
            audit(
                session,
                tenant_id=tenant_id,
                provider=provider,
                action="mapping_activate",
                actor=actor,
                detail={"entity": entity, "old_version": old, "new_version": version},
            )
        return target
