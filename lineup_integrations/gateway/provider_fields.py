"""Provider field metadata for mapping validation, fetched by each provider with the tenant's token.

A provider offers it as `provider_fields(store, oauth, tenant_id, entity)` in its `tenant_client`
module (the registry's convention); a provider without one has nothing to map yet.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from lineup_integrations.core.mapping import ProviderField, ProviderFieldsSource
from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import IntegrationNotConnectedError, Store
from lineup_integrations.gateway.errors import ApiError
from lineup_integrations.providers import provider_module, provider_spec


def registry_field_source(store: Store, oauth: OAuthEngine) -> ProviderFieldsSource:
    def source(tenant_id: str, provider: str, entity: str) -> Sequence[ProviderField]:
        if importlib.util.find_spec(f"{provider_spec(provider).package}.tenant_client") is None:
            raise ApiError(400, "mapping_unavailable", f"provider {provider!r} has no mappable fields yet",
                           field="provider")
        try:
            return provider_module(provider, "tenant_client").provider_fields(store, oauth, tenant_id, entity)
        except IntegrationNotConnectedError as error:
            raise ApiError(409, "integration_not_connected", str(error), field="provider") from None

    return source
