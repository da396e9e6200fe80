"""Outlook Calendar (Microsoft Graph) as a Dagster resource: each interviewer account's OAuth grant, kept fresh.

The OAuth half is `ProviderResource`'s (client registration, token refresh ahead of expiry, the
`needs_reauth` status of a dead grant); the calendar API client joins it with the calendar sync.
"""

from typing import ClassVar

from lineup_integrations.core.provider import Provider
from lineup_integrations.orchestration.provider_resource import ProviderResource
from lineup_integrations.outlook_calendar.provider import OUTLOOK_CALENDAR


class OutlookCalendarResource(ProviderResource):
    """Outlook Calendar (Microsoft Graph) access per connected account."""

    provider: ClassVar[Provider] = OUTLOOK_CALENDAR
