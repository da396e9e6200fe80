"""Google Calendar as a Dagster resource: each interviewer account's OAuth grant, kept fresh.

The OAuth half is `ProviderResource`'s (client registration, token refresh ahead of expiry, the
`needs_reauth` status of a dead grant); the calendar API client joins it with the calendar sync.
"""

from typing import ClassVar

from lineup_integrations.core.provider import Provider
from lineup_integrations.google_calendar.provider import GOOGLE_CALENDAR
from lineup_integrations.orchestration.provider_resource import ProviderResource


class GoogleCalendarResource(ProviderResource):
    """Google Calendar access per connected account."""

    provider: ClassVar[Provider] = GOOGLE_CALENDAR
