"""A gateway wired to a real store (SQLite and PostgreSQL), a real vault and the real provider sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lineup_integrations.core.oauth import OAuthEngine, configured_providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.gateway.app import create_app
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox import SandboxHandle
from tests.gateway.flows import CALLBACK_URL, point_env_at_sandbox


@pytest.fixture
def gateway_env(sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    """The process environment a deployed gateway would have, pointed at the (fresh) sandbox."""
    point_env_at_sandbox(monkeypatch, sandbox_reset, CALLBACK_URL)
    return sandbox_reset


@pytest.fixture
def settings(gateway_env: SandboxHandle, store: Store) -> Settings:
    return Settings.from_env(PROVIDERS).model_copy(update={"database_url": store.url})


@pytest.fixture
def oauth(store: Store, vault: Vault, settings: Settings) -> OAuthEngine:
    return OAuthEngine(store, vault, configured_providers(PROVIDERS, settings), state_ttl=settings.oauth_state_ttl)


@pytest.fixture
def client(store: Store, oauth: OAuthEngine, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(store, oauth, settings)) as test_client:
        yield test_client
