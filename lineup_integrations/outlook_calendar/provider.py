"""Outlook Calendar (Microsoft 365) as the rest of the system sees it (the provider contract, `core/provider.py`)."""

from lineup_integrations.core.provider import ObjectRef, Provider, SyncJob
from lineup_integrations.outlook_calendar.fields import provider_fields
from lineup_integrations.outlook_calendar.oauth import oauth_config

OUTLOOK_CALENDAR = Provider(
    name="outlook_calendar",
    title="Outlook Calendar",
    env_prefix="OUTLOOK",
    oauth_config=oauth_config,
    sandbox=ObjectRef("lineup_integrations.outlook_calendar.sandbox"),
    sandbox_port=8803,
    definitions=ObjectRef("lineup_integrations.outlook_calendar.definitions:defs"),
    field_source=provider_fields,
    sync=SyncJob(job="outlook_calendar_events_sync", op="outlook_calendar_events"),
    per_user=True,  # one calendar per interviewer
)
