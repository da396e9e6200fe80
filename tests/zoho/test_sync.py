"""The contacts pipeline (the raw sync, its records mapped as they land) against the Zoho sandbox:
store equals the sandbox's truth."""

from __future__ import annotations

import math
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select

from lineup_integrations.core.http import TransportFailure
from lineup_integrations.core.store import Contact, RawRecord, Store
from lineup_integrations.sandbox import SandboxHandle
from lineup_integrations.zoho.pipeline import sync_and_map_contacts
from lineup_integrations.zoho.resource import ZohoResource
from lineup_integrations.zoho.sync import parse_zoho_time
from tests.zoho.conftest import ZohoTenant, make_zoho_resource, started, store_ids

TenantFactory = Callable[..., ZohoTenant]


# Mapped in chunks of 700 records: chunks end mid-page, and a pass holds several.
MAPPING_CHUNK = 700


def sync(store: Store, resource: ZohoResource, tenant: ZohoTenant, **options: object):
    stats, _ = sync_and_map_contacts(
        store, resource.client_for(tenant.tenant_id), tenant.tenant_id, mapping_chunk=MAPPING_CHUNK, **options
    )
    return stats


def assert_store_equals_truth(store: Store, tenant: ZohoTenant) -> None:
    truth = tenant.truth()
    expected = {c["id"]: c.get("Email") for c in truth["contacts"]}
    stored = store_ids(store, tenant.tenant_id)
    assert stored["raw"] == sorted(expected)
    assert set(stored["contacts"]) == set(expected)
    # The default mapping normalises emails (trim + lowercase).
    assert stored["contacts"] == {i: (e.strip().lower() if e else None) for i, e in expected.items()}


def test_full_sync_lands_every_contact_mapped(
    store: Store, zoho_resource: ZohoResource, zoho_tenant_factory: TenantFactory
) -> None:
    tenant = zoho_tenant_factory(contacts=2_345)
    stats = sync(store, zoho_resource, tenant)
    assert (stats.mode, stats.fetched) == ("full", 2_345)
    assert tenant.api_calls() == math.ceil(2_345 / 200)  # page tokens past 2,000, no extra call
    assert_store_equals_truth(store, tenant)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(RawRecord)) == 2_345
        # The sync hands its parsed times (and the follower, the same times) to the store as datetimes.
        raw = dict(session.execute(select(RawRecord.external_id, RawRecord.source_modified_at)).all())
        mapped = dict(session.execute(select(Contact.external_id, Contact.source_modified_at)).all())
    modified = {c["id"]: parse_zoho_time(c["Modified_Time"]) for c in tenant.truth()["contacts"]}
    assert None not in modified.values() and raw == mapped == modified


def test_incremental_after_edits_and_deletes_costs_the_minimum_calls(
    store: Store, zoho_resource: ZohoResource, zoho_tenant_factory: TenantFactory
) -> None:
    tenant = zoho_tenant_factory(contacts=3_000)
    sync(store, zoho_resource, tenant)
    edited = set(tenant.crm("contacts/edit-random", {"count": 1_000, "seed": 3})["ids"])
    deleted = set(tenant.crm("contacts/delete-random", {"count": 100, "seed": 4})["ids"])
    before = tenant.api_calls()

    stats = sync(store, zoho_resource, tenant)

    changed = len(edited - deleted)
    assert stats.mode == "incremental"
    assert (stats.fetched, stats.deleted) == (changed, len(deleted))
    assert tenant.api_calls() - before == math.ceil(changed / 200) + math.ceil(len(deleted) / 200)
    assert_store_equals_truth(store, tenant)


def test_incremental_without_changes_costs_two_calls(
    store: Store, zoho_resource: ZohoResource, zoho_tenant_factory: TenantFactory
) -> None:
    tenant = zoho_tenant_factory(contacts=450)
    sync(store, zoho_resource, tenant)
    before = tenant.api_calls()
    stats = sync(store, zoho_resource, tenant)
    assert (stats.fetched, stats.deleted) == (0, 0)
    assert tenant.api_calls() - before <= 2


def test_a_run_killed_mid_way_resumes_from_its_checkpoint(
    store: Store, store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory
) -> None:
    tenant = zoho_tenant_factory(contacts=4_000)
    with started(make_zoho_resource(store_url, sandbox_reset, max_http_attempts=1)) as fragile:
        # Dropped connections on a seeded 15 % of calls: with one attempt, the run dies at some page.
        tenant.fault(endpoint="GET */crm/*/Contacts*", kind="reset", rate=0.15, seed=5, count=1)
        with pytest.raises(TransportFailure):
            sync(store, fragile, tenant)
    committed = len(store_ids(store, tenant.tenant_id)["raw"])
    assert 0 < committed < 4_000
    # Every page fetched before the failed call is committed: the next page is fetched and prepared
    # while the database ingests the current one, but its failure surfaces after that page commits.
    assert committed == (tenant.api_calls() - 1) * 200
    # What was mapped is a whole number of chunks, written a chunk behind (while the next is mapped);
    # the records landed after the last chunk written are mapped when the sync resumes.
    assert len(store_ids(store, tenant.tenant_id)["contacts"]) < committed
    before = tenant.api_calls()

    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        stats = sync(store, resource, tenant)

    assert stats.resumed
    assert stats.fetched == 4_000 - committed
    assert tenant.api_calls() - before == math.ceil((4_000 - committed) / 200)
    assert_store_equals_truth(store, tenant)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 4_000


def test_faults_on_thirty_percent_of_requests_still_converge(
    store: Store, store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory
) -> None:
    tenant = zoho_tenant_factory(contacts=3_000)
    for kind, status, seed in (("status", 429, 1), ("status", 503, 2), ("reset", 500, 3)):
        tenant.fault(endpoint="* */crm/*", kind=kind, status=status, rate=0.1, seed=seed, count=10_000)
    with started(make_zoho_resource(store_url, sandbox_reset, max_http_attempts=10)) as resource:
        sync(store, resource, tenant)
        tenant.crm("contacts/edit-random", {"count": 500, "seed": 8})
        tenant.crm("contacts/delete-random", {"count": 50, "seed": 9})
        stats = sync(store, resource, tenant)
    assert stats.mode == "incremental"
    assert_store_equals_truth(store, tenant)


def test_an_expired_token_mid_run_is_refreshed_once(
    store: Store, zoho_resource: ZohoResource, zoho_tenant_factory: TenantFactory, sandbox_reset: SandboxHandle
) -> None:
    tenant = zoho_tenant_factory(contacts=600)
    tenant.fault(endpoint="GET */crm/*/Contacts*", kind="status", status=401, count=1)
    refreshes = _token_requests(sandbox_reset, "refresh_token")
    sync(store, zoho_resource, tenant)
    assert _token_requests(sandbox_reset, "refresh_token") == refreshes + 1
    assert_store_equals_truth(store, tenant)


def _token_requests(sandbox: SandboxHandle, grant: str) -> int:
    stats = httpx.get(f"{sandbox.base_url('zoho')}/_sandbox/stats").json()
    return int(stats["token_requests_by_grant"].get(grant, 0))


def test_a_full_sync_continues_past_the_end_of_a_page_token_chain(
    store: Store, zoho_resource: ZohoResource, zoho_tenant_factory: TenantFactory, sandbox_reset: SandboxHandle
) -> None:
    # Zoho's chains reach 100,000 records; the sandbox's switch makes that 1,000 so the test stays small.
    config = f"{sandbox_reset.base_url('zoho')}/_sandbox/crm/config"
    limit = httpx.get(config).json()["page_token_record_limit"]
    httpx.post(config, json={"page_token_record_limit": 1_000}).raise_for_status()
    try:
        tenant = zoho_tenant_factory(contacts=2_600)
        stats = sync(store, zoho_resource, tenant)
    finally:
        httpx.post(config, json={"page_token_record_limit": limit}).raise_for_status()
    assert stats.fetched >= 2_600
    assert_store_equals_truth(store, tenant)
