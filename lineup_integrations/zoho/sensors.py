"""Zoho sensors and the periodic sync schedule.

- `zoho_connected_tenants`: adds the partition of each newly (re)connected tenant and requests its
  first sync in the same tick (partition additions apply before the run requests).
- `zoho_mapping_changes`: requests a mapping-only rebuild when a tenant's active mapping version is
  not the one its contacts were built with.
- `zoho_periodic_sync`: every 15 minutes, an incremental sync of every connected tenant.
"""

import datetime as dt

import dagster as dg
from sqlalchemy import select

from lineup_integrations.core.mapping import active_mapping
from lineup_integrations.core.store import Integration, IntegrationStatus, load_stream_state
from lineup_integrations.orchestration.partitions import TENANTS_PARTITION_SET, is_valid_tenant_id, tenant_partitions
from lineup_integrations.orchestration.resources import StoreResource
from lineup_integrations.zoho.contacts import ENTITY, applied_version, applied_version_of
from lineup_integrations.zoho.contacts import STREAM as MAPPED_STREAM
from lineup_integrations.zoho.jobs import run_tags, zoho_contacts_remap_job, zoho_contacts_sync_job

PROVIDER = "zoho"
SYNC_CRON = "*/15 * * * *"


def _connected(store: StoreResource) -> list[Integration]:
    with store.get().session() as session:
        return list(session.scalars(
            select(Integration).where(Integration.provider == PROVIDER,
                                      Integration.status == IntegrationStatus.CONNECTED.value)
            .order_by(Integration.connected_at)
        ))  # fmt: skip


@dg.sensor(job=zoho_contacts_sync_job, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING)
def zoho_connected_tenants(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    """Cursor: the newest `connected_at` handled; run key: integration id + that time (once per connection)."""
    after = dt.datetime.fromisoformat(context.cursor) if context.cursor else None
    fresh = [i for i in _connected(store) if i.connected_at and (after is None or i.connected_at > after)
             and is_valid_tenant_id(i.tenant_id)]  # fmt: skip
    if not fresh:
        return dg.SensorResult(skip_reason="no newly connected Zoho tenant")
    known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_SET))
    new_keys = sorted({i.tenant_id for i in fresh} - known)
    return dg.SensorResult(
        dynamic_partitions_requests=[tenant_partitions.build_add_request(new_keys)] if new_keys else [],
        run_requests=[
            dg.RunRequest(partition_key=i.tenant_id, run_key=f"connect:{i.id}:{i.connected_at.isoformat()}",
                          tags=run_tags(i.tenant_id))
            for i in fresh
        ],
        cursor=max(i.connected_at for i in fresh).isoformat(),
    )


@dg.sensor(job=zoho_contacts_remap_job, minimum_interval_seconds=10, default_status=dg.DefaultSensorStatus.RUNNING)
def zoho_mapping_changes(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    """Run key: tenant + mapping version (+ the default file's version), so each change is rebuilt once."""
    requests = []
    known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_SET))
    for integration in _connected(store):
        tenant_id = integration.tenant_id
        if tenant_id not in known:
            continue
        mapping = active_mapping(store.get(), tenant_id, PROVIDER, ENTITY)
        with store.get().session() as session:
            state = load_stream_state(session, tenant_id=tenant_id, provider=PROVIDER, stream=MAPPED_STREAM)
        if state is not None and applied_version(state) != applied_version_of(mapping):
            default = f"-default{mapping.default_version}" if mapping.default_version is not None else ""
            requests.append(dg.RunRequest(partition_key=tenant_id, run_key=f"remap:{tenant_id}:v{mapping.version}{default}",
                                          tags=run_tags(tenant_id)))
    return dg.SensorResult(run_requests=requests) if requests else dg.SensorResult(skip_reason="no mapping change")


@dg.schedule(job=zoho_contacts_sync_job, cron_schedule=SYNC_CRON, default_status=dg.DefaultScheduleStatus.RUNNING,
             execution_timezone="UTC")
def zoho_periodic_sync(context: dg.ScheduleEvaluationContext, store: StoreResource):  # noqa: ANN201
    """One incremental sync per connected tenant; disconnected tenants keep their partition but get no run."""
    known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_SET))
    tick = context.scheduled_execution_time.strftime("%Y%m%dT%H%M")
    for integration in _connected(store):
        if integration.tenant_id in known:
            yield dg.RunRequest(partition_key=integration.tenant_id, run_key=f"zoho-sync:{integration.tenant_id}:{tick}",
                                tags=run_tags(integration.tenant_id))
