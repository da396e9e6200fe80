"""Both calendar providers' Dagster objects against the sandbox: the job's assets and checks, run
config scoping a run to some users, a revoked account, the connected-accounts sensor and the schedule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import func, select

from lineup_integrations.core.store import BusyBlock, CalendarEventRow, Store
from lineup_integrations.google_calendar.provider import GOOGLE_CALENDAR
from lineup_integrations.google_calendar.resource import GoogleCalendarResource
from lineup_integrations.orchestration.calendar_sync import calendar_sync_definitions
from lineup_integrations.orchestration.partitions import TENANTS_PARTITION_SET
from lineup_integrations.orchestration.resources import StoreResource, VaultResource
from lineup_integrations.outlook_calendar.provider import OUTLOOK_CALENDAR
from lineup_integrations.outlook_calendar.resource import OutlookCalendarResource
from lineup_integrations.sandbox import SandboxHandle
from tests.calendar.accounts import CALENDAR_PROVIDERS, CalendarAccount
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.parametrize("provider", CALENDAR_PROVIDERS)
Factory = Callable[..., CalendarAccount]
RESOURCES = {"google_calendar": (GOOGLE_CALENDAR, GoogleCalendarResource),
             "outlook_calendar": (OUTLOOK_CALENDAR, OutlookCalendarResource)}  # fmt: skip


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def definitions(provider: str, store_url: str, sandbox: SandboxHandle) -> dg.Definitions:
    contract, resource_type = RESOURCES[provider]
    config = sandbox.state(provider).config
    resource = resource_type(
        client_id=config.client_id, client_secret=config.client_secret.get_secret_value(),
        base_url=sandbox.base_url(provider), store=StoreResource(database_url=store_url),
        vault=VaultResource(encryption_keys=f"test:{TEST_KEY}"), backoff_base_seconds=0.001,
        backoff_max_seconds=0.01, page_size=10,
    )  # fmt: skip
    sync = calendar_sync_definitions(contract, resource)
    return dg.Definitions.merge(sync, dg.Definitions(resources={"store": StoreResource(database_url=store_url)}))


def run_sync(
    provider: str,
    store_url: str,
    sandbox: SandboxHandle,
    instance: dg.DagsterInstance,
    config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme"])
    job = definitions(provider, store_url, sandbox).resolve_job_def(f"{provider}_events_sync")
    run_config = {"ops": {f"{provider}_events": {"config": config}}} if config else None
    return job.execute_in_process(partition_key="acme", instance=instance, raise_on_error=False, run_config=run_config)


def metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def test_the_sync_job_lands_events_and_busy_blocks_with_numeric_metadata_and_passing_checks(
    provider: str, store: Store, store_url: str, sandbox_reset: SandboxHandle, account_factory: Factory,
    instance: dg.DagsterInstance,
) -> None:  # fmt: skip
    account = account_factory(provider)
    account.seed(30)
    result = run_sync(provider, store_url, sandbox_reset, instance)
    assert result.success
    raw = metadata(result, dg.AssetKey(f"{provider}_events_raw"))
    assert (raw["accounts"], raw["accounts_synced"], raw["sync_mode"]) == (1, 1, "full")
    assert raw["api_calls"] >= raw["pages"] >= 3 and raw["events_fetched"] > 0
    events = metadata(result, dg.AssetKey(["calendar_events", provider]))
    assert events["events_total"] == len(account.stored(store)) > 0
    busy = metadata(result, dg.AssetKey("interviewer_busy_blocks"))
    assert busy["users"] == 1 and busy["busy_blocks"] > 0
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"events_end_after_start": True, "synced_recently": True, "busy_blocks_disjoint": True}

    again = run_sync(provider, store_url, sandbox_reset, instance)
    assert metadata(again, dg.AssetKey(f"{provider}_events_raw"))["sync_mode"] == "incremental"


def test_run_config_scopes_a_run_to_some_users_accounts(
    provider: str, store: Store, store_url: str, sandbox_reset: SandboxHandle, account_factory: Factory,
    instance: dg.DagsterInstance,
) -> None:  # fmt: skip
    ana, bob = account_factory(provider, "ana"), account_factory(provider, "bob")
    ana.seed(10)
    bob.seed(10, seed=3)
    result = run_sync(provider, store_url, sandbox_reset, instance, {"user_ids": ["bob"]})
    assert result.success
    assert metadata(result, dg.AssetKey(f"{provider}_events_raw"))["accounts"] == 1
    with store.session() as session:
        users = set(session.scalars(select(CalendarEventRow.user_id).distinct()))
        blocks = set(session.scalars(select(BusyBlock.user_id).distinct()))
    assert users == blocks == {"bob"}


def test_a_revoked_account_is_reported_and_the_run_still_succeeds_for_the_others(
    provider: str, store: Store, store_url: str, sandbox_reset: SandboxHandle, account_factory: Factory,
    instance: dg.DagsterInstance,
) -> None:  # fmt: skip
    ana, bob = account_factory(provider, "ana"), account_factory(provider, "bob")
    bob.seed(5)
    ana.revoke()
    result = run_sync(provider, store_url, sandbox_reset, instance)
    assert result.success
    raw = metadata(result, dg.AssetKey(f"{provider}_events_raw"))
    assert (raw["accounts"], raw["accounts_synced"], raw["accounts_needing_reauth"]) == (2, 1, 1)
    with store.session() as session:
        assert session.scalar(select(func.count()).where(CalendarEventRow.user_id == "ana")) == 0
        assert (session.scalar(select(func.count()).where(CalendarEventRow.user_id == "bob")) or 0) > 0


def test_a_newly_connected_account_is_synced_at_once_and_only_it(
    provider: str, store_url: str, sandbox_reset: SandboxHandle, account_factory: Factory, instance: dg.DagsterInstance
) -> None:
    account_factory(provider, "ana")
    defs = definitions(provider, store_url, sandbox_reset)
    sensor = defs.resolve_sensor_def(f"{provider}_connected_accounts")
    with dg.build_sensor_context(
        instance=instance, resources={"store": StoreResource(database_url=store_url)}
    ) as context:
        first = sensor(context)
    assert isinstance(first, dg.SensorResult) and first.run_requests
    [request] = first.run_requests
    assert request.partition_key == "acme"
    assert request.run_config == {"ops": {f"{provider}_events": {"config": {"user_ids": ["ana"]}}}}
    assert request.tags["provider"] == provider and request.tags["tenant"] == "acme"
    assert first.dynamic_partitions_requests and first.cursor

    with dg.build_sensor_context(instance=instance, cursor=first.cursor,
                                 resources={"store": StoreResource(database_url=store_url)}) as context:  # fmt: skip
        second = sensor(context)
    assert isinstance(second, dg.SensorResult) and not second.run_requests


def test_the_schedule_reconciles_every_tenant_with_a_connected_account(
    provider: str, store_url: str, sandbox_reset: SandboxHandle, account_factory: Factory, instance: dg.DagsterInstance
) -> None:
    account_factory(provider, "ana")
    account_factory(provider, "bob")
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, ["acme"])
    defs = definitions(provider, store_url, sandbox_reset)
    schedule = defs.resolve_schedule_def(f"{provider}_periodic_sync")
    tick = dt.datetime(2026, 12, 7, 10, 15, tzinfo=dt.UTC)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick,
                                   repository_def=defs.get_repository_def(),
                                   resources={"store": StoreResource(database_url=store_url)}) as context:  # fmt: skip
        requests = schedule.evaluate_tick(context).run_requests
    # One run for the tenant, unscoped: it syncs both users' accounts.
    assert requests is not None and [(r.partition_key, r.run_config, r.run_key) for r in requests] == [
        ("acme", {}, f"{provider}-sync:acme:20261207T1015")
    ]
