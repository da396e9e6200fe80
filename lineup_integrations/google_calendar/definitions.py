"""Google Calendar's Dagster definitions: its calendar sync (assets, job, sensor, schedule), its resource and
its token-refresh schedule, and nothing else.

The shared store and vault are bound once by the code location (`lineup_integrations.definitions`).
"""

from __future__ import annotations

import dagster as dg

from lineup_integrations.core.settings import ProviderSettings
from lineup_integrations.google_calendar.provider import GOOGLE_CALENDAR
from lineup_integrations.google_calendar.resource import GoogleCalendarResource
from lineup_integrations.orchestration.calendar_sync import calendar_sync_definitions
from lineup_integrations.orchestration.resources import SharedResources
from lineup_integrations.orchestration.token_refresh import token_refresh_definitions


def defs(settings: ProviderSettings, shared: SharedResources) -> dg.Definitions:
    sync = calendar_sync_definitions(GOOGLE_CALENDAR, GoogleCalendarResource.for_settings(settings, shared))
    return dg.Definitions.merge(sync, token_refresh_definitions(GOOGLE_CALENDAR.name))
