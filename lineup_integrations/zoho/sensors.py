"""Zoho sensors and the periodic sync schedule.

- `zoho_connected_tenants`: adds the partition of each newly (re)connected tenant and requests its
  first sync in the same tick (partition additions apply before the run requests).
- `zoho_mapping_changes`: requests a mapping-only rebuild when a tenant's active mapping version is
  not the one its contacts were built with.
- `zoho_periodic_sync`: every 15 minutes, an incremental sync of every connected tenant whose
  previous sync is over.

Run keys are permanent per sensor (the daemon never launches a key twice), so a key must name
the event it answers, not a state that can recur: a remap's key names the activation (the time
the tenant's active-mapping pointer moved), not only the version, which v1 → v0 → v1 repeats.
"""

import datetime as dt

import dagster as dg
from sqlalchemy import select

from lineup_integrations.core.mapping import active_mapping
from lineup_integrations.core.store import TENANT_WIDE, ActiveMapping, Integration, IntegrationStatus, load_stream_state
from lineup_integrations.orchestration.partitions import TENANTS_PARTITION_SET, is_valid_tenant_id, tenant_partitions
from lineup_integrations.orchestration.resources import StoreResource
from lineup_integrations.orchestration.runs import tenants_with_sync_in_flight
from lineup_integrations.zoho.checks import SYNC_INTERVAL
from lineup_integrations.zoho.contacts import ENTITY, applied_version, applied_version_of
from lineup_integrations.zoho.contacts import STREAM as MAPPED_STREAM
from lineup_integrations.zoho.jobs import SYNC_JOB_NAME, run_tags, zoho_contacts_remap_job, zoho_contacts_sync_job

PROVIDER = "zoho"
SYNC_CRON = f"*/{int(SYNC_INTERVAL.total_seconds() // 60)} * * * *"


def _connected(store: StoreResource) -> list[Integration]:
    with store.get().session() as session:
        return list(session.scalars(
            select(Integration).where(Integration.provider == PROVIDER, Integration.user_id == TENANT_WIDE,
                                      Integration.status == IntegrationStatus.CONNECTED.value)
            .order_by(Integration.connected_at)
        ))  # fmt: skip


@dg.sensor(job=zoho_contacts_sync_job, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING)
def zoho_connected_tenants(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    """Cursor: the newest `connected_at` handled; run key: integration id + that time (once per connection)."""
    after = dt.datetime.fromisoformat(context.cursor) if context.cursor else None
    fresh = [(i, i.connected_at) for i in _connected(store) if i.connected_at is not None
             and (after is None or i.connected_at > after) and is_valid_tenant_id(i.tenant_id)]  # fmt: skip
    if not fresh:
        return dg.SensorResult(skip_reason="no newly connected Zoho tenant")
    known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_SET))
    new_keys = sorted({i.tenant_id for i, _ in fresh} - known)
    return dg.SensorResult(
        dynamic_partitions_requests=[tenant_partitions.build_add_request(new_keys)] if new_keys else [],
        run_requests=[
            dg.RunRequest(
                partition_key=i.tenant_id,
                run_key=f"connect:{i.id}:{connected_at.isoformat()}",
                tags=run_tags(i.tenant_id),
            )
            for i, connected_at in fresh
        ],
        cursor=max(connected_at for _, connected_at in fresh).isoformat(),
    )


@dg.sensor(job=zoho_contacts_remap_job, minimum_interval_seconds=10, default_status=dg.DefaultSensorStatus.RUNNING)
def zoho_mapping_changes(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    """Run key: tenant + mapping version (+ the default file's version) + the activation's time, so
    each change is rebuilt once, and a version activated again later (v1 → v0 → v1) is rebuilt again."""
    requests = []
    known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_SET))
    for integration in _connected(store):
        tenant_id = integration.tenant_id
        if tenant_id not in known:
            continue
        mapping = active_mapping(store.get(), tenant_id, PROVIDER, ENTITY)
        with store.get().session() as session:
            state = load_stream_state(session, tenant_id=tenant_id, provider=PROVIDER, stream=MAPPED_STREAM)
            activated_at = session.scalar(select(ActiveMapping.updated_at).where(
                ActiveMapping.tenant_id == tenant_id, ActiveMapping.provider == PROVIDER,
                ActiveMapping.entity == ENTITY))  # fmt: skip
        if state is not None and applied_version(state) != applied_version_of(mapping):
            requests.append(
                dg.RunRequest(
                    partition_key=tenant_id,
                    run_key=remap_run_key(tenant_id, mapping.version, mapping.default_version, activated_at),
                    tags=run_tags(tenant_id),
                )
            )
    return dg.SensorResult(run_requests=requests) if requests else dg.SensorResult(skip_reason="no mapping change")


def remap_run_key(tenant_id: str, version: int, default_version: int | None, activated_at: dt.datetime | None) -> str:
    """`remap:<tenant>:v<version>[-default<file version>][@<activation time>]`. No activation time:
    the tenant never moved its pointer (no `active_mappings` row), so version 0 has been active
    since the start and only a new shipped default (the `-default` part) can change it."""
    default = f"-default{default_version}" if default_version is not None else ""
    activation = f"@{activated_at.astimezone(dt.UTC).isoformat()}" if activated_at is not None else ""
    return f"remap:{tenant_id}:v{version}{default}{activation}"


@dg.schedule(
    job=zoho_contacts_sync_job,
    cron_schedule=SYNC_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="UTC",
)
def zoho_periodic_sync(
    context: dg.ScheduleEvaluationContext, store: StoreResource
) -> list[dg.RunRequest] | dg.SkipReason:
    """One incremental sync per connected tenant; disconnected tenants keep their partition but get no run.
    A tenant whose previous sync (scheduled, webhook or manual) is still queued or running is
    skipped: that run picks up the same changes, and another would only wait behind it."""
    known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_SET))
    busy = tenants_with_sync_in_flight(context.instance, SYNC_JOB_NAME, PROVIDER)
    tick = context.scheduled_execution_time.strftime("%Y%m%dT%H%M")
    due = [i.tenant_id for i in _connected(store) if i.tenant_id in known]
    skipped = [tenant_id for tenant_id in due if tenant_id in busy]
    if skipped:
        context.log.info(
            "Skipping %d tenant(s) whose previous sync is still queued or running: %s", len(skipped), ", ".join(skipped)
        )
    requests = [dg.RunRequest(partition_key=tenant_id, run_key=f"zoho-sync:{tenant_id}:{tick}",
                              tags=run_tags(tenant_id))
                for tenant_id in due if tenant_id not in busy]  # fmt: skip
    if requests:
        return requests
    if skipped:
        return dg.SkipReason(f"every due tenant's previous sync is still queued or running: {', '.join(skipped)}")
    return dg.SkipReason("no connected Zoho tenant")
