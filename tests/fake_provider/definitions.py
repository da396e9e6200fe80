"""The fake provider's Dagster definitions: one asset that needs its own resource and the shared store."""

from __future__ import annotations

import dagster as dg

from lineup_integrations.core.settings import ProviderSettings
from lineup_integrations.orchestration.resources import SharedResources, StoreResource


class FakeCrmResource(dg.ConfigurableResource):
    """The fake provider's client resource: where its API lives."""

    base_url: str | None = None


@dg.asset(group_name="fake_crm")
def fake_crm_contacts(fake_crm: FakeCrmResource, store: StoreResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"base_url": fake_crm.base_url or "", "store": store.database_url})


def defs(settings: ProviderSettings, shared: SharedResources) -> dg.Definitions:
    return dg.Definitions(
        assets=[fake_crm_contacts], resources={"fake_crm": FakeCrmResource(base_url=settings.base_url)}
    )
