"""Zoho's Dagster definitions: its assets, jobs, sensors, schedule and its own resource, and nothing else.

The shared store and vault are bound once by the code location (`lineup_integrations.definitions`).
"""

from __future__ import annotations

import dagster as dg

from lineup_integrations.core.settings import ProviderSettings
from lineup_integrations.orchestration.resources import SharedResources
from lineup_integrations.orchestration.token_refresh import token_refresh_definitions
from lineup_integrations.zoho.assets import zoho_contacts
from lineup_integrations.zoho.jobs import zoho_contacts_remap_job, zoho_contacts_sync_job
from lineup_integrations.zoho.resource import ZohoResource
from lineup_integrations.zoho.sensors import zoho_connected_tenants, zoho_mapping_changes, zoho_periodic_sync


def defs(settings: ProviderSettings, shared: SharedResources) -> dg.Definitions:
    sync = dg.Definitions(
        assets=[zoho_contacts],
        jobs=[zoho_contacts_sync_job, zoho_contacts_remap_job],
        sensors=[zoho_connected_tenants, zoho_mapping_changes],
        schedules=[zoho_periodic_sync],
        resources={"zoho": ZohoResource.for_settings(settings, shared)},
    )
    return dg.Definitions.merge(sync, token_refresh_definitions("zoho"))
