"""`/api/v1/integrations`: connect, the OAuth callback, list and disconnect (the spec's endpoints).

Every route but the callback acts for the bearer token's tenant and only ever reads or changes
that tenant's rows. A per-user provider (`Provider.per_user`: a calendar) has one integration per
Lineup user, named by `userId` on connect and disconnect; a tenant-wide one (Zoho) has one per
tenant and refuses `userId`, so no request is ambiguous about which integration it means. The
callback is reached by the user's browser without a token: the OAuth `state` alone names the
tenant, provider and user, and the engine checks it before anything is written.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select

from lineup_integrations.core.oauth import InvalidStateError
from lineup_integrations.core.oauth.state import hash_state
from lineup_integrations.core.provider import Provider
from lineup_integrations.core.store import TENANT_WIDE, Integration, OAuthState, Store
from lineup_integrations.gateway.auth import CurrentPrincipal
from lineup_integrations.gateway.dependencies import OAuthDep, ProvidersDep, StoreDep
from lineup_integrations.gateway.errors import ApiError, ErrorResponse
from lineup_integrations.gateway.schemas import (
    USER_ID_PATTERN,
    CallbackResponse,
    ConnectRequest,
    ConnectResponse,
    DisconnectResponse,
    IntegrationSummary,
)

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/v1/integrations",
    tags=["integrations"],
    responses={status: {"model": ErrorResponse} for status in (400, 401, 404, 422, 502)},
)


def _provider_of_state(store: Store, state: str) -> str:
    """The provider a pending state was issued for, so a callback without `provider` (a redirect URI
    that does not carry it) still finds its way; the engine then validates and spends the state."""
    with store.session() as session:
        provider = session.scalar(select(OAuthState.provider).where(OAuthState.state_hash == hash_state(state)))
    if provider is None:
        logger.warning("OAuth callback refused, invalid state (unknown)")  # never the state itself
        raise InvalidStateError("unknown", provider="unknown")
    return provider


def _integration_user(provider: Provider, user_id: str | None) -> str:
    """The integration's `user_id` for a request naming `user_id` (or not): a per-user provider needs
    one, a tenant-wide provider takes none (TENANT_WIDE); otherwise a 422 naming `userId`."""
    if provider.per_user and user_id is None:
        raise ApiError(
            422,
            "validation_error",
            f"userId: required, {provider.name} connects one account per Lineup user",
            field="userId",
        )
    if not provider.per_user and user_id is not None:
        raise ApiError(
            422,
            "validation_error",
            f"userId: not accepted, {provider.name} is connected once for the whole tenant",
            field="userId",
        )
    return user_id if user_id is not None else TENANT_WIDE


@router.post("/connect", response_model=ConnectResponse)
def connect(
    body: ConnectRequest, principal: CurrentPrincipal, oauth: OAuthDep, providers: ProvidersDep
) -> ConnectResponse:
    """Start the authorization-code flow; the client sends the user's browser to `authUrl`. The
    callback connects the tenant's integration, or `userId`'s for a per-user provider."""
    user_id = _integration_user(providers[body.provider], body.user_id)
    auth_url = oauth.begin(
        principal.tenant_id, body.provider, actor=principal.subject, login_hint=body.login_hint, user_id=user_id
    )
    return ConnectResponse(auth_url=auth_url, provider=body.provider)


@router.get("/callback", response_model=CallbackResponse)
def callback(
    request: Request,
    oauth: OAuthDep,
    store: StoreDep,
    state: Annotated[str, Query(min_length=1, max_length=512)],
    provider: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
) -> CallbackResponse:
    """Finish the flow. All query parameters go to the engine: besides `code`/`state`/`error`,
    Zoho adds `location` and `accounts-server`, which pick the data centre that takes the code.
    `provider` is optional: the state names it (a state presented for another provider is refused)."""
    provider = provider or _provider_of_state(store, state)
    oauth.complete(provider, dict(request.query_params))
    return CallbackResponse(provider=provider)


@router.get("", response_model=list[IntegrationSummary])
def list_integrations(principal: CurrentPrincipal, store: StoreDep) -> list[IntegrationSummary]:
    """The caller's tenant's integrations, every user's, in every status (a disconnected one stays listed)."""
    with store.session() as session:
        rows = session.scalars(
            select(Integration)
            .where(Integration.tenant_id == principal.tenant_id)
            .order_by(Integration.created_at, Integration.provider, Integration.user_id)
        ).all()
    return [
        IntegrationSummary(
            id=row.id,
            provider=row.provider,
            user_id=row.user_id if row.user_id != TENANT_WIDE else None,
            status=row.status,
            last_synced_at=row.last_synced_at,
            created_at=row.created_at,
        )
        for row in rows
    ]


@router.delete("/{provider}", response_model=DisconnectResponse)
def disconnect(
    provider: Annotated[str, Path(min_length=1, max_length=40)],
    principal: CurrentPrincipal,
    oauth: OAuthDep,
    providers: ProvidersDep,
    user_id: Annotated[str | None, Query(alias="userId", min_length=1, max_length=128, pattern=USER_ID_PATTERN)] = None,
) -> DisconnectResponse:
    """Revoke the grant at the provider (where it can be revoked), drop the credentials, mark `disconnected`.
    Only the caller's tenant's integration is looked up (`userId`'s for a per-user provider; the
    other users' stay connected), so another tenant's is a 404."""
    integration_user = _integration_user(providers[provider], user_id)
    oauth.disconnect(principal.tenant_id, provider, actor=principal.subject, user_id=integration_user)
    return DisconnectResponse(provider=provider)
