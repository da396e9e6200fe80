"""Google Calendar as a Dagster resource: each interviewer account's OAuth grant and calendar sync.

The OAuth half is `ProviderResource`'s (client registration, token refresh ahead of expiry, the
`needs_reauth` status of a dead grant); the sync half is `CalendarResource`'s, with this
provider's feed (`feed.open_feed`).
"""

from typing import ClassVar

from lineup_integrations.calendar.feed import FeedFactory
from lineup_integrations.core.provider import Provider
from lineup_integrations.google_calendar.feed import open_feed
from lineup_integrations.google_calendar.provider import GOOGLE_CALENDAR
from lineup_integrations.orchestration.calendar_resource import CalendarResource


class GoogleCalendarResource(CalendarResource):
    """Google Calendar access and sync per connected account."""

    provider: ClassVar[Provider] = GOOGLE_CALENDAR
    open_feed: ClassVar[FeedFactory] = open_feed
