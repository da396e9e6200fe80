"""The provider registry: adding a provider is a folder under `lineup_integrations/` and one line here.

Each provider package holds everything about its provider and exposes, by convention:
- `oauth.py`: `oauth_config(settings) -> OAuthProviderConfig`
- `sandbox.py`: `create_sandbox_app(state) -> ASGI app` (the offline twin of the real service)
- `definitions.py`: `defs() -> dagster.Definitions` wiring only its own objects

Modules are imported lazily, so the gateway never pays for Dagster and a provider never imports another.
"""

from __future__ import annotations

import importlib
from types import ModuleType

PROVIDERS: dict[str, str] = {
    "zoho": "lineup_integrations.zoho",
    "google_calendar": "lineup_integrations.google_calendar",
    "outlook_calendar": "lineup_integrations.outlook_calendar",
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
    try:
        package = PROVIDERS[name]
    except KeyError:
        raise UnknownProviderError(name) from None
    return importlib.import_module(f"{package}.{part}")
