"""Zoho CRM as the rest of the system sees it (the provider contract, `core/provider.py`)."""

from lineup_integrations.core.provider import ObjectRef, Provider, SyncJob
from lineup_integrations.zoho.oauth import oauth_config
from lineup_integrations.zoho.tenant_client import provider_fields

CONTACTS_SYNC = SyncJob(job="zoho_contacts_sync", op="zoho_contacts")

ZOHO = Provider(
    name="zoho",
    title="Zoho CRM",
    env_prefix="ZOHO",
    oauth_config=oauth_config,
    sandbox=ObjectRef("lineup_integrations.zoho.sandbox"),
    sandbox_port=8801,
    definitions=ObjectRef("lineup_integrations.zoho.definitions:defs"),
    field_source=provider_fields,
    sync=CONTACTS_SYNC,
)
