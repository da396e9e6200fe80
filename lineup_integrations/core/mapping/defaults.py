"""The default mappings shipped as files: `lineup_integrations/mappings/<provider>/<entity>.yaml`
(package data), each with its own version.

A tenant that never changed its mapping uses the file (its version 0); the file's own `version`
says which edition of the defaults that is. Files are re-read when they change on disk.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

from lineup_integrations.core.mapping.model import Mapping

MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "mappings"  # lineup_integrations/mappings, package data
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class UnknownMappingError(LookupError):
    """No default mapping for (provider, entity): neither can be mapped."""


def default_mapping_path(provider: str, entity: str) -> Path:
    # Names come from API requests: only plain names reach the file system.
    if not (_NAME.match(provider) and _NAME.match(entity)):
        raise UnknownMappingError(f"no default mapping for {provider!r} {entity!r}")
    return MAPPINGS_DIR / provider / f"{entity}.yaml"


def load_default_mapping(provider: str, entity: str) -> Mapping:
    """The shipped default mapping; `UnknownMappingError` when there is none."""
    path = default_mapping_path(provider, entity)
    try:
        modified = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise UnknownMappingError(f"no default mapping for {provider!r} {entity!r} ({path.name})") from None
    return _parse(path, modified)


@functools.lru_cache(maxsize=64)
def _parse(path: Path, _modified: int) -> Mapping:
    mapping = Mapping.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    if (mapping.provider, mapping.entity) != (path.parent.name, path.stem):
        raise ValueError(f"{path} declares {mapping.provider}/{mapping.entity}, not its own location")
    return mapping


def default_entities(provider: str) -> list[str]:
    """The entities a provider ships default mappings for (what a tenant can map)."""
    folder = MAPPINGS_DIR / provider
    return sorted(path.stem for path in folder.glob("*.yaml")) if _NAME.match(provider) else []
