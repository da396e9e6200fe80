"""The integration store (SQLAlchemy 2 over SQLite or PostgreSQL, migrated by Alembic)."""

from lineup_integrations.core.store.db import Store, audit, load_stream_state, save_stream_state, upsert
from lineup_integrations.core.store.models import (
    ActiveMapping,
    AuditEntry,
    Base,
    Contact,
    Credential,
    DeadLetter,
    Integration,
    IntegrationNotConnectedError,
    IntegrationStatus,
    MappingVersion,
    OAuthState,
    ProviderFieldCache,
    RawRecord,
    SyncCursor,
    utcnow,
)

__all__ = [
    "ActiveMapping",
    "AuditEntry",
    "Base",
    "Contact",
    "Credential",
    "DeadLetter",
    "Integration",
    "IntegrationNotConnectedError",
    "IntegrationStatus",
    "MappingVersion",
    "OAuthState",
    "ProviderFieldCache",
    "RawRecord",
    "Store",
    "SyncCursor",
    "audit",
    "load_stream_state",
    "save_stream_state",
    "upsert",
    "utcnow",
]
