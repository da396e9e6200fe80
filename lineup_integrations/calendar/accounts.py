"""A tenant's interviewer accounts of one calendar provider, synced one after the other.

Each account is its own integration (its own grant, checkpoints and quota count), so one
account's failure never stops the others: a revoked grant marks that integration `needs_reauth`
(the OAuth engine does) and is reported; any other error is reported too, after the remaining
accounts have synced, so the caller can retry the run and resume the failed account from its
last committed page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select

from lineup_integrations.calendar.feed import FeedFactory, Window
from lineup_integrations.calendar.sync import AccountStats, CalendarSync
from lineup_integrations.core.http import QuotaSnapshot, RateLimitTracker, RetryingClient, RetrySettings
from lineup_integrations.core.mapping import VersionedMapping, active_mapping
from lineup_integrations.core.oauth import OAuthEngine, ReauthorizationRequiredError
from lineup_integrations.core.store import Integration, IntegrationStatus, Store, api_calls_since, record_api_usage
from lineup_integrations.core.store.models import utcnow

ENTITY = "events"
QUOTA_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class CalendarSyncSettings:
    """How a calendar provider's accounts are synced; the provider's resource sets them."""

    days_back: int = 30
    days_ahead: int = 180
    page_size: int | None = None  # None: the feed's own default
    daily_budget: int = 1_000_000  # calls per tenant and rolling day (Google's default project quota)
    retry: RetrySettings = field(default_factory=RetrySettings)

    def window(self, now: dt.datetime) -> Window:
        return Window.around(now, days_back=self.days_back, days_ahead=self.days_ahead)


@dataclass
class AccountResult:
    integration_id: str
    user_id: str
    stats: AccountStats | None = None
    quota: QuotaSnapshot | None = None
    needs_reauth: bool = False
    error: BaseException | None = None


def connected_accounts(
    store: Store, tenant_id: str, provider: str, user_ids: Collection[str] | None = None
) -> list[Integration]:
    """The tenant's connected accounts of `provider`, oldest connection first, optionally only these users'."""
    query = select(Integration).where(
        Integration.tenant_id == tenant_id,
        Integration.provider == provider,
        Integration.status == IntegrationStatus.CONNECTED.value,
    )
    if user_ids is not None:
        query = query.where(Integration.user_id.in_(list(user_ids)))
    with store.session() as session:
        return list(session.scalars(query.order_by(Integration.connected_at, Integration.id)))


class CalendarAccountsSync:
    """Syncs accounts of one provider for one tenant (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        oauth: OAuthEngine,
        *,
        provider: str,
        open_feed: FeedFactory,
        api_base_url: str,
        http: httpx.Client,
        settings: CalendarSyncSettings,
    ) -> None:
        self.store = store
        self.oauth = oauth
        self.provider = provider
        self.open_feed = open_feed
        self.api_base_url = api_base_url
        self.http = RetryingClient(http, provider=provider, settings=settings.retry)
        self.settings = settings

    def sync(
        self,
        tenant_id: str,
        *,
        user_ids: Collection[str] | None = None,
        full: bool = False,
        now: dt.datetime | None = None,
    ) -> list[AccountResult]:
        window = self.settings.window(now or dt.datetime.now(dt.UTC))
        mapping = active_mapping(self.store, tenant_id, self.provider, ENTITY)
        results = []
        for integration in connected_accounts(self.store, tenant_id, self.provider, user_ids):
            result = AccountResult(integration.id, integration.user_id)
            quota = self._quota(integration)
            try:
                result.stats = self._sync_account(integration, quota, mapping, window, full=full)
            except ReauthorizationRequiredError:
                result.needs_reauth = True
            except Exception as error:  # reported once the other accounts have synced
                result.error = error
            finally:
                self._record_usage(tenant_id, quota)
                result.quota = quota.snapshot()
            results.append(result)
        return results

    def _sync_account(
        self,
        integration: Integration,
        quota: RateLimitTracker,
        mapping: VersionedMapping,
        window: Window,
        *,
        full: bool,
    ) -> AccountStats:
        tokens = self.oauth.token_holder(integration.id)
        feed = self.open_feed(
            http=self.http, api_base_url=self.api_base_url,
            account_id=integration.external_account_id or integration.id,
            access_token=lambda: tokens.current().value,
            on_unauthorized=lambda stale: tokens.replace(stale).value,
            quota=quota, page_size=self.settings.page_size,
        )  # fmt: skip
        sync = CalendarSync(
            self.store, feed, tenant_id=integration.tenant_id, integration_id=integration.id,
            user_id=integration.user_id, mapping=mapping, window=window,
        )  # fmt: skip
        stats = sync.run(full=full)
        self._mark_synced(integration.id)
        return stats

    def _quota(self, integration: Integration) -> RateLimitTracker:
        with self.store.session() as session:
            earlier = api_calls_since(
                session, tenant_id=integration.tenant_id, provider=self.provider,
                since=dt.datetime.now(dt.UTC) - QUOTA_WINDOW,
            )  # fmt: skip
        return RateLimitTracker(daily_budget=self.settings.daily_budget, earlier_calls=earlier)

    def _record_usage(self, tenant_id: str, quota: RateLimitTracker) -> None:
        with self.store.session() as session:
            record_api_usage(
                session, tenant_id=tenant_id, provider=self.provider, calls=quota.calls, at=dt.datetime.now(dt.UTC)
            )

    def _mark_synced(self, integration_id: str) -> None:
        with self.store.session() as session:
            integration = session.get(Integration, integration_id)
            if integration is not None:
                integration.last_synced_at = utcnow()
