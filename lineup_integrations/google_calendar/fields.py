"""The Google Calendar event fields a tenant's calendar mapping may read (Calendar API v3, Events resource).

Google has no field-metadata endpoint for events: the resource's schema is fixed (the discovery
document), so the mappable text fields are listed here, nested ones by their path. All are
read-only: Lineup reads calendar events through the mapping and never writes them back with it.
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
        ("summary", "text"),
        ("description", "textarea"),
        ("location", "text"),
        ("hangoutLink", "website"),
        ("htmlLink", "website"),
        ("colorId", "text"),
        ("visibility", "picklist"),
        ("eventType", "picklist"),
        ("organizer.email", "email"),
        ("organizer.displayName", "text"),
        ("creator.email", "email"),
        ("creator.displayName", "text"),
    )
)


def provider_fields(store: Store, oauth: OAuthEngine, tenant_id: str, entity: str) -> Sequence[ProviderField]:
    """The contract's `field_source`: the event fields (no API call, whatever the tenant)."""
    if entity != ENTITY:
        raise ValueError(f"Google Calendar has no entity {entity!r} to map (only {ENTITY!r})")
    return EVENT_FIELDS
