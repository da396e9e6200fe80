"""The Microsoft Graph event properties a tenant's calendar mapping may read (v1.0 event resource).

Graph's event schema is fixed (its $metadata), so the mappable text properties are listed here,
nested ones by their path. All are read-only: Lineup reads calendar events through the mapping and
never writes them back with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from lineup_integrations.core.mapping import ProviderField
from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import Store

ENTITY = "events"
EVENT_FIELDS: tuple[ProviderField, ...] = tuple(
    ProviderField(api_name=name, data_type=kind, read_only=True)
    for name, kind in (
        ("subject", "text"),
        ("bodyPreview", "textarea"),
        ("webLink", "website"),
        ("importance", "picklist"),
        ("sensitivity", "picklist"),
        ("showAs", "picklist"),
        ("location.displayName", "text"),
        ("onlineMeeting.joinUrl", "website"),
        ("organizer.emailAddress.address", "email"),
        ("organizer.emailAddress.name", "text"),
    )
)


def provider_fields(store: Store, oauth: OAuthEngine, tenant_id: str, entity: str) -> Sequence[ProviderField]:
    """The contract's `field_source`: the event properties (no API call, whatever the tenant)."""
    if entity != ENTITY:
        raise ValueError(f"Outlook Calendar has no entity {entity!r} to map (only {ENTITY!r})")
    return EVENT_FIELDS
