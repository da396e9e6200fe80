"""The HTTP gateway: the spec's REST API under `/api/v1/integrations`, built by `create_app`.

Routers are listed in `ROUTERS`; the mapping, sync and webhook issues add theirs there (or call
`app.include_router` on the result), and find the store, OAuth engine and settings on
`app.state` through `lineup_integrations.gateway.dependencies`.
"""

from __future__ import annotations

import uvicorn
from fastapi import APIRouter, FastAPI

from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.provider import Providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Store
from lineup_integrations.gateway.auth import signing_key
from lineup_integrations.gateway.errors import install_error_handlers
from lineup_integrations.gateway.logs import install_log_redaction, log_requests
from lineup_integrations.gateway.provider_fields import registry_field_source
from lineup_integrations.gateway.routes import availability, health, integrations, mapping, sync
from lineup_integrations.gateway.routes.mapping import use_provider_fields
from lineup_integrations.registry import PROVIDERS

ROUTERS: list[APIRouter] = [health.router, integrations.router, mapping.router, sync.router, availability.router]


def create_app(store: Store, oauth: OAuthEngine, settings: Settings, providers: Providers = PROVIDERS) -> FastAPI:
    """The gateway application. Raises `AuthConfigError` when `LINEUP_API_JWT_SECRET` is unusable:
    a gateway that cannot verify tokens must not start. Migrations are the caller's job (the CLI
    runs them before serving)."""
    jwt_key = signing_key(settings.api_jwt_secret)
    app = FastAPI(title="Lineup integrations gateway", version="1")
    app.state.store = store
    app.state.oauth = oauth
    app.state.settings = settings
    app.state.providers = providers
    app.state.jwt_key = jwt_key
    install_error_handlers(app)
    install_log_redaction()
    app.middleware("http")(log_requests)
    for router in ROUTERS:
        app.include_router(router)
    use_provider_fields(app, registry_field_source(store, oauth, providers))
    return app


def server_config(app: FastAPI, *, host: str, port: int) -> uvicorn.Config:
    """How the gateway is served: uvicorn without its access log, whose lines carry query strings
    (the callback's `code` and `state`); `log_requests` writes the access log instead. Logging
    is left to the process (`log_config=None`)."""
    return uvicorn.Config(app, host=host, port=port, access_log=False, log_config=None)
