"""Provider field metadata cached per tenant (`provider_field_cache`), so that validating a mapping
change does not spend an API call each time (Zoho's `settings/fields` costs credits).

The provider supplies `fetch` (its own authenticated call); this module only decides whether the
cached copy is fresh enough. No transaction is held while `fetch` runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from lineup_integrations.core.mapping.model import ProviderField
from lineup_integrations.core.store import ProviderFieldCache, Store, upsert

DEFAULT_MAX_AGE = dt.timedelta(hours=1)

# (tenant_id, provider, entity) → the provider's fields for that entity: the seam through which a
# provider feeds its metadata to mapping validation (the gateway takes one of these).
ProviderFieldsSource = Callable[[str, str, str], Sequence[ProviderField]]


def cached_provider_fields(
    store: Store,
    tenant_id: str,
    provider: str,
    module: str,
    fetch: Callable[[], Sequence[ProviderField]],
    *,
    max_age: dt.timedelta = DEFAULT_MAX_AGE,
) -> list[ProviderField]:
    """The cached fields when younger than `max_age`, else `fetch()`ed and cached (a zero
    `max_age` forces a fetch, e.g. right after the tenant added a custom field)."""
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        cached = session.get(ProviderFieldCache, (tenant_id, provider, module))
        if cached is not None and now - cached.fetched_at < max_age:
            return [ProviderField.model_validate(item) for item in cached.fields]
    fields = list(fetch())
    with store.session() as session:
        upsert(session, ProviderFieldCache,
               [{"tenant_id": tenant_id, "provider": provider, "module": module,
                 "fields": [field.model_dump(mode="json") for field in fields], "fetched_at": now}],
               key=["tenant_id", "provider", "module"], update=["fields", "fetched_at"])  # fmt: skip
    return fields
