"""The Dagster code location: the shared resources bound once, and every enabled provider's own
definitions merged (`dagster dev -m lineup_integrations.definitions`).

Each provider's `defs(settings, shared)` contributes its assets, checks, jobs, sensors, schedules
and its provider resource; the store and vault it uses are the shared ones bound here.
Settings are read when Dagster loads the location, so in `LINEUP_ENVIRONMENT=live` a missing
client id or secret stops the load with the variable's name.
"""

from __future__ import annotations

import dagster as dg

from lineup_integrations.core.provider import Providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.orchestration.resources import SharedResources
from lineup_integrations.registry import PROVIDERS


def build_definitions(providers: Providers = PROVIDERS, settings: Settings | None = None) -> dg.Definitions:
    """Every provider of `providers` that `settings` enables and that has Dagster definitions."""
    settings = settings or Settings.from_env(providers)
    shared = SharedResources.from_env()
    parts = [
        provider.definitions.load()(settings.providers[provider.name], shared)
        for provider in providers
        if provider.definitions is not None and provider.name in settings.providers
    ]
    return dg.Definitions.merge(dg.Definitions(resources=shared.as_dict()), *parts)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
