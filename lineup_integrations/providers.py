"""The provider registry: adding a provider is a folder under `lineup_integrations/` and one line here.

Each provider package holds everything about its provider and exposes, by convention:
- `oauth.py`: `oauth_config(settings) -> OAuthProviderConfig`
- `sandbox.py`: `create_sandbox_app(state) -> ASGI app` (the offline twin of the real service)
- `definitions.py`: `defs() -> dagster.Definitions` wiring only its own objects

Modules are imported lazily, so the gateway never pays for Dagster and a provider never imports another.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class ProviderSpec:
    """Where a provider lives, and what a manual sync launches (plain names: no Dagster import needed)."""

    package: str
    sync_job: str | None = None  # the Dagster job `POST /sync` launches for a tenant's partition
    sync_op: str | None = None  # the step whose run config takes `since` / `full_refresh`


PROVIDERS: dict[str, ProviderSpec] = {
    "zoho": ProviderSpec("lineup_integrations.zoho", sync_job="zoho_contacts_sync", sync_op="zoho_contacts"),
    "google_calendar": ProviderSpec("lineup_integrations.google_calendar"),
    "outlook_calendar": ProviderSpec("lineup_integrations.outlook_calendar"),
}


class UnknownProviderError(KeyError):
    """A provider name that is not registered."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown provider {self.name!r}; known: {', '.join(PROVIDERS)}"


def provider_module(name: str, part: str) -> ModuleType:
    """Import `<provider package>.<part>` (e.g. `provider_module("zoho", "oauth")`)."""
    return importlib.import_module(f"{provider_spec(name).package}.{part}")


def provider_spec(name: str) -> ProviderSpec:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise UnknownProviderError(name) from None
