"""Zoho jobs: the full contacts sync (raw then mapped) and the mapping-only rebuild (no API call)."""

from __future__ import annotations

import dagster as dg

from lineup_integrations.core.provider import run_tags as tenant_run_tags
from lineup_integrations.zoho.assets import CONTACTS, RAW_CONTACTS
from lineup_integrations.zoho.provider import CONTACTS_SYNC, ZOHO

SYNC_JOB_NAME = CONTACTS_SYNC.job
REMAP_JOB_NAME = "zoho_contacts_remap"

# The one step runs in the run's own process: no step subprocess to start.
zoho_contacts_sync_job = dg.define_asset_job(
    SYNC_JOB_NAME,
    selection=dg.AssetSelection.assets(RAW_CONTACTS, CONTACTS),
    executor_def=dg.in_process_executor,
    tags={"provider": "zoho"},
    description="Incremental sync of a tenant's Zoho contacts, mapped into Lineup's schema as they land.",
)

zoho_contacts_remap_job = dg.define_asset_job(
    REMAP_JOB_NAME,
    selection=dg.AssetSelection.assets(CONTACTS),
    executor_def=dg.in_process_executor,
    tags={"provider": "zoho"},
    description="Rebuild a tenant's contacts from stored raw records (after a mapping change); no API call.",
)


def run_tags(tenant_id: str) -> dict[str, str]:
    """Tags every Zoho run of a tenant carries (the run queue's limits key on them)."""
    return tenant_run_tags(tenant_id, ZOHO.name)
