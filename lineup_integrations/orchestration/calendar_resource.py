"""The Dagster resource both calendar providers' resources are: OAuth per account plus the calendar sync.

A subclass names its provider contract (`provider`) and its feed (`open_feed`, the provider's
`FeedFactory`); everything else — the window, page size, quota, retries, the pooled HTTP client
of the provider — is the same for Google and Microsoft and is configured here.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from lineup_integrations.calendar.accounts import CalendarAccountsSync, CalendarSyncSettings
from lineup_integrations.calendar.feed import FeedFactory
from lineup_integrations.core.http import RetrySettings, shared_pool
from lineup_integrations.orchestration.provider_resource import ProviderResource


class CalendarResource(ProviderResource):
    """A calendar provider's accounts, synced with the settings below."""

    open_feed: ClassVar[FeedFactory]

    days_back: int = Field(default=30, ge=0, description="Days before today whose events are kept.")
    days_ahead: int = Field(default=180, ge=1, description="Days after today whose events are kept.")
    page_size: int | None = Field(default=None, ge=1, description="Events per API page (None: the provider's default).")
    daily_api_budget: int = Field(default=1_000_000, ge=1, description="API calls per tenant and rolling day.")
    max_http_attempts: int = 5
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0

    def accounts_sync(self) -> CalendarAccountsSync:
        settings = CalendarSyncSettings(
            days_back=self.days_back,
            days_ahead=self.days_ahead,
            page_size=self.page_size,
            daily_budget=self.daily_api_budget,
            retry=RetrySettings(
                max_attempts=self.max_http_attempts,
                backoff_base=self.backoff_base_seconds,
                backoff_max=self.backoff_max_seconds,
            ),
        )
        return CalendarAccountsSync(
            self.integration_store(),
            self.oauth,
            provider=self.provider.name,
            open_feed=type(self).open_feed,
            api_base_url=self.oauth_config().api_base_url or "",
            http=shared_pool().client(self.provider.name),
            settings=settings,
        )
