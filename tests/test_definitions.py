"""The code location `dagster dev` and `dagster-webserver` load: what it holds, and that it loads."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from lineup_integrations.core.provider import TENANTS_PARTITION_SET
from lineup_integrations.core.settings import Settings, SettingsError
from lineup_integrations.definitions import build_definitions
from lineup_integrations.registry import PROVIDERS


@pytest.fixture(autouse=True)
def current_instance() -> Iterator[dg.DagsterInstance]:
    """A live Dagster instance for each test: resolving a repository reads Dagster's current
    instance, and a closed one that an earlier test (in another module) left behind breaks it."""
    with dg.instance_for_test() as instance:
        yield instance


SANDBOX = {"LINEUP_ENVIRONMENT": "sandbox", "ENCRYPTION_KEY": "k" * 32}


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SANDBOX.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def defs(sandbox_env: None) -> dg.Definitions:
    return build_definitions()


def test_the_code_location_validates(defs: dg.Definitions) -> None:
    # Under a live instance, as `dagster dev` loads it: Dagster keeps the current instance's state
    # storage in a context variable, which an earlier test's closed instance can leave behind.
    with dg.instance_for_test():
        dg.Definitions.validate_loadable(defs)


def test_it_holds_the_zoho_pipeline_partitioned_by_tenant(defs: dg.Definitions) -> None:
    repository = defs.get_repository_def()
    assert {job.name for job in repository.get_all_jobs()} >= {"zoho_contacts_sync", "zoho_contacts_remap"}
    assert {sensor.name for sensor in repository.sensor_defs} >= {"zoho_connected_tenants", "zoho_mapping_changes"}
    assert ("zoho_periodic_sync", "*/15 * * * *") in {(s.name, s.cron_schedule) for s in repository.schedule_defs}
    for key in (dg.AssetKey("zoho_contacts_raw"), dg.AssetKey("contacts")):
        partitions = repository.asset_graph.get(key).partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition) and partitions.name == TENANTS_PARTITION_SET


def test_the_shared_resources_are_bound_once_and_each_provider_brings_its_own(defs: dg.Definitions) -> None:
    resources = dict(defs.resources or {})
    assert {"store", "vault", "zoho"} <= set(resources)
    assert resources["zoho"].store is resources["store"]


def test_every_sync_job_named_in_the_registry_exists(defs: dg.Definitions) -> None:
    jobs = {job.name for job in defs.get_repository_def().get_all_jobs()}
    assert {provider.sync.job for provider in PROVIDERS if provider.sync} <= jobs


def test_live_without_a_client_id_fails_the_load_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEUP_ENVIRONMENT", "live")
    monkeypatch.delenv("ZOHO_CLIENT_ID", raising=False)
    with pytest.raises(SettingsError, match="ZOHO_CLIENT_ID is not set"):
        build_definitions()


def test_live_points_the_provider_resource_at_the_real_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {
        "LINEUP_ENVIRONMENT": "live",
        "LINEUP_PROVIDERS": "zoho",
        "ZOHO_CLIENT_ID": "1000.REAL",
        "ZOHO_CLIENT_SECRET": "real-secret",
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ZOHO_BASE_URL", raising=False)
    zoho = dict(build_definitions().resources or {})["zoho"]
    assert zoho.base_url is None


def test_sandbox_points_every_provider_at_its_local_twin() -> None:
    settings = Settings.from_env(PROVIDERS, {"LINEUP_ENVIRONMENT": "sandbox"})
    assert {name: s.base_url for name, s in settings.providers.items()} == {
        p.name: f"http://127.0.0.1:{p.sandbox_port}" for p in PROVIDERS
    }


def test_the_contacts_checks_are_the_ones_that_can_fail_and_the_sync_step_is_in_the_provider_pool(
    defs: dg.Definitions,
) -> None:
    from lineup_integrations.zoho.provider import ZOHO

    repository = defs.get_repository_def()
    checks = {key.name for key in repository.asset_graph.asset_check_keys if key.asset_key == dg.AssetKey("contacts")}
    assert checks == {"raw_records_mapped", "no_open_dead_letters", "synced_recently", "contacts_have_email"}
    sync = repository.get_job("zoho_contacts_sync")
    assert {node.definition.pool for node in sync.graph.nodes} == {ZOHO.pool}
