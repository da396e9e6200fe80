"""Google Calendar's Dagster definitions: its resource and its token-refresh schedule, and nothing else.

The shared store and vault are bound once by the code location (`lineup_integrations.definitions`).
"""

from __future__ import annotations

import dagster as dg

from lineup_integrations.core.settings import ProviderSettings
from lineup_integrations.google_calendar.resource import GoogleCalendarResource
from lineup_integrations.orchestration.resources import SharedResources
from lineup_integrations.orchestration.token_refresh import token_refresh_definitions


def defs(settings: ProviderSettings, shared: SharedResources) -> dg.Definitions:
    resource = dg.Definitions(resources={"google_calendar": GoogleCalendarResource.for_settings(settings, shared)})
    return dg.Definitions.merge(resource, token_refresh_definitions("google_calendar"))
