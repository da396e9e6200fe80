"""Versioned field mappings: the framework-free part (model, transforms, validation, store, apply).

- `model`: `FieldRule`, `Mapping`, `Direction`, `ProviderField` (pydantic, the spec's camelCase);
- `schema`: Lineup's side of a mapping (`CONTACT_SCHEMA`), declared once;
- `transforms`: the named, vectorised value transforms;
- `defaults`: the shipped defaults, `mappings/<provider>/<entity>.yaml`;
- `merge` / `validation`: how a change merges into a mapping, and what makes it invalid;
- `versions`: each tenant's chain of versions in the store (propose, activate, history);
- `field_cache`: provider field metadata cached per tenant;
- `apply`: `apply_inbound`, a chunk of provider records → Lineup's schema, with pandas.
"""

from lineup_integrations.core.mapping.apply import EXTERNAL_ID, MappedBatch, RejectedRecord, apply_inbound
from lineup_integrations.core.mapping.defaults import UnknownMappingError, default_entities, load_default_mapping
from lineup_integrations.core.mapping.field_cache import DEFAULT_MAX_AGE, ProviderFieldsSource, cached_provider_fields
from lineup_integrations.core.mapping.merge import merge_rules
from lineup_integrations.core.mapping.model import Direction, FieldRule, Mapping, ProviderField
from lineup_integrations.core.mapping.schema import (
    CALENDAR_EVENT_SCHEMA,
    CONTACT_SCHEMA,
    LineupField,
    LineupSchema,
    lineup_schema,
)
from lineup_integrations.core.mapping.transforms import Transform, UnknownTransformError, chain, transform
from lineup_integrations.core.mapping.validation import (
    MappingProblem,
    MappingValidationError,
    merge_validated,
    validate_mapping,
)
from lineup_integrations.core.mapping.versions import (
    DEFAULT_VERSION,
    UnknownMappingVersionError,
    VersionedMapping,
    activate_mapping,
    active_mapping,
    mapping_history,
    propose_mapping,
)

__all__ = [
    "CALENDAR_EVENT_SCHEMA",
    "CONTACT_SCHEMA",
    "DEFAULT_MAX_AGE",
    "DEFAULT_VERSION",
    "EXTERNAL_ID",
    "Direction",
    "FieldRule",
    "LineupField",
    "LineupSchema",
    "MappedBatch",
    "Mapping",
    "MappingProblem",
    "MappingValidationError",
    "ProviderField",
    "ProviderFieldsSource",
    "RejectedRecord",
    "Transform",
    "UnknownMappingError",
    "UnknownMappingVersionError",
    "UnknownTransformError",
    "VersionedMapping",
    "activate_mapping",
    "active_mapping",
    "apply_inbound",
    "cached_provider_fields",
    "chain",
    "default_entities",
    "lineup_schema",
    "load_default_mapping",
    "mapping_history",
    "merge_rules",
    "merge_validated",
    "propose_mapping",
    "transform",
    "validate_mapping",
]
