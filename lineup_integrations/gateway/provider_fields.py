"""Provider field metadata for mapping validation, fetched by each provider with the tenant's token.

A provider offers it as the `field_source` of its contract (`core/provider.py`); a provider
without one has nothing to map yet.
"""

from __future__ import annotations

from collections.abc import Sequence

from lineup_integrations.core.mapping import ProviderField, ProviderFieldsSource
from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.provider import Providers
from lineup_integrations.core.store import IntegrationNotConnectedError, Store
from lineup_integrations.gateway.errors import ApiError


def registry_field_source(store: Store, oauth: OAuthEngine, providers: Providers) -> ProviderFieldsSource:
    def source(tenant_id: str, provider: str, entity: str) -> Sequence[ProviderField]:
        field_source = providers[provider].field_source
        if field_source is None:
            raise ApiError(
                400, "mapping_unavailable", f"provider {provider!r} has no mappable fields yet", field="provider"
            )
        try:
            return field_source(store, oauth, tenant_id, entity)
        except IntegrationNotConnectedError as error:
            raise ApiError(409, "integration_not_connected", str(error), field="provider") from None

    return source
