"""One dynamic partition per tenant, shared by every provider's assets.

A tenant's key is added when it connects, before any run is launched for it: Dagster runs the
body of a run launched for an unknown key before failing (see shared/facts/dagster.md §0.4).
Keys are never deleted on disconnect (deleting dynamic partitions has open Dagster bugs); the
assets refuse disconnected tenants instead.
"""

from __future__ import annotations

import re

import dagster as dg

from lineup_integrations.core.provider import TENANTS_PARTITION_SET

tenant_partitions = dg.DynamicPartitionsDefinition(name=TENANTS_PARTITION_SET)

# Letters, digits and a few separators; no "..." and no control characters (Dagster's rule), 128 max.
TENANT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


def is_valid_tenant_id(tenant_id: str) -> bool:
    return bool(TENANT_ID_PATTERN.match(tenant_id)) and "..." not in tenant_id
