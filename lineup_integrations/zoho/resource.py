"""Zoho CRM as a Dagster resource: an authenticated, quota-aware API client for one tenant at a time.

The OAuth half (client registration, the engine that keeps each tenant's token fresh: refreshed
5 minutes before expiry, and once more on a 401 `INVALID_TOKEN` mid-run) is `ProviderResource`'s;
HTTP goes through the process's one pooled client for Zoho. `ZohoResource.for_settings(settings,
shared)` builds it for the environment the settings describe: the real hosts
(`LINEUP_ENVIRONMENT=live`) or the local sandbox (`sandbox`), never one for the other.
"""

from typing import ClassVar

from lineup_integrations.core.http import RetrySettings
from lineup_integrations.core.mapping import ProviderField
from lineup_integrations.core.provider import Provider
from lineup_integrations.orchestration.provider_resource import ProviderResource
from lineup_integrations.zoho import tenant_client
from lineup_integrations.zoho.client import ZohoClient
from lineup_integrations.zoho.provider import ZOHO
from lineup_integrations.zoho.tenant_client import ZohoClientSettings


class ZohoResource(ProviderResource):
    """Zoho CRM API access per tenant, with token refresh, retries with jittered backoff, and quota tracking."""

    provider: ClassVar[Provider] = ZOHO

    api_version: str = "v8"
    daily_credit_budget: int = 5000  # the spec's figure; Zoho's real budget depends on the edition
    max_http_attempts: int = 5
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0

    def client_for(self, tenant_id: str) -> ZohoClient:
        """A client for the tenant's organisation, or `IntegrationNotConnectedError` before any provider call."""
        settings = ZohoClientSettings(
            api_version=self.api_version,
            daily_credit_budget=self.daily_credit_budget,
            retry=RetrySettings(
                max_attempts=self.max_http_attempts,
                backoff_base=self.backoff_base_seconds,
                backoff_max=self.backoff_max_seconds,
            ),
        )
        return tenant_client.zoho_client_for(self.integration_store(), self.oauth, tenant_id, settings=settings)

    def provider_fields(self, tenant_id: str, entity: str = "contacts") -> list[ProviderField]:
        """The entity's field metadata for mapping validation, cached per tenant in the store."""
        return tenant_client.provider_fields(self.integration_store(), self.oauth, tenant_id, entity)
