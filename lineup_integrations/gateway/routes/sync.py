"""`POST /api/v1/integrations/sync`: launch the tenant's partition run through Dagster's GraphQL API.

The gateway does what the Lineup backend may do itself (README: "Triggering a sync"): add the
tenant's partition, then launch the provider's sync job for it. A tenant whose integration is
not connected is refused here, before Dagster or the provider is called. For a calendar (a
per-user provider) the run syncs every connected account of the tenant, or only `userId`'s.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ConfigDict, Field
from sqlalchemy import select

from lineup_integrations.core.provider import Provider, run_tags
from lineup_integrations.core.store import TENANT_WIDE, Integration, IntegrationStatus, Store, audit
from lineup_integrations.gateway.auth import CurrentPrincipal
from lineup_integrations.gateway.dagster_runs import DagsterLaunchError, DagsterRunLauncher
from lineup_integrations.gateway.dependencies import ProvidersDep, StoreDep
from lineup_integrations.gateway.errors import ApiError, ErrorResponse
from lineup_integrations.gateway.schemas import USER_ID_PATTERN, CamelModel

router = APIRouter(
    prefix="/api/v1/integrations",
    tags=["sync"],
    responses={status: {"model": ErrorResponse} for status in (400, 401, 409, 422, 502)},
)


class SyncRequest(CamelModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=40, examples=["zoho"])
    since: dt.datetime | None = Field(default=None, description="fetch changes since this time instead of the cursor")
    full_refresh: bool = False
    user_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=USER_ID_PATTERN,
        description="a per-user provider (a calendar): sync only this Lineup user's account",
    )  # fmt: skip


class SyncResponse(CamelModel):
    success: bool = True
    message: str = "Sync job enqueued"
    run_id: str


def get_launcher(request: Request) -> DagsterRunLauncher:
    launcher = getattr(request.app.state, "launcher", None)
    if launcher is None:
        launcher = request.app.state.launcher = DagsterRunLauncher(request.app.state.settings.dagster_graphql_url)
    return launcher


@router.post("/sync", response_model=SyncResponse)
def trigger_sync(
    body: SyncRequest,
    principal: CurrentPrincipal,
    store: StoreDep,
    providers: ProvidersDep,
    launcher: Annotated[DagsterRunLauncher, Depends(get_launcher)],
) -> SyncResponse:
    provider = providers[body.provider]
    sync = provider.sync
    if sync is None:
        raise ApiError(400, "sync_unavailable", f"provider {body.provider!r} has no sync job yet", field="provider")
    if not provider.per_user and body.user_id is not None:
        raise ApiError(422, "validation_error", f"userId: not accepted, {body.provider} is synced for the whole tenant",
                       field="userId")  # fmt: skip
    if provider.per_user and body.since is not None:
        raise ApiError(422, "validation_error", f"since: not accepted, {body.provider} syncs by its sync token",
                       field="since")  # fmt: skip
    _require_connected(store, principal.tenant_id, provider, body.user_id)
    config: dict[str, Any] = {"full_refresh": body.full_refresh}
    if body.since is not None:
        since = body.since if body.since.tzinfo else body.since.replace(tzinfo=dt.UTC)
        config["since"] = since.isoformat()
    if body.user_id is not None:
        config["user_ids"] = [body.user_id]
    try:
        run_id = launcher.launch_partition_run(
            sync.job, principal.tenant_id,
            tags={**run_tags(principal.tenant_id, body.provider), "lineup/trigger": "api"},
            run_config={"ops": {sync.op: {"config": config}}},
        )  # fmt: skip
    except DagsterLaunchError as error:
        raise ApiError(502, "dagster_unavailable", str(error)) from None
    with store.session() as session:
        audit(
            session,
            tenant_id=principal.tenant_id,
            provider=body.provider,
            action="sync",
            actor=principal.subject,
            detail={"run_id": run_id, "since": config.get("since"), "full_refresh": body.full_refresh,
                    **({"user_id": body.user_id} if body.user_id is not None else {})},
        )  # fmt: skip
    return SyncResponse(run_id=run_id)


def _require_connected(store: Store, tenant_id: str, provider: Provider, user_id: str | None) -> None:
    """409 unless the integration the sync would use is connected: the tenant's, `user_id`'s, or
    (a per-user provider without `user_id`) at least one of the tenant's users'."""
    query = select(Integration.status).where(Integration.tenant_id == tenant_id, Integration.provider == provider.name)
    if not provider.per_user:
        query = query.where(Integration.user_id == TENANT_WIDE)
    elif user_id is not None:
        query = query.where(Integration.user_id == user_id)
    with store.session() as session:
        statuses = set(session.scalars(query))
    if IntegrationStatus.CONNECTED.value in statuses:
        return
    status = ", ".join(sorted(statuses)) or "not connected"
    whose = f" of user {user_id!r}" if user_id is not None else ""
    raise ApiError(409, "integration_not_connected",
                   f"the {provider.name} integration{whose} is {status}: connect it before syncing", field="provider")  # fmt: skip
