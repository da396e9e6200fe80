"""Zoho's sensors and schedule evaluated against a real instance and store (one test per cursor case)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import dagster as dg
import pytest

from lineup_integrations.core.mapping import Direction, FieldRule, active_mapping, propose_mapping
from lineup_integrations.core.store import Store, load_stream_state, save_stream_state
from lineup_integrations.orchestration.partitions import TENANTS_PARTITION_SET
from lineup_integrations.orchestration.resources import StoreResource
from lineup_integrations.sandbox import SandboxHandle
from lineup_integrations.zoho.contacts import STREAM as MAPPED_STREAM
from lineup_integrations.zoho.contacts import ContactsMapper
from lineup_integrations.zoho.sensors import zoho_connected_tenants, zoho_mapping_changes, zoho_periodic_sync
from tests.zoho.conftest import ZohoTenant, make_zoho_resource, started

TenantFactory = Callable[..., ZohoTenant]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def evaluate(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, store_url: str,
             cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"store": StoreResource(database_url=store_url)})
    return sensor(context)


def test_a_newly_connected_tenant_gets_its_partition_and_a_first_sync(
    store_url: str, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
    zoho_tenant_factory("acme")
    zoho_tenant_factory("globex", dc="in")

    result = evaluate(zoho_connected_tenants, instance, store_url)

    [added] = result.dynamic_partitions_requests
    assert sorted(added.partition_keys) == ["acme", "globex"]
    assert sorted(r.partition_key for r in result.run_requests) == ["acme", "globex"]
    assert all(r.tags["provider"] == "zoho" and r.tags["tenant"] == r.partition_key for r in result.run_requests)
    assert result.cursor


def test_nothing_new_since_the_cursor_is_a_skip(store_url: str, zoho_tenant_factory: TenantFactory,
                                               instance: dg.DagsterInstance) -> None:
    zoho_tenant_factory("acme")
    first = evaluate(zoho_connected_tenants, instance, store_url)
    again = evaluate(zoho_connected_tenants, instance, store_url, cursor=first.cursor)
    assert again.run_requests == [] and again.skip_reason is not None


def test_a_tenant_connected_after_the_cursor_is_the_only_one_requested(
    store_url: str, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
    zoho_tenant_factory("acme")
    first = evaluate(zoho_connected_tenants, instance, store_url)
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme"])
    zoho_tenant_factory("globex")
    second = evaluate(zoho_connected_tenants, instance, store_url, cursor=first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["globex"]
    assert [req.partition_keys for req in second.dynamic_partitions_requests] == [["globex"]]


def test_a_mapping_change_requests_one_rebuild_per_version(
    store: Store, store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    tenant = zoho_tenant_factory("acme", contacts=10)
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme"])
    ContactsMapper(store, "acme").run()
    assert evaluate(zoho_mapping_changes, instance, store_url).run_requests == []

    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        fields = resource.provider_fields(tenant.tenant_id)
    propose_mapping(store, "acme", "zoho", "contacts", [FieldRule(sourceField="title", targetField="Title",
                    transform="uppercase")], direction=Direction.INBOUND, actor="user:test", provider_fields=fields)
    [request] = evaluate(zoho_mapping_changes, instance, store_url).run_requests
    assert (request.partition_key, request.run_key) == ("acme", "remap:acme:v1")


def test_the_schedule_syncs_connected_tenants_only(
    store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
    zoho_tenant_factory("acme")
    zoho_tenant_factory("globex")
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme", "globex"])
    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        resource.oauth.disconnect("globex", "zoho", actor="user:test")
    context = dg.build_schedule_context(instance=instance, resources={"store": StoreResource(database_url=store_url)},
                                        scheduled_execution_time=dt.datetime(2026, 11, 27, 10, 15, tzinfo=dt.UTC))
    requests = list(zoho_periodic_sync(context))
    assert [(r.partition_key, r.run_key) for r in requests] == [("acme", "zoho-sync:acme:20261127T1015")]


def test_a_new_shipped_default_rebuilds_the_tenants_still_on_it(
    store: Store, store_url: str, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
    zoho_tenant_factory("acme", contacts=10)
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme"])
    ContactsMapper(store, "acme").run()
    current = active_mapping(store, "acme", "zoho", "contacts").default_version
    with store.session() as session:  # as if the contacts were built before the default file's last bump
        state = load_stream_state(session, tenant_id="acme", provider="zoho", stream=MAPPED_STREAM)
        save_stream_state(session, tenant_id="acme", provider="zoho", stream=MAPPED_STREAM,
                          state={**state, "default_version": current - 1})

    [request] = evaluate(zoho_mapping_changes, instance, store_url).run_requests

    assert request.run_key == f"remap:acme:v0-default{current}"
    assert ContactsMapper(store, "acme").run().rebuilt
    assert evaluate(zoho_mapping_changes, instance, store_url).run_requests == []
