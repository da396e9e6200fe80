"""A schedule per provider that refreshes its tenants' tokens ahead of expiry (MISSION: "schedules
... refresh tokens ahead of expiry").

Every `interval`, the job refreshes each connected integration whose access token expires within
twice that interval, so no token reaches its expiry between two runs even when nothing syncs.
A dead grant is marked `needs_reauth` (the tenant must reconnect); any other failure fails the
run, visibly, and is retried by the next tick.
"""

import datetime as dt

import dagster as dg

from lineup_integrations.core.oauth.renewal import refresh_expiring_tokens
from lineup_integrations.orchestration.provider_resource import ProviderResource

DEFAULT_INTERVAL = dt.timedelta(minutes=10)


def token_refresh_definitions(resource_key: str, *, interval: dt.timedelta = DEFAULT_INTERVAL) -> dg.Definitions:
    """The job `<resource_key>_token_refresh` and its schedule, using the `ProviderResource` bound at `resource_key`."""
    minutes = int(interval.total_seconds() // 60)
    if minutes < 1 or 60 % minutes:
        raise ValueError("the refresh interval must be a whole number of minutes dividing an hour")

    @dg.op(name=f"{resource_key}_refresh_expiring_tokens", required_resource_keys={resource_key})
    def refresh_tokens(context: dg.OpExecutionContext) -> dg.Output[int]:
        resource: ProviderResource = getattr(context.resources, resource_key)
        report = refresh_expiring_tokens(resource.oauth, resource.provider.name, within=2 * interval)
        if report.needs_reauth:
            context.log.warning(
                "%d integration(s) need the tenant to reconnect: %s",
                len(report.needs_reauth),
                ", ".join(report.needs_reauth),
            )
        metadata = {
            "refreshed": len(report.refreshed),
            "needs_reauth": len(report.needs_reauth),
            "failed": len(report.failed),
        }
        if report.failed:
            raise dg.Failure(
                description=f"{len(report.failed)} token refresh(es) failed; the next run retries them",
                metadata={**metadata, "failures": dg.MetadataValue.json(report.failed)},
            )
        return dg.Output(len(report.refreshed), metadata=metadata)

    @dg.job(
        name=f"{resource_key}_token_refresh",
        tags={"provider": resource_key},
        description="Refresh the provider's access tokens that expire before the next run.",
    )
    def token_refresh_job() -> None:
        refresh_tokens()

    schedule = dg.ScheduleDefinition(
        name=f"{resource_key}_token_refresh_schedule", job=token_refresh_job, cron_schedule=f"*/{minutes} * * * *",
        execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    )  # fmt: skip
    return dg.Definitions(jobs=[token_refresh_job], schedules=[schedule])
