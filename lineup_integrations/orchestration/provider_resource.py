"""The Dagster resource every provider's own resource builds on: its OAuth client and token handling.

A subclass names its provider contract (`provider`) and adds its API client; this base holds the
client registration (id and secret through `dg.EnvVar` when they come from the environment, so the
Dagster UI never shows them), the hosts (`base_url` None: the real ones), and the OAuth engine that
refreshes each integration's token ahead of expiry. Token state lives in the store, never here.
"""

from __future__ import annotations

import os
from typing import ClassVar, Self

import dagster as dg
from pydantic import PrivateAttr, SecretStr

from lineup_integrations.core.oauth import OAuthEngine, OAuthProviderConfig
from lineup_integrations.core.provider import Provider
from lineup_integrations.core.settings import DEFAULT_REDIRECT_URI, ProviderSettings
from lineup_integrations.core.store import Store
from lineup_integrations.orchestration.resources import SharedResources, StoreResource, VaultResource


class ProviderResource(dg.ConfigurableResource):
    """One provider's OAuth client for runs (see the module docstring)."""

    provider: ClassVar[Provider]

    client_id: str
    client_secret: str
    redirect_uri: str = DEFAULT_REDIRECT_URI
    base_url: str | None = None  # None: the provider's real hosts; the sandbox's URL offline
    store: StoreResource
    vault: VaultResource

    _oauth: OAuthEngine | None = PrivateAttr(default=None)

    @classmethod
    def for_settings(cls, settings: ProviderSettings, shared: SharedResources) -> Self:
        """The resource for `settings` (the environment `LINEUP_ENVIRONMENT` chose), on the shared store and vault."""
        prefix = cls.provider.env_prefix
        return cls(
            client_id=_from_env(f"{prefix}_CLIENT_ID", settings.client_id),
            client_secret=_from_env(f"{prefix}_CLIENT_SECRET", settings.client_secret.get_secret_value()),
            redirect_uri=settings.redirect_uri,
            base_url=settings.base_url,
            store=shared.store,
            vault=shared.vault,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._oauth = OAuthEngine(self.integration_store(), self.vault.get(), {self.provider.name: self.oauth_config()})

    def oauth_config(self) -> OAuthProviderConfig:
        return self.provider.oauth_config(ProviderSettings(
            name=self.provider.name, client_id=self.client_id, client_secret=SecretStr(self.client_secret),
            redirect_uri=self.redirect_uri, base_url=self.base_url,
        ))  # fmt: skip

    def integration_store(self) -> Store:
        """The shared store (typed: Dagster's resource metaclass widens a nested resource's type in subclasses)."""
        return self.store.get()

    @property
    def oauth(self) -> OAuthEngine:
        if self._oauth is None:
            raise RuntimeError(f"{type(self).__name__} used outside a run (setup_for_execution not called)")
        return self._oauth


def _from_env(variable: str, value: str) -> str:
    """`dg.EnvVar(variable)` when the value comes from the environment, else the value (the sandbox's
    built-in registration, which is no secret). Typed as str: Dagster resolves an EnvVar field to one."""
    return dg.EnvVar(variable) if os.environ.get(variable) else value
