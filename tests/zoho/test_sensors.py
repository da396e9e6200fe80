"""Zoho's sensors and schedule evaluated against a real instance and store (one test per cursor case)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG
from dagster._core.test_utils import create_run_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from lineup_integrations.core.mapping import Direction, FieldRule, activate_mapping, active_mapping, propose_mapping
from lineup_integrations.core.store import Store, load_stream_state, save_stream_state
from lineup_integrations.orchestration.partitions import TENANTS_PARTITION_SET
from lineup_integrations.orchestration.resources import StoreResource
from lineup_integrations.sandbox import SandboxHandle
from lineup_integrations.zoho.contacts import STREAM as MAPPED_STREAM
from lineup_integrations.zoho.contacts import ContactsMapper
from lineup_integrations.zoho.jobs import SYNC_JOB_NAME, run_tags
from lineup_integrations.zoho.sensors import zoho_connected_tenants, zoho_mapping_changes, zoho_periodic_sync
from tests.zoho.conftest import ZohoTenant, make_zoho_resource, started

TenantFactory = Callable[..., ZohoTenant]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def evaluate(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, store_url: str, cursor: str | None = None
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"store": StoreResource(database_url=store_url)}
    )
    return sensor(context)


def enqueue(instance: dg.DagsterInstance, job_name: str, tags: dict[str, str]) -> dg.DagsterRun:
    """A run created and submitted to the instance's run queue as the daemon does it: created
    NOT_STARTED, then QUEUED by the queued run coordinator's enqueue event. A queued run names the
    code location that launches it: ours (`lineup_integrations.definitions`)."""
    location = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="lineup_integrations.definitions"))
    origin = RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(location, "__repository__"), job_name=job_name)
    run = create_run_for_test(
        instance, job_name=job_name, status=dg.DagsterRunStatus.NOT_STARTED, tags=tags, remote_job_origin=origin
    )
    instance.report_dagster_event(DagsterEvent.job_enqueue(run), run_id=run.run_id)
    queued = instance.get_run_by_id(run.run_id)
    assert queued is not None and queued.status == dg.DagsterRunStatus.QUEUED
    return queued


def submit_like_the_daemon(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, result: dg.SensorResult
) -> list[dg.DagsterRun]:
    """What the sensor daemon does with a tick's run requests (`_daemon/sensor.py`): a request
    whose run key this sensor already launched a run for is skipped, for good; any other becomes
    a run tagged with its key and the sensor's name. Returns the runs created."""
    created = []
    for request in result.run_requests or []:
        existing = [
            run
            for run in instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: request.run_key}))
            if run.tags.get(SENSOR_NAME_TAG) == sensor.name
        ]
        if not existing:
            created.append(
                enqueue(
                    instance,
                    sensor.job_name,
                    {
                        **request.tags,
                        "dagster/partition": request.partition_key,
                        SENSOR_NAME_TAG: sensor.name,
                        RUN_KEY_TAG: request.run_key,
                    },
                )
            )
    return created


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


def test_nothing_new_since_the_cursor_is_a_skip(
    store_url: str, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
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
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    tenant = zoho_tenant_factory("acme", contacts=10)
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme"])
    ContactsMapper(store, "acme").run()
    assert evaluate(zoho_mapping_changes, instance, store_url).run_requests == []

    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        fields = resource.provider_fields(tenant.tenant_id)
    propose_mapping(
        store,
        "acme",
        "zoho",
        "contacts",
        [FieldRule(sourceField="title", targetField="Title", transform="uppercase")],
        direction=Direction.INBOUND,
        actor="user:test",
        provider_fields=fields,
    )
    [request] = evaluate(zoho_mapping_changes, instance, store_url).run_requests
    assert request.partition_key == "acme" and request.run_key.startswith("remap:acme:v1@")


def test_v1_then_v0_then_v1_again_launches_three_remaps_through_run_key_dedup(
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    tenant = zoho_tenant_factory("acme", contacts=10)
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme"])
    ContactsMapper(store, "acme").run()
    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        fields = resource.provider_fields(tenant.tenant_id)
    launched: list[dg.DagsterRun] = []

    def tick_and_run_the_remap() -> list[dg.DagsterRun]:
        created = submit_like_the_daemon(
            zoho_mapping_changes, instance, evaluate(zoho_mapping_changes, instance, store_url)
        )
        # A tick before the remap ran asks again under the same key: the daemon must skip it.
        assert (
            submit_like_the_daemon(zoho_mapping_changes, instance, evaluate(zoho_mapping_changes, instance, store_url))
            == []
        )
        ContactsMapper(store, "acme").run()  # what the launched remap run does
        return created

    propose_mapping(
        store,
        "acme",
        "zoho",
        "contacts",
        [FieldRule(sourceField="title", targetField="Title", transform="uppercase")],
        direction=Direction.INBOUND,
        actor="user:test",
        provider_fields=fields,
    )
    launched += tick_and_run_the_remap()
    default_version = activate_mapping(store, "acme", "zoho", "contacts", 0, actor="user:test").default_version
    launched += tick_and_run_the_remap()
    activate_mapping(store, "acme", "zoho", "contacts", 1, actor="user:test")
    launched += tick_and_run_the_remap()

    keys = [run.tags[RUN_KEY_TAG] for run in launched]
    assert [key.split("@")[0] for key in keys] == [
        "remap:acme:v1",
        f"remap:acme:v0-default{default_version}",
        "remap:acme:v1",
    ]
    assert len(set(keys)) == 3 and all(run.tags["lineup/queue"] == "zoho:acme" for run in launched)
    assert evaluate(zoho_mapping_changes, instance, store_url).run_requests == []  # v1 is what the contacts hold


def test_the_schedule_syncs_connected_tenants_only(
    store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
    zoho_tenant_factory("acme")
    zoho_tenant_factory("globex")
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme", "globex"])
    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        resource.oauth.disconnect("globex", "zoho", actor="user:test")
    context = dg.build_schedule_context(
        instance=instance,
        resources={"store": StoreResource(database_url=store_url)},
        scheduled_execution_time=dt.datetime(2026, 11, 27, 10, 15, tzinfo=dt.UTC),
    )
    requests = zoho_periodic_sync(context)
    assert [(r.partition_key, r.run_key) for r in requests] == [("acme", "zoho-sync:acme:20261127T1015")]


def schedule_tick(instance: dg.DagsterInstance, store_url: str) -> list[dg.RunRequest] | dg.SkipReason:
    context = dg.build_schedule_context(
        instance=instance,
        resources={"store": StoreResource(database_url=store_url)},
        scheduled_execution_time=dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.UTC),
    )
    return zoho_periodic_sync(context)


@pytest.mark.parametrize(
    "status",
    [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    ],
)
def test_the_schedule_skips_a_tenant_whose_sync_is_still_queued_or_running(
    store_url: str,
    zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
    status: dg.DagsterRunStatus,
) -> None:
    zoho_tenant_factory("acme")
    zoho_tenant_factory("globex")
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme", "globex"])
    tags = {**run_tags("acme"), "dagster/partition": "acme"}
    if status == dg.DagsterRunStatus.QUEUED:
        enqueue(instance, SYNC_JOB_NAME, tags)
    else:
        create_run_for_test(instance, job_name=SYNC_JOB_NAME, status=status, tags=tags)

    requests = schedule_tick(instance, store_url)

    assert [r.partition_key for r in requests] == ["globex"]


def test_the_schedule_syncs_a_tenant_again_once_its_previous_sync_ended(
    store_url: str,
    zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    zoho_tenant_factory("acme")
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme"])
    run = enqueue(instance, SYNC_JOB_NAME, {**run_tags("acme"), "dagster/partition": "acme"})
    skipped = schedule_tick(instance, store_url)
    assert isinstance(skipped, dg.SkipReason) and "acme" in (skipped.skip_message or "")

    instance.report_run_failed(instance.get_run_by_id(run.run_id))

    assert [r.partition_key for r in schedule_tick(instance, store_url)] == ["acme"]


def test_a_new_shipped_default_rebuilds_the_tenants_still_on_it(
    store: Store, store_url: str, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
    zoho_tenant_factory("acme", contacts=10)
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme"])
    ContactsMapper(store, "acme").run()
    current = active_mapping(store, "acme", "zoho", "contacts").default_version
    with store.session() as session:  # as if the contacts were built before the default file's last bump
        state = load_stream_state(session, tenant_id="acme", provider="zoho", stream=MAPPED_STREAM)
        save_stream_state(
            session,
            tenant_id="acme",
            provider="zoho",
            stream=MAPPED_STREAM,
            state={**state, "default_version": current - 1},
        )

    [request] = evaluate(zoho_mapping_changes, instance, store_url).run_requests

    assert request.run_key == f"remap:acme:v0-default{current}"
    assert ContactsMapper(store, "acme").run().rebuilt
    assert evaluate(zoho_mapping_changes, instance, store_url).run_requests == []
