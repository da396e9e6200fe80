"""Provider field metadata cached per tenant in the store."""

from __future__ import annotations

import datetime as dt

from lineup_integrations.core.mapping import ProviderField, cached_provider_fields
from lineup_integrations.core.store import Store
from tests.core.mapping.zoho_fields import zoho_contact_fields


class CountingFetch:
    """Stands in for the provider's metadata call and counts how often it is made."""

    def __init__(self, fields: list[ProviderField]) -> None:
        self.fields = fields
        self.calls = 0

    def __call__(self) -> list[ProviderField]:
        self.calls += 1
        return self.fields


def test_fetched_once_then_served_from_the_store(store: Store) -> None:
    fetch = CountingFetch(zoho_contact_fields())
    first = cached_provider_fields(store, "acme", "zoho", "Contacts", fetch)
    second = cached_provider_fields(store, "acme", "zoho", "Contacts", fetch)
    assert first == second == zoho_contact_fields()
    assert fetch.calls == 1


def test_stale_or_forced_entries_are_fetched_again(store: Store) -> None:
    fetch = CountingFetch(zoho_contact_fields())
    cached_provider_fields(store, "acme", "zoho", "Contacts", fetch)
    fetch.fields = [*zoho_contact_fields(), ProviderField(api_name="Lineup_Id", data_type="text")]
    refreshed = cached_provider_fields(store, "acme", "zoho", "Contacts", fetch, max_age=dt.timedelta(0))
    assert fetch.calls == 2 and refreshed[-1].api_name == "Lineup_Id"
    # The refreshed copy is what the cache now serves.
    assert cached_provider_fields(store, "acme", "zoho", "Contacts", fetch) == refreshed
    assert fetch.calls == 2


def test_each_tenant_and_module_has_its_own_entry(store: Store) -> None:
    acme = CountingFetch(zoho_contact_fields())
    globex = CountingFetch([ProviderField(api_name="Name", data_type="text")])
    cached_provider_fields(store, "acme", "zoho", "Contacts", acme)
    assert cached_provider_fields(store, "globex", "zoho", "Contacts", globex)[0].api_name == "Name"
    cached_provider_fields(store, "acme", "zoho", "Leads", acme)
    assert (acme.calls, globex.calls) == (2, 1)
