"""Google Calendar as the rest of the system sees it (the provider contract, `core/provider.py`)."""

from lineup_integrations.core.provider import ObjectRef, Provider, SyncJob
from lineup_integrations.google_calendar.fields import provider_fields
from lineup_integrations.google_calendar.oauth import oauth_config

GOOGLE_CALENDAR = Provider(
    name="google_calendar",
    title="Google Calendar",
    env_prefix="GOOGLE",
    oauth_config=oauth_config,
    sandbox=ObjectRef("lineup_integrations.google_calendar.sandbox"),
    sandbox_port=8802,
    definitions=ObjectRef("lineup_integrations.google_calendar.definitions:defs"),
    field_source=provider_fields,
    sync=SyncJob(job="google_calendar_events_sync", op="google_calendar_events"),
    per_user=True,  # one calendar per interviewer
)
