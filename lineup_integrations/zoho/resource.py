"""Zoho CRM as a Dagster resource: an authenticated, quota-aware API client for one tenant at a time.

The resource holds the OAuth engine that keeps each tenant's token fresh (refreshed 5 minutes
before expiry under a per-integration lock, and once more on a 401 `INVALID_TOKEN` mid-run); HTTP
goes through the process's one pooled client for Zoho. Client id and secret come from the
environment through `dg.EnvVar`; token state lives in the store, never on the resource.

`zoho_resource(settings, shared)` builds it for the environment the settings describe: the real
hosts (`LINEUP_ENVIRONMENT=live`) or the local sandbox (`sandbox`), never one for the other.
"""

import os

import dagster as dg
from pydantic import PrivateAttr, SecretStr

from lineup_integrations.core.http import RetrySettings
from lineup_integrations.core.mapping import ProviderField
from lineup_integrations.core.oauth import OAuthEngine, OAuthProviderConfig
from lineup_integrations.core.settings import DEFAULT_REDIRECT_URI, ProviderSettings
from lineup_integrations.orchestration.resources import SharedResources, StoreResource, VaultResource
from lineup_integrations.zoho import tenant_client
from lineup_integrations.zoho.client import ZohoClient
from lineup_integrations.zoho.oauth import oauth_config
from lineup_integrations.zoho.tenant_client import ZohoClientSettings

PROVIDER = "zoho"


class ZohoResource(dg.ConfigurableResource):
    """Zoho CRM API access per tenant, with token refresh, retries with jittered backoff, and quota tracking."""

    client_id: str
    client_secret: str
    redirect_uri: str = DEFAULT_REDIRECT_URI
    base_url: str | None = None  # None: the real Zoho hosts; the sandbox's URL offline
    api_version: str = "v8"
    daily_credit_budget: int = 5000  # the spec's figure; Zoho's real budget depends on the edition
    max_http_attempts: int = 5
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    store: StoreResource
    vault: VaultResource

    _oauth: OAuthEngine | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._oauth = OAuthEngine(self.store.get(), self.vault.get(), {PROVIDER: self._oauth_config()})

    def _oauth_config(self) -> OAuthProviderConfig:
        return oauth_config(ProviderSettings(name=PROVIDER, client_id=self.client_id,
                                             client_secret=SecretStr(self.client_secret),
                                             redirect_uri=self.redirect_uri, base_url=self.base_url))

    @property
    def oauth(self) -> OAuthEngine:
        if self._oauth is None:
            raise RuntimeError("ZohoResource used outside a run (setup_for_execution not called)")
        return self._oauth

    def client_for(self, tenant_id: str) -> ZohoClient:
        """A client for the tenant's organisation, or `IntegrationNotConnectedError` before any provider call."""
        settings = ZohoClientSettings(
            api_version=self.api_version,
            daily_credit_budget=self.daily_credit_budget,
            retry=RetrySettings(max_attempts=self.max_http_attempts, backoff_base=self.backoff_base_seconds,
                                backoff_max=self.backoff_max_seconds),
        )
        return tenant_client.zoho_client_for(self.store.get(), self.oauth, tenant_id, settings=settings)

    def provider_fields(self, tenant_id: str, entity: str = "contacts") -> list[ProviderField]:
        """The entity's field metadata for mapping validation, cached per tenant in the store."""
        return tenant_client.provider_fields(self.store.get(), self.oauth, tenant_id, entity)


def zoho_resource(settings: ProviderSettings, shared: SharedResources) -> ZohoResource:
    """The resource for `settings`: the client id and secret go through `dg.EnvVar` when they come
    from the environment, so they never show in the Dagster UI's config (the sandbox's built-in
    registration is no secret)."""
    return ZohoResource(
        client_id=dg.EnvVar("ZOHO_CLIENT_ID") if os.environ.get("ZOHO_CLIENT_ID") else settings.client_id,
        client_secret=dg.EnvVar("ZOHO_CLIENT_SECRET") if os.environ.get("ZOHO_CLIENT_SECRET")
        else settings.client_secret.get_secret_value(),
        redirect_uri=settings.redirect_uri,
        base_url=settings.base_url,
        store=shared.store,
        vault=shared.vault,
    )
