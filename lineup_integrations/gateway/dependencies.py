"""Accessors for what `create_app` put on the app state, as FastAPI dependencies every router shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.provider import Providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_oauth(request: Request) -> OAuthEngine:
    return request.app.state.oauth


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_providers(request: Request) -> Providers:
    return request.app.state.providers


StoreDep = Annotated[Store, Depends(get_store)]
OAuthDep = Annotated[OAuthEngine, Depends(get_oauth)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ProvidersDep = Annotated[Providers, Depends(get_providers)]
