"""The code location `dagster dev` and `dagster-webserver` load: what it holds, and that it loads."""

from __future__ import annotations

import dagster as dg

from lineup_integrations.definitions import defs
from lineup_integrations.orchestration.partitions import TENANTS_PARTITION_SET
from lineup_integrations.providers import PROVIDERS


def test_the_code_location_validates() -> None:
    # Under a live instance, as `dagster dev` loads it: Dagster keeps the current instance's state
    # storage in a context variable, which an earlier test's closed instance can leave behind.
    with dg.instance_for_test():
        dg.Definitions.validate_loadable(defs)


def test_it_holds_the_zoho_pipeline_partitioned_by_tenant() -> None:
    repository = defs.get_repository_def()
    assert {job.name for job in repository.get_all_jobs()} >= {"zoho_contacts_sync", "zoho_contacts_remap"}
    assert {sensor.name for sensor in repository.sensor_defs} == {"zoho_connected_tenants", "zoho_mapping_changes"}
    [schedule] = repository.schedule_defs
    assert (schedule.name, schedule.cron_schedule) == ("zoho_periodic_sync", "*/15 * * * *")
    for key in (dg.AssetKey("zoho_contacts_raw"), dg.AssetKey("contacts")):
        partitions = repository.asset_graph.get(key).partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition) and partitions.name == TENANTS_PARTITION_SET


def test_every_sync_job_named_in_the_registry_exists() -> None:
    jobs = {job.name for job in defs.get_repository_def().get_all_jobs()}
    assert {spec.sync_job for spec in PROVIDERS.values() if spec.sync_job} <= jobs
