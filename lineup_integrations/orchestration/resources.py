"""Dagster resources over the framework-free core: the integration store and the token vault.

Secrets reach these only through `dg.EnvVar`, so they never show in the Dagster UI's config.
The engine and connection pool are built once per process and shared by every asset of a run.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import dagster as dg
from pydantic import PrivateAttr

from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Store
from lineup_integrations.core.vault import KeyRing, Vault


@functools.lru_cache(maxsize=8)
def _store_for(url: str) -> Store:
    # One engine (and connection pool) per database per process, like any SQLAlchemy app.
    return Store(url)


class StoreResource(dg.ConfigurableResource):
    """The integration store (SQLite by default, PostgreSQL in production)."""

    database_url: str = ""

    def get(self) -> Store:
        return _store_for(self.database_url or Settings.from_env().database_url)


class VaultResource(dg.ConfigurableResource):
    """The token vault. `encryption_keys` is `id:key,…` (first active); `encryption_key` the spec's single key."""

    encryption_keys: str | None = None
    encryption_key: str | None = None
    _vault: Vault | None = PrivateAttr(default=None)

    def get(self) -> Vault:
        if self._vault is None:
            environ = {
                k: v
                for k, v in (("ENCRYPTION_KEYS", self.encryption_keys), ("ENCRYPTION_KEY", self.encryption_key))
                if v
            }
            self._vault = Vault(KeyRing.from_env(environ or os.environ))
        return self._vault


@dataclass(frozen=True)
class SharedResources:
    """The resources every provider uses, built once and bound once by the code location
    (`Definitions.merge` refuses two different objects under one key)."""

    store: StoreResource
    vault: VaultResource

    @classmethod
    def from_env(cls) -> SharedResources:
        return cls(store=default_store_resource(), vault=default_vault_resource())

    def as_dict(self) -> dict[str, dg.ConfigurableResource]:
        return {"store": self.store, "vault": self.vault}


def default_store_resource() -> StoreResource:
    return StoreResource(database_url=dg.EnvVar("LINEUP_DATABASE_URL") if os.environ.get("LINEUP_DATABASE_URL") else "")


def default_vault_resource() -> VaultResource:
    if os.environ.get("ENCRYPTION_KEYS"):
        return VaultResource(encryption_keys=dg.EnvVar("ENCRYPTION_KEYS"))
    return VaultResource(encryption_key=dg.EnvVar("ENCRYPTION_KEY"))
