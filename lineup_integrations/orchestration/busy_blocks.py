"""`interviewer_busy_blocks`: each interviewer's busy time, merged across every calendar they connected.

Derived from `calendar_events` alone (no provider call), per tenant partition, after each
calendar sync of the tenant (both calendar jobs end with it). Its check fails when a user's
blocks overlap or touch: the merge makes them disjoint, so anything else is a defect.
"""

import dagster as dg

from lineup_integrations.calendar import checks
from lineup_integrations.calendar.busy import refresh_busy_blocks
from lineup_integrations.orchestration.partitions import tenant_partitions
from lineup_integrations.orchestration.resources import StoreResource

BUSY_BLOCKS = dg.AssetKey("interviewer_busy_blocks")


@dg.asset(
    key=BUSY_BLOCKS,
    deps=[dg.AssetKey(["calendar_events", "google_calendar"]), dg.AssetKey(["calendar_events", "outlook_calendar"])],
    group_name="calendars",
    kinds={"pandas", "sql"},
    partitions_def=tenant_partitions,
    check_specs=[
        dg.AssetCheckSpec(
            "busy_blocks_disjoint", asset=BUSY_BLOCKS, description="No two blocks of one user overlap or touch."
        )
    ],
    description="Merged busy intervals per interviewer over the window, from calendar_events; what scheduling reads.",
)
def interviewer_busy_blocks(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    tenant_id = context.partition_key
    result = refresh_busy_blocks(store.get(), tenant_id)
    overlapping = checks.overlapping_busy_blocks(store.get(), tenant_id)
    return dg.MaterializeResult(
        metadata={
            "users": dg.MetadataValue.int(result.users),
            "busy_events": dg.MetadataValue.int(result.events),
            "busy_blocks": dg.MetadataValue.int(result.blocks),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="busy_blocks_disjoint", passed=overlapping == 0, metadata={"overlapping_blocks": overlapping}
            )
        ],
    )
