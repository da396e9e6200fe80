"""A calendar provider's Dagster objects, built the same way for Google Calendar and Outlook Calendar.

`calendar_sync_definitions(provider, resource)` returns, for one provider and nothing else:

- the step `<provider>_events` (tenant partitions) materializing two assets:
  `<provider>_events_raw` (the events as the API returned them, incremental by sync token /
  delta link, checkpointed per page) and `calendar_events/<provider>` (the provider's rows of
  Lineup's `calendar_events` table: expanded, mapped, UTC). Both providers write one table; each
  owns its rows, so each is its own asset and neither waits for the other;
- the job `<provider>_events_sync`: that step, then `interviewer_busy_blocks` for the tenant;
- a sensor that syncs newly connected accounts at once (only those accounts: run config
  `user_ids`), and a schedule reconciling every connected account incrementally every 15 minutes.

Run config (`ops: {<provider>_events: {config: {user_ids, full_refresh}}}`) scopes a run to some
users' accounts — what a webhook for one account will launch.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
from pydantic import Field
from sqlalchemy import select

from lineup_integrations.calendar import checks
from lineup_integrations.calendar.accounts import AccountResult
from lineup_integrations.calendar.sync import AccountStats
from lineup_integrations.core.http import ApiError
from lineup_integrations.core.provider import Provider, run_tags
from lineup_integrations.core.store import Integration, IntegrationStatus, Store
from lineup_integrations.orchestration.busy_blocks import BUSY_BLOCKS, interviewer_busy_blocks
from lineup_integrations.orchestration.calendar_resource import CalendarResource
from lineup_integrations.orchestration.partitions import TENANTS_PARTITION_SET, is_valid_tenant_id, tenant_partitions
from lineup_integrations.orchestration.resources import StoreResource
from lineup_integrations.orchestration.retries import is_transient_store_error, permanent_failure, request_spec_retry
from lineup_integrations.orchestration.runs import tenants_with_sync_in_flight

SYNC_CRON = f"*/{int(checks.SYNC_INTERVAL.total_seconds() // 60)} * * * *"


class CalendarSyncConfig(dg.Config):
    """Run config of a calendar sync."""

    user_ids: list[str] | None = Field(
        default=None, description="Sync only these Lineup users' accounts (None: every connected account)."
    )
    full_refresh: bool = Field(
        default=False, description="List every event again and delete what is gone (deletion by difference)."
    )


def calendar_events_key(provider: str) -> dg.AssetKey:
    """The provider's rows of Lineup's `calendar_events` table, as an asset."""
    return dg.AssetKey(["calendar_events", provider])


def raw_events_key(provider: str) -> dg.AssetKey:
    return dg.AssetKey(f"{provider}_events_raw")


def calendar_sync_definitions(provider: Provider, resource: CalendarResource) -> dg.Definitions:
    """See the module docstring. `provider.sync` names the job and the step (the gateway launches them)."""
    if provider.sync is None:
        raise ValueError(f"provider {provider.name!r} declares no sync job")
    name, raw_key, events_key = provider.name, raw_events_key(provider.name), calendar_events_key(provider.name)

    @dg.multi_asset(
        name=provider.sync.op,
        specs=[
            dg.AssetSpec(
                raw_key,
                group_name="calendars",
                kinds={provider.name.split("_")[0], "sql"},
                description=f"{provider.title} events of the tenant's interviewer accounts, as the API returns them.",
            ),
            dg.AssetSpec(
                events_key,
                deps=[raw_key],
                group_name="calendars",
                kinds={"pandas", "sql"},
                description=f"{provider.title} events in Lineup's calendar_events table: recurring "
                "series expanded in the window, times in UTC with their zones, mapped descriptive fields.",
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                "events_end_after_start", asset=events_key, description="No event ends before it starts."
            ),
            dg.AssetCheckSpec(
                "synced_recently",
                asset=events_key,
                description=f"Every connected account synced within {checks.STALE_AFTER.total_seconds() / 60:g} minutes.",
            ),
        ],
        partitions_def=tenant_partitions,
        pool=provider.pool,
        required_resource_keys={name, "store"},
    )
    def sync_events(context: dg.AssetExecutionContext, config: CalendarSyncConfig) -> Iterator[dg.MaterializeResult]:
        calendar: CalendarResource = getattr(context.resources, name)
        store: StoreResource = context.resources.store
        try:
            results = calendar.accounts_sync().sync(
                context.partition_key, user_ids=config.user_ids, full=config.full_refresh
            )
        except Exception as error:
            if not is_transient_store_error(error):
                raise
            raise request_spec_retry(context, error) from error
        _raise_for_failed_accounts(context, provider, results)
        yield from _results(context, provider, store.get(), results, raw_key, events_key)

    job = dg.define_asset_job(
        provider.sync.job,
        selection=dg.AssetSelection.assets(raw_key, events_key, BUSY_BLOCKS),
        executor_def=dg.in_process_executor,
        tags={"provider": name},
        description=f"Sync the tenant's {provider.title} accounts (incremental), then its interviewers' busy blocks.",
    )
    return dg.Definitions(
        assets=[sync_events, interviewer_busy_blocks],
        jobs=[job],
        sensors=[_connected_accounts_sensor(provider)],
        schedules=[_periodic_sync(provider)],
        resources={name: resource},
    )


def _raise_for_failed_accounts(
    context: dg.AssetExecutionContext, provider: Provider, results: list[AccountResult]
) -> None:
    """Accounts that failed for a reason a retry can fix → retry the step (synced accounts resume
    with one call per calendar); a reason it cannot fix → fail it, naming the accounts. Accounts
    needing re-consent are not failures of the run: their integrations say `needs_reauth`."""
    failed = [result for result in results if result.error is not None]
    if not failed:
        return
    for result in failed:
        context.log.error("%s account of user %s failed: %s", provider.title, result.user_id, result.error)
    final = [r for r in failed if isinstance(r.error, ApiError) and not r.error.retryable and r.error.status != 401]
    if final and len(final) == len(failed):
        users = ", ".join(sorted(r.user_id for r in final))
        raise permanent_failure(f"{provider.title} refused the sync of the accounts of {users}: {final[0].error}")
    error = failed[0].error
    assert isinstance(error, Exception)
    raise request_spec_retry(context, error) from error


def _results(
    context: dg.AssetExecutionContext,
    provider: Provider,
    store: Store,
    results: list[AccountResult],
    raw_key: dg.AssetKey,
    events_key: dg.AssetKey,
) -> Iterator[dg.MaterializeResult]:
    tenant_id = context.partition_key
    synced = [r.stats for r in results if r.stats is not None]
    reauth = sorted(r.user_id for r in results if r.needs_reauth)
    if reauth:
        context.log.warning("%s accounts needing re-consent (needs_reauth): %s", provider.title, ", ".join(reauth))

    def total(name: str) -> int:
        return sum(stats.total(name) for stats in synced)

    quotas = [r.quota for r in results if r.quota is not None]
    yield dg.MaterializeResult(
        asset_key=raw_key,
        metadata={
            "accounts": dg.MetadataValue.int(len(results)),
            "accounts_synced": dg.MetadataValue.int(len(synced)),
            "accounts_needing_reauth": dg.MetadataValue.int(len(reauth)),
            "calendars": dg.MetadataValue.int(sum(len(stats.calendars) for stats in synced)),
            "pages": dg.MetadataValue.int(total("pages")),
            "events_fetched": dg.MetadataValue.int(total("fetched")),
            "events_removed": dg.MetadataValue.int(total("removed")),
            "api_calls": dg.MetadataValue.int(sum(q.calls for q in quotas)),
            "api_retries": dg.MetadataValue.int(sum(q.retries for q in quotas)),
            "rate_limit_remaining": dg.MetadataValue.int(min((q.remaining for q in quotas), default=0)),
            "sync_mode": dg.MetadataValue.text(_modes(synced)),
            "resumed_from_checkpoint": dg.MetadataValue.bool(any(
                c.resumed for stats in synced for c in stats.calendars.values())),
            "duration_s": dg.MetadataValue.float(round(sum(stats.duration_s for stats in synced), 3)),
        },
    )  # fmt: skip
    figures = checks.event_figures(store, tenant_id, provider.name)
    freshness = checks.freshness(store, tenant_id, provider.name)
    yield dg.MaterializeResult(
        asset_key=events_key,
        metadata={
            "events_written": dg.MetadataValue.int(total("events_written")),
            "events_deleted": dg.MetadataValue.int(total("events_deleted")),
            "records_rejected": dg.MetadataValue.int(total("rejected")),
            "events_total": dg.MetadataValue.int(figures.events),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="events_end_after_start",
                passed=figures.ending_before_start == 0,
                metadata={"ending_before_start": figures.ending_before_start, "events": figures.events},
            ),
            dg.AssetCheckResult(
                check_name="synced_recently",
                passed=freshness.fresh(dt.datetime.now(dt.UTC)),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "accounts": freshness.accounts,
                    "never_synced": freshness.never_synced,
                    "oldest_sync": freshness.oldest_sync.isoformat() if freshness.oldest_sync else "none",
                },
            ),
        ],
    )


def _modes(synced: list[AccountStats]) -> str:
    return ",".join(sorted({c.mode for stats in synced for c in stats.calendars.values()})) or "none"


def _connected_accounts_sensor(provider: Provider) -> dg.SensorDefinition:
    assert provider.sync is not None

    @dg.sensor(name=f"{provider.name}_connected_accounts", job_name=provider.sync.job, minimum_interval_seconds=5,
               default_status=dg.DefaultSensorStatus.RUNNING)  # fmt: skip
    def connected(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
        """Newly (re)connected accounts, synced at once — one run per tenant for the accounts its
        tick found, scoped to them. Cursor: the newest `connected_at` handled; run key: the tenant
        and that time (once per connection)."""
        after = dt.datetime.fromisoformat(context.cursor) if context.cursor else None
        fresh: dict[str, list[Integration]] = {}
        for integration in _connected(store.get(), provider.name):
            if integration.connected_at is not None and (after is None or integration.connected_at > after):
                fresh.setdefault(integration.tenant_id, []).append(integration)
        if not fresh:
            return dg.SensorResult(skip_reason=f"no newly connected {provider.title} account")
        known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_SET))
        new_keys = sorted(set(fresh) - known)
        newest = max(i.connected_at for accounts in fresh.values() for i in accounts if i.connected_at is not None)
        return dg.SensorResult(
            dynamic_partitions_requests=[tenant_partitions.build_add_request(new_keys)] if new_keys else [],
            run_requests=[_scoped_request(provider, tenant_id, accounts) for tenant_id, accounts in fresh.items()],
            cursor=newest.isoformat(),
        )

    return connected


def _scoped_request(provider: Provider, tenant_id: str, accounts: list[Integration]) -> dg.RunRequest:
    assert provider.sync is not None
    latest = max(i.connected_at for i in accounts if i.connected_at is not None)
    users = sorted({i.user_id for i in accounts})
    return dg.RunRequest(
        partition_key=tenant_id,
        run_key=f"connect:{provider.name}:{tenant_id}:{latest.isoformat()}",
        run_config={"ops": {provider.sync.op: {"config": {"user_ids": users}}}},
        tags={**run_tags(tenant_id, provider.name), "lineup/trigger": "connect"},
    )


def _periodic_sync(provider: Provider) -> dg.ScheduleDefinition:
    assert provider.sync is not None
    job_name = provider.sync.job

    @dg.schedule(name=f"{provider.name}_periodic_sync", job_name=job_name, cron_schedule=SYNC_CRON,
                 default_status=dg.DefaultScheduleStatus.RUNNING, execution_timezone="UTC")  # fmt: skip
    def periodic(context: dg.ScheduleEvaluationContext, store: StoreResource) -> list[dg.RunRequest] | dg.SkipReason:
        """Every tenant with a connected account: an incremental sync of all of them (what a lost push
        leaves behind is found within one interval). A tenant whose previous sync is queued or running is skipped."""
        known = set(context.instance.get_dynamic_partitions(TENANTS_PARTITION_SET))
        busy = tenants_with_sync_in_flight(context.instance, job_name, provider.name)
        due = sorted({i.tenant_id for i in _connected(store.get(), provider.name)} & known)
        tick = context.scheduled_execution_time.strftime("%Y%m%dT%H%M")
        requests = [
            dg.RunRequest(partition_key=tenant_id, run_key=f"{provider.name}-sync:{tenant_id}:{tick}",
                          tags=run_tags(tenant_id, provider.name))
            for tenant_id in due if tenant_id not in busy
        ]  # fmt: skip
        if requests:
            return requests
        if due:
            return dg.SkipReason(f"every due tenant's previous sync is still queued or running: {', '.join(due)}")
        return dg.SkipReason(f"no connected {provider.title} account")

    return periodic


def _connected(store: Store, provider: str) -> list[Integration]:
    """Every tenant's connected accounts of `provider` whose tenant id can be a partition key."""
    with store.session() as session:
        accounts = session.scalars(select(Integration).where(
            Integration.provider == provider, Integration.status == IntegrationStatus.CONNECTED.value,
        ).order_by(Integration.connected_at))  # fmt: skip
        return [integration for integration in accounts if is_valid_tenant_id(integration.tenant_id)]
