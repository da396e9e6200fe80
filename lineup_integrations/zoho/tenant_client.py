"""A Zoho API client for one tenant, from the store and the OAuth engine — shared by the Dagster
resource and the gateway (which needs the tenant's field metadata to validate mappings).

It checks the tenant's integration before any provider call, uses the tenant's own data centre
(`api_domain`), keeps the token fresh (refresh 5 minutes before expiry, once more on a 401
mid-run) and tracks the organisation's API credits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select

from lineup_integrations.core.http import RateLimitTracker, RetryingClient, RetrySettings, shared_pool
from lineup_integrations.core.mapping import ProviderField, cached_provider_fields
from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import (
    TENANT_WIDE,
    Integration,
    IntegrationNotConnectedError,
    IntegrationStatus,
    Store,
    api_calls_since,
    record_api_usage,
)
from lineup_integrations.zoho.client import ZohoClient

PROVIDER = "zoho"
MODULES = {"contacts": "Contacts"}  # Lineup entity → Zoho module
QUOTA_WINDOW = dt.timedelta(hours=24)  # Zoho's API credits are a rolling 24-hour budget


@dataclass(frozen=True)
class ZohoClientSettings:
    api_version: str = "v8"
    daily_credit_budget: int = 5000  # the spec's figure; Zoho's real budget depends on the edition
    retry: RetrySettings = field(default_factory=RetrySettings)


def connected_integration(store: Store, tenant_id: str) -> Integration:
    with store.session() as session:
        integration = session.scalar(
            select(Integration).where(
                Integration.tenant_id == tenant_id,
                Integration.provider == PROVIDER,
                Integration.user_id == TENANT_WIDE,
            )
        )
    if integration is None:
        raise IntegrationNotConnectedError(f"tenant {tenant_id!r} has no Zoho integration")
    if integration.status != IntegrationStatus.CONNECTED.value:
        raise IntegrationNotConnectedError(
            f"tenant {tenant_id!r}'s Zoho integration is {integration.status}: reconnect it before syncing"
        )
    return integration


def zoho_client_for(
    store: Store,
    oauth: OAuthEngine,
    tenant_id: str,
    *,
    settings: ZohoClientSettings = ZohoClientSettings(),
    http: httpx.Client | None = None,
) -> ZohoClient:
    """An authenticated client for the tenant's organisation, or `IntegrationNotConnectedError` before any call."""
    integration = connected_integration(store, tenant_id)
    tokens = oauth.token_holder(integration.id)
    token = tokens.current()
    with store.session() as session:
        earlier_calls = api_calls_since(
            session, tenant_id=tenant_id, provider=PROVIDER, since=dt.datetime.now(dt.UTC) - QUOTA_WINDOW
        )

    return ZohoClient(
        RetryingClient(http or shared_pool().client(PROVIDER), provider=PROVIDER, settings=settings.retry),
        api_domain=token.api_domain or integration.api_domain or "",
        access_token=lambda: tokens.current().value,
        on_unauthorized=lambda stale: tokens.replace(stale).value,
        api_version=settings.api_version,
        quota=RateLimitTracker(
            daily_budget=integration.daily_api_budget or settings.daily_credit_budget, earlier_calls=earlier_calls
        ),
    )


def record_usage(store: Store, tenant_id: str, client: ZohoClient) -> None:
    """Count the client's calls against the tenant's rolling 24-hour quota (what later runs start from)."""
    with store.session() as session:
        record_api_usage(
            session, tenant_id=tenant_id, provider=PROVIDER, calls=client.quota.calls, at=dt.datetime.now(dt.UTC)
        )


def provider_fields(store: Store, oauth: OAuthEngine, tenant_id: str, entity: str) -> list[ProviderField]:
    """The entity's Zoho field metadata for mapping validation, cached per tenant in the store."""
    module = MODULES.get(entity)
    if module is None:
        raise ValueError(f"Zoho has no module for the entity {entity!r}")

    def fetch() -> list[ProviderField]:
        client = zoho_client_for(store, oauth, tenant_id)
        try:
            return [ProviderField.model_validate(zoho_field.model_dump()) for zoho_field in client.fields(module)]
        finally:
            record_usage(store, tenant_id, client)

    return cached_provider_fields(store, tenant_id, PROVIDER, module, fetch)
