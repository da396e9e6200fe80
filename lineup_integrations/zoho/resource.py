"""Zoho CRM as a Dagster resource: an authenticated, quota-aware API client for one tenant at a time.

The resource owns one pooled HTTP client per run process and the OAuth engine that keeps each
tenant's token fresh (refreshed 5 minutes before expiry under a per-integration lock, and once
more on a 401 `INVALID_TOKEN` mid-run). Client id and secret come from the environment through
`dg.EnvVar`; token state lives in the store, never on the resource.

`ZohoSandboxResource` is the resource's twin for the demo and tests: the same code, pointed at
the local sandbox (`lineup-integrations sandbox`) with the sandbox's client registration.
"""


import os

import dagster as dg
import httpx
from pydantic import PrivateAttr
from sqlalchemy import select

from lineup_integrations.core.mapping import ProviderField, cached_provider_fields
from lineup_integrations.core.http import RateLimitTracker, RetryingClient, RetrySettings
from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.settings import ProviderCredentials, Settings
from lineup_integrations.core.store import Integration, IntegrationStatus
from lineup_integrations.orchestration.resources import StoreResource, VaultResource
from lineup_integrations.zoho.client import ZohoClient
from lineup_integrations.zoho.oauth import oauth_config

PROVIDER = "zoho"
DEFAULT_REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"


class TenantNotSyncableError(Exception):
    """The tenant has no usable Zoho integration (never connected, disconnected, or awaiting re-consent)."""


class ZohoResource(dg.ConfigurableResource):
    """Zoho CRM API access per tenant, with token refresh, retries with jittered backoff, and quota tracking."""

    client_id: str
    client_secret: str
    redirect_uri: str = DEFAULT_REDIRECT_URI
    base_url: str | None = None  # None: the real Zoho hosts; set to the sandbox's URL offline
    api_version: str = "v8"
    daily_credit_budget: int = 5000  # the spec's figure; Zoho's real budget depends on the edition
    max_http_attempts: int = 5
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    store: StoreResource
    vault: VaultResource

    _http: httpx.Client | None = PrivateAttr(default=None)
    _oauth: OAuthEngine | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._http = httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0),
                                  limits=httpx.Limits(max_connections=20, max_keepalive_connections=10))
        self._oauth = OAuthEngine(self.store.get(), self.vault.get(), {PROVIDER: self._oauth_config()}, http=self._http)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._http is not None:
            self._http.close()

    def _oauth_config(self):  # noqa: ANN202 - the config type belongs to the OAuth engine
        settings = Settings.from_env()
        settings.providers[PROVIDER] = ProviderCredentials(
            client_id=self.client_id, client_secret=self.client_secret, redirect_uri=self.redirect_uri
        )
        return oauth_config(settings, base_url=self.base_url)

    @property
    def oauth(self) -> OAuthEngine:
        if self._oauth is None:
            raise RuntimeError("ZohoResource used outside a run (setup_for_execution not called)")
        return self._oauth

    def integration(self, tenant_id: str) -> Integration | None:
        with self.store.get().session() as session:
            return session.scalar(
                select(Integration).where(Integration.tenant_id == tenant_id, Integration.provider == PROVIDER)
            )

    def client_for(self, tenant_id: str) -> ZohoClient:
        """A client for the tenant's organisation, or `TenantNotSyncableError` before any provider call."""
        integration = self.integration(tenant_id)
        if integration is None:
            raise TenantNotSyncableError(f"tenant {tenant_id!r} has no Zoho integration")
        if integration.status != IntegrationStatus.CONNECTED.value:
            raise TenantNotSyncableError(
                f"tenant {tenant_id!r}'s Zoho integration is {integration.status}: reconnect it before syncing"
            )
        integration_id = integration.id
        oauth = self.oauth
        token = oauth.refresh_if_expiring(integration_id)
        http = RetryingClient(
            self._http,
            settings=RetrySettings(max_attempts=self.max_http_attempts, backoff_base=self.backoff_base_seconds,
                                   backoff_max=self.backoff_max_seconds),
        )

        def current_token() -> str:
            return oauth.refresh_if_expiring(integration_id).value

        def replace_token(stale: str) -> str:
            return oauth.force_refresh(integration_id, stale_access_token=stale).value

        return ZohoClient(
            http,
            api_domain=token.api_domain or integration.api_domain or "",
            access_token=current_token,
            on_unauthorized=replace_token,
            api_version=self.api_version,
            quota=RateLimitTracker(daily_budget=self.daily_credit_budget),
        )


    def provider_fields(self, tenant_id: str, *, module: str = "Contacts") -> list[ProviderField]:
        """The module's field metadata for mapping validation, cached per tenant in the store."""

        def fetch() -> list[ProviderField]:
            return [ProviderField.model_validate(field.model_dump()) for field in self.client_for(tenant_id).fields(module)]

        return cached_provider_fields(self.store.get(), tenant_id, PROVIDER, module, fetch)


def zoho_resource_from_env(store: StoreResource, vault: VaultResource) -> ZohoResource:
    """The real service when ZOHO_CLIENT_ID is set; otherwise the local sandbox twin (offline default)."""
    if os.environ.get("ZOHO_CLIENT_ID"):
        return ZohoResource(
            client_id=dg.EnvVar("ZOHO_CLIENT_ID"),
            client_secret=dg.EnvVar("ZOHO_CLIENT_SECRET"),
            redirect_uri=os.environ.get("ZOHO_REDIRECT_URI", DEFAULT_REDIRECT_URI),
            base_url=os.environ.get("ZOHO_BASE_URL") or None,
            store=store,
            vault=vault,
        )
    return ZohoSandboxResource(store=store, vault=vault)


class ZohoSandboxResource(ZohoResource):
    """The offline twin: the local sandbox's address and client registration, no secrets needed."""

    client_id: str = "sandbox-zoho-client"
    client_secret: str = "sandbox-zoho-secret"
    base_url: str | None = os.environ.get("LINEUP_SANDBOX_ZOHO_URL", "http://127.0.0.1:8801")
