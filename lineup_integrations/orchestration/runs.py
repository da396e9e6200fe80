"""What the sensors and schedules of every provider ask the Dagster instance about runs."""

from __future__ import annotations

import dagster as dg

# A run in one of these states holds (or waits for) the tenant's one run-queue slot: a second
# scheduled sync would only queue behind it, and the queue would grow by one every tick.
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def tenants_with_sync_in_flight(instance: dg.DagsterInstance, job_name: str, provider: str) -> set[str]:
    """Tenants whose `job_name` run for `provider` is queued, not started, starting or running (one query)."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT, tags={"provider": provider}))
    return {run.tags["tenant"] for run in runs if "tenant" in run.tags}
