"""The Dagster code location: every registered provider's own definitions, merged."""

from __future__ import annotations

import importlib.util

import dagster as dg

from lineup_integrations.providers import PROVIDERS, provider_module


def build_definitions() -> dg.Definitions:
    """Merge `<provider>.definitions.defs()` of each provider that has Dagster definitions."""
    parts = [
        provider_module(name, "definitions").defs()
        for name, spec in PROVIDERS.items()
        if importlib.util.find_spec(f"{spec.package}.definitions") is not None
    ]
    return dg.Definitions.merge(*parts) if parts else dg.Definitions()


defs = build_definitions()
