"""Zoho jobs: the full contacts sync (raw then mapped) and the mapping-only rebuild (no API call)."""

from __future__ import annotations

import dagster as dg

from lineup_integrations.providers import PROVIDERS
from lineup_integrations.zoho.assets import contacts, zoho_contacts_raw

SYNC_JOB_NAME = PROVIDERS["zoho"].sync_job or "zoho_contacts_sync"
REMAP_JOB_NAME = "zoho_contacts_remap"

# Both steps run in the run's own process: no per-step subprocess start-up for a 2-step job.
zoho_contacts_sync_job = dg.define_asset_job(
    SYNC_JOB_NAME,
    selection=dg.AssetSelection.assets(zoho_contacts_raw, contacts),
    executor_def=dg.in_process_executor,
    tags={"provider": "zoho"},
    description="Incremental sync of a tenant's Zoho contacts, then the mapping into Lineup's schema.",
)

zoho_contacts_remap_job = dg.define_asset_job(
    REMAP_JOB_NAME,
    selection=dg.AssetSelection.assets(contacts),
    executor_def=dg.in_process_executor,
    tags={"provider": "zoho"},
    description="Rebuild a tenant's contacts from stored raw records (after a mapping change); no API call.",
)


def run_tags(tenant_id: str) -> dict[str, str]:
    """Tags every Zoho run carries: the run queue limits one run per tenant and a few per provider."""
    return {"tenant": tenant_id, "provider": "zoho"}
