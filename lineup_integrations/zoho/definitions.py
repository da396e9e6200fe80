"""Zoho's Dagster definitions: its assets, jobs, sensors, schedule and resources, and nothing else."""

from __future__ import annotations

import dagster as dg

from lineup_integrations.orchestration.resources import default_store_resource, default_vault_resource
from lineup_integrations.zoho.assets import zoho_contacts
from lineup_integrations.zoho.jobs import SYNC_JOB_NAME, zoho_contacts_remap_job, zoho_contacts_sync_job
from lineup_integrations.zoho.resource import zoho_resource_from_env
from lineup_integrations.zoho.sensors import zoho_connected_tenants, zoho_mapping_changes, zoho_periodic_sync

__all__ = ["SYNC_JOB_NAME", "defs"]


def defs() -> dg.Definitions:
    store = default_store_resource()
    vault = default_vault_resource()
    return dg.Definitions(
        assets=[zoho_contacts],
        jobs=[zoho_contacts_sync_job, zoho_contacts_remap_job],
        sensors=[zoho_connected_tenants, zoho_mapping_changes],
        schedules=[zoho_periodic_sync],
        resources={"store": store, "vault": vault, "zoho": zoho_resource_from_env(store, vault)},
    )
