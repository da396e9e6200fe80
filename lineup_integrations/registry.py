"""The provider registry: adding a provider is a folder under `lineup_integrations/` and one line here.

Settings, the gateway, the CLI, the sandbox server, the demo and the Dagster code location all
take their providers from `PROVIDERS` (or from a `Providers` handed to them, as the tests do with
a provider of their own).
"""

from lineup_integrations.core.provider import Providers
from lineup_integrations.google_calendar.provider import GOOGLE_CALENDAR
from lineup_integrations.outlook_calendar.provider import OUTLOOK_CALENDAR
from lineup_integrations.zoho.provider import ZOHO

PROVIDERS = Providers([ZOHO, GOOGLE_CALENDAR, OUTLOOK_CALENDAR])
