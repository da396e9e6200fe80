"""The Zoho assets materialized by Dagster against the sandbox: metadata, checks, failures and retries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import delete, select, text, update

from lineup_integrations.core.mapping import Direction, FieldRule, activate_mapping, propose_mapping
from lineup_integrations.core.store import Contact, DeadLetter, Integration, IntegrationStatus, RawRecord, Store
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


def materialize(
    selection: list[dg.AssetKey],
    tenant: ZohoTenant,
    instance: dg.DagsterInstance,
    store_url: str,
    resource: ZohoResource,
    run_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions(TENANTS_PARTITION_SET, [tenant.tenant_id])
    return dg.materialize(
        [zoho_contacts],
        selection=selection,
        partition_key=tenant.tenant_id,
        instance=instance,
        raise_on_error=False,
        resources={"zoho": resource, "store": StoreResource(database_url=store_url)},
        run_config=run_config or {},
    )


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def retry_waits(result: dg.ExecuteInProcessResult) -> list[float]:
    return [
        e.event_specific_data.seconds_to_wait for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"
    ]


def test_a_sync_records_numeric_metadata_and_passes_its_checks(
    store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> None:
    tenant = zoho_tenant_factory(contacts=700)
    result = materialize(SYNC, tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset))
    assert result.success
    raw = metadata(result, "zoho_contacts_raw")
    assert (raw["records_fetched"], raw["records_deleted"], raw["api_calls"], raw["sync_mode"]) == (700, 0, 4, "full")
    assert raw["rate_limit_remaining"] == 5000 - 4
    assert raw["cursor"]
    mapped = metadata(result, "contacts")
    assert (mapped["records_mapped"], mapped["mapping_version"], mapped["contacts_total"]) == (700, 0, 700)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert {name: checks[name] for name in ("raw_records_mapped", "no_open_dead_letters", "synced_recently")} == {
        "raw_records_mapped": True,
        "no_open_dead_letters": True,
        "synced_recently": True,
    }
    assert "contacts_have_email" in checks


def test_the_quota_remaining_counts_earlier_runs_against_the_tenants_own_budget(
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    zoho_tenant_factory: TenantFactory,
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
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    tenant = zoho_tenant_factory(contacts=300)
    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        resource.oauth.disconnect(tenant.tenant_id, "zoho", actor="user:test")
    before = tenant.api_calls()
    result = materialize(SYNC, tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset))
    assert not result.success
    assert retry_waits(result) == []
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "disconnected" in failure.event_specific_data.error.message
    assert tenant.api_calls() == before


def test_a_revoked_grant_ends_needs_reauth_and_spares_other_tenants(
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    revoked = zoho_tenant_factory("acme", contacts=200)
    healthy = zoho_tenant_factory("globex", dc="in", contacts=250)
    sandbox_reset.state("zoho").revoke_grants(revoked.login)
    sandbox_reset.state("zoho").expire_access_tokens(revoked.login)

    failed = materialize(SYNC, revoked, instance, store_url, make_zoho_resource(store_url, sandbox_reset))
    succeeded = materialize(SYNC, healthy, instance, store_url, make_zoho_resource(store_url, sandbox_reset))

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
    result = materialize(
        [RAW_CONTACTS], tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset, max_http_attempts=2)
    )
    assert result.success
    [wait] = retry_waits(result)
    assert 1.5 <= wait <= 2.5  # the spec's first delay, 2 s, with ±25 % jitter
    assert metadata(result, "zoho_contacts_raw")["records_fetched"] == 300


def test_a_mapping_change_rebuilds_contacts_without_api_calls_and_rolls_back(
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    tenant = zoho_tenant_factory(contacts=400)
    assert materialize(SYNC, tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset)).success
    titles_before = _titles(store, tenant.tenant_id)
    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        fields = resource.provider_fields(tenant.tenant_id)
    version = propose_mapping(
        store,
        tenant.tenant_id,
        "zoho",
        "contacts",
        [FieldRule(sourceField="title", targetField="Title", transform="uppercase")],
        direction=Direction.INBOUND,
        actor="user:test",
        provider_fields=fields,
    ).version
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


def check(result: dg.ExecuteInProcessResult, name: str) -> tuple[bool, dict[str, Any]]:
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.check_name == name]
    return evaluation.passed, {key: value.value for key, value in evaluation.metadata.items()}


@pytest.fixture
def synced(
    store_url: str, sandbox_reset: SandboxHandle, zoho_tenant_factory: TenantFactory, instance: dg.DagsterInstance
) -> ZohoTenant:
    """A tenant with 50 contacts, synced once (every check passes)."""
    tenant = zoho_tenant_factory(contacts=50)
    assert materialize(SYNC, tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset)).success
    return tenant


def remap(
    tenant: ZohoTenant, instance: dg.DagsterInstance, store_url: str, sandbox: SandboxHandle
) -> dg.ExecuteInProcessResult:
    """The contacts alone (the remap job): no API call, the checks re-read the store."""
    result = materialize([CONTACTS], tenant, instance, store_url, make_zoho_resource(store_url, sandbox))
    assert result.success
    return result


def test_raw_records_mapped_fails_for_a_live_record_without_contact_and_a_contact_without_record(
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    synced: ZohoTenant,
    instance: dg.DagsterInstance,
) -> None:
    assert check(remap(synced, instance, store_url, sandbox_reset), "raw_records_mapped") == (
        True,
        {"live_raw_records": 50, "contacts": 50, "unmapped": 0, "orphaned_contacts": 0},
    )
    with store.session() as session:  # two defects a mapping checkpoint bug would leave behind
        first, second = session.scalars(
            select(Contact.external_id)
            .where(Contact.tenant_id == synced.tenant_id)
            .order_by(Contact.external_id)
            .limit(2)
        ).all()
        session.execute(delete(Contact).where(Contact.tenant_id == synced.tenant_id, Contact.external_id == first))
        session.execute(update(RawRecord).where(RawRecord.tenant_id == synced.tenant_id, RawRecord.external_id == second)
                        .values(deleted_at=dt.datetime.now(dt.UTC)))  # fmt: skip

    passed, figures = check(remap(synced, instance, store_url, sandbox_reset), "raw_records_mapped")

    assert not passed
    assert figures == {"live_raw_records": 49, "contacts": 49, "unmapped": 1, "orphaned_contacts": 1}


def test_no_open_dead_letters_warns_with_the_count_until_they_are_replayed(
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    synced: ZohoTenant,
    instance: dg.DagsterInstance,
) -> None:
    with store.session() as session:
        for external_id in ("zcrm_1", "zcrm_2"):
            session.add(
                DeadLetter(
                    tenant_id=synced.tenant_id,
                    provider="zoho",
                    entity="contacts",
                    external_id=external_id,
                    stage="write",
                    error="value too long",
                )
            )
        session.add(
            DeadLetter(
                tenant_id="other",
                provider="zoho",
                entity="contacts",
                external_id="zcrm_3",
                stage="write",
                error="not this tenant's",
            )
        )

    failed = remap(synced, instance, store_url, sandbox_reset)
    [evaluation] = [c for c in failed.get_asset_check_evaluations() if c.check_name == "no_open_dead_letters"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert check(failed, "no_open_dead_letters")[1] == {"open_dead_letters": 2, "open_at_write": 2}

    with store.session() as session:
        session.execute(update(DeadLetter).where(DeadLetter.tenant_id == synced.tenant_id)
                        .values(replayed_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    assert check(remap(synced, instance, store_url, sandbox_reset), "no_open_dead_letters")[0] is True


@pytest.mark.parametrize("minutes_ago", [31, None])
def test_synced_recently_fails_when_the_last_sync_is_older_than_two_intervals(
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    synced: ZohoTenant,
    instance: dg.DagsterInstance,
    minutes_ago: int | None,
) -> None:
    def last_synced(at: dt.datetime | None) -> None:
        with store.session() as session:
            session.execute(update(Integration).where(Integration.tenant_id == synced.tenant_id)
                            .values(last_synced_at=at))  # fmt: skip

    last_synced(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=29))
    assert check(remap(synced, instance, store_url, sandbox_reset), "synced_recently")[0] is True

    last_synced(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago) if minutes_ago else None)
    passed, figures = check(remap(synced, instance, store_url, sandbox_reset), "synced_recently")

    assert not passed
    assert figures["stale_after_minutes"] == 30
    assert figures["last_synced_at"] != "never" if minutes_ago else figures["last_synced_at"] == "never"


DROP_THE_CONNECTION_ONCE = [
    "CREATE SEQUENCE test_fault_once",
    """CREATE FUNCTION test_drop_connection_once() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF nextval('test_fault_once') = 1 THEN
           PERFORM pg_terminate_backend(pg_backend_pid());
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER test_drop_connection_once BEFORE INSERT OR UPDATE ON sync_cursors
       FOR EACH STATEMENT EXECUTE FUNCTION test_drop_connection_once()""",
]


@pytest.mark.parametrize("store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_connection_the_database_server_drops_is_retried_on_the_spec_schedule(
    store: Store,
    store_url: str,
    sandbox_reset: SandboxHandle,
    zoho_tenant_factory: TenantFactory,
    instance: dg.DagsterInstance,
) -> None:
    # The server ends the step's connection (as on a restart or failover) at its first checkpoint
    # write, once: the sequence is not transactional, so the aborted attempt still counts.
    # PostgreSQL only: SQLite's lock contention waits its 60 s busy timeout before it fails.
    tenant = zoho_tenant_factory(contacts=300)
    with store.engine.begin() as connection:
        for statement in DROP_THE_CONNECTION_ONCE:
            connection.execute(text(statement))

    result = materialize(SYNC, tenant, instance, store_url, make_zoho_resource(store_url, sandbox_reset))

    assert result.success
    [wait] = retry_waits(result)
    assert 1.5 <= wait <= 2.5  # the spec's first delay, 2 s, with ±25 % jitter
    [retry] = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    causes, error = [], retry.event_specific_data.error
    while error is not None:
        causes.append(error.cls_name)
        error = error.cause
    assert "OperationalError" in causes  # the retry names the store's error as its cause
    assert metadata(result, "zoho_contacts_raw")["records_fetched"] == 300
    assert metadata(result, "contacts")["contacts_total"] == 300


def _titles(store: Store, tenant_id: str) -> dict[str, str | None]:
    with store.session() as session:
        return dict(
            session.execute(select(Contact.external_id, Contact.title).where(Contact.tenant_id == tenant_id)).all()
        )
