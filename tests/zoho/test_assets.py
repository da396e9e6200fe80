"""The Zoho assets materialized by Dagster against the sandbox: metadata, checks, failures and retries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from lineup_integrations.core.mapping import Direction, FieldRule, activate_mapping, propose_mapping
from lineup_integrations.core.store import Contact, Integration, IntegrationStatus, Store
from lineup_integrations.orchestration.partitions import TENANTS_PARTITION_SET
from lineup_integrations.orchestration.resources import StoreResource
from lineup_integrations.sandbox import SandboxHandle
from lineup_integrations.zoho.assets import CONTACTS, RAW_CONTACTS, zoho_contacts
from lineup_integrations.zoho.resource import ZohoResource
from tests.zoho.conftest import ZohoTenant, make_zoho_resource, started

TenantFactory = Callable[..., ZohoTenant]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


SYNC = [RAW_CONTACTS, CONTACTS]  # the sync job's selection


def materialize(selection: list[dg.AssetKey], tenant: ZohoTenant, instance: dg.DagsterInstance, store_url: str,
                resource: ZohoResource, run_config: dict[str, Any] | None = None) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, [tenant.tenant_id])
    return dg.materialize([zoho_contacts], selection=selection, partition_key=tenant.tenant_id, instance=instance,
                          raise_on_error=False,
                          resources={"zoho": resource, "store": StoreResource(database_url=store_url)},
                          run_config=run_config or {})


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def retry_waits(result: dg.ExecuteInProcessResult) -> list[float]:
    return [e.event_specific_data.seconds_to_wait for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_a_sync_records_numeric_metadata_and_passes_its_checks(
    store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
    tenant = zoho_tenant_factory(contacts=700)
    result = materialize(SYNC, tenant, instance, store_url,
                         make_zoho_resource(store_url, sandbox_reset))
    assert result.success
    raw = metadata(result, "zoho_contacts_raw")
    assert (raw["records_fetched"], raw["records_deleted"], raw["api_calls"], raw["sync_mode"]) == (700, 0, 4, "full")
    assert raw["rate_limit_remaining"] == 5000 - 4
    assert raw["cursor"]
    mapped = metadata(result, "contacts")
    assert (mapped["records_mapped"], mapped["mapping_version"], mapped["contacts_total"]) == (700, 0, 700)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["no_duplicate_external_ids"] is True
    assert "contacts_have_email" in checks


def test_the_quota_remaining_counts_earlier_runs_against_the_tenants_own_budget(
    store: Store, store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    tenant = zoho_tenant_factory(contacts=700)
    first = materialize([RAW_CONTACTS], tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset))
    assert metadata(first, "zoho_contacts_raw")["rate_limit_remaining"] == 5000 - 4
    with store.session() as session:
        session.get(Integration, tenant.integration.id).daily_api_budget = 1000  # e.g. a Free edition org

    second = materialize([RAW_CONTACTS], tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset))

    raw = metadata(second, "zoho_contacts_raw")
    assert (raw["sync_mode"], raw["api_calls"]) == ("incremental", 2)
    assert raw["rate_limit_remaining"] == 1000 - 4 - 2


def test_a_disconnected_tenant_fails_at_once_without_a_provider_call(
    store: Store, store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    tenant = zoho_tenant_factory(contacts=300)
    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        resource.oauth.disconnect(tenant.tenant_id, "zoho", actor="user:test")
    before = tenant.api_calls()
    result = materialize(SYNC, tenant, instance, store_url,
                         make_zoho_resource(store_url, sandbox_reset))
    assert not result.success
    assert retry_waits(result) == []
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "disconnected" in failure.event_specific_data.error.message
    assert tenant.api_calls() == before


def test_a_revoked_grant_ends_needs_reauth_and_spares_other_tenants(
    store: Store, store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    revoked = zoho_tenant_factory("acme", contacts=200)
    healthy = zoho_tenant_factory("globex", dc="in", contacts=250)
    sandbox_reset.state("zoho").revoke_grants(revoked.login)
    sandbox_reset.state("zoho").expire_access_tokens(revoked.login)

    failed = materialize(SYNC, revoked, instance, store_url,
                         make_zoho_resource(store_url, sandbox_reset))
    succeeded = materialize(SYNC, healthy, instance, store_url,
                            make_zoho_resource(store_url, sandbox_reset))

    assert not failed.success and retry_waits(failed) == []
    assert succeeded.success and metadata(succeeded, "zoho_contacts_raw")["records_fetched"] == 250
    with store.session() as session:
        statuses = dict(session.execute(select(Integration.tenant_id, Integration.status)).all())
    assert statuses == {"acme": IntegrationStatus.NEEDS_REAUTH.value, "globex": IntegrationStatus.CONNECTED.value}


def test_a_failure_past_the_http_retries_is_retried_on_the_spec_schedule(
    store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
    tenant = zoho_tenant_factory(contacts=300)
    tenant.fault(endpoint="GET */crm/*/Contacts*", kind="status", status=503, count=2)
    result = materialize([RAW_CONTACTS], tenant, instance, store_url,
                         make_zoho_resource(store_url, sandbox_reset, max_http_attempts=2))
    assert result.success
    [wait] = retry_waits(result)
    assert 1.5 <= wait <= 2.5  # the spec's first delay, 2 s, with ±25 % jitter
    assert metadata(result, "zoho_contacts_raw")["records_fetched"] == 300


def test_a_mapping_change_rebuilds_contacts_without_api_calls_and_rolls_back(
    store: Store, store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    tenant = zoho_tenant_factory(contacts=400)
    assert materialize(SYNC, tenant, instance, store_url,
                       make_zoho_resource(store_url, sandbox_reset)).success
    titles_before = _titles(store, tenant.tenant_id)
    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        fields = resource.provider_fields(tenant.tenant_id)
    version = propose_mapping(store, tenant.tenant_id, "zoho", "contacts",
                              [FieldRule(sourceField="title", targetField="Title", transform="uppercase")],
                              direction=Direction.INBOUND, actor="user:test", provider_fields=fields).version
    before = tenant.api_calls()

    remapped = materialize([CONTACTS], tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset))

    assert metadata(remapped, "contacts")["mapping_version"] == version
    assert metadata(remapped, "contacts")["full_rebuild"] is True
    assert _titles(store, tenant.tenant_id) == {i: t.upper() if t else t for i, t in titles_before.items()}
    assert tenant.api_calls() == before

    activate_mapping(store, tenant.tenant_id, "zoho", "contacts", 0, actor="user:test")
    rolled_back = materialize([CONTACTS], tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset))
    assert metadata(rolled_back, "contacts")["mapping_version"] == 0
    assert _titles(store, tenant.tenant_id) == titles_before
    assert tenant.api_calls() == before


def _titles(store: Store, tenant_id: str) -> dict[str, str | None]:
    with store.session() as session:
        return dict(session.execute(select(Contact.external_id, Contact.title).where(Contact.tenant_id == tenant_id)).all())
