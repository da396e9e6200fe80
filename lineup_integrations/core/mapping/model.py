"""The mapping config, validated by pydantic: field rules, mappings, and provider field metadata.

Vocabulary (the spec's): a rule's `sourceField` is always **Lineup's** field and `targetField`
always the **provider's** (an API name, or a dotted path into a nested value such as
`Account_Name.name` of a Zoho lookup). `direction` says which way values flow:

- `inbound`: provider → Lineup: the provider record's `targetField`, transformed, lands in `sourceField`;
- `outbound`: Lineup → provider: Lineup's `sourceField`, transformed, is written to `targetField`;
- `bidirectional`: both.

A rule may carry its own direction; one that does not takes its mapping's. Once a `Mapping` is
built, every rule has a concrete direction, so rules of different directions can live in one
mapping (a merge of an inbound-only change into a bidirectional mapping produces exactly that).
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

PATH_SEPARATOR = "."


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    BIDIRECTIONAL = "bidirectional"

    @property
    def flows(self) -> frozenset[Direction]:
        """The one-way directions this covers: `bidirectional` is inbound and outbound."""
        if self is Direction.BIDIRECTIONAL:
            return frozenset({Direction.INBOUND, Direction.OUTBOUND})
        return frozenset({self})

    @classmethod
    def of(cls, flows: frozenset[Direction]) -> Direction:
        """The direction that covers exactly `flows` (a non-empty set of one-way directions)."""
        return cls.BIDIRECTIONAL if len(flows) == 2 else next(iter(flows))


ONE_WAY = (Direction.INBOUND, Direction.OUTBOUND)


class FieldRule(BaseModel):
    """`{sourceField, targetField, transform, direction?}`; `transform` is a name or an ordered list."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")

    source_field: str = Field(min_length=1, max_length=64, examples=["email"])
    target_field: str = Field(min_length=1, max_length=255, examples=["Email"])
    transform: tuple[str, ...] = Field(default=("none",), examples=["lowercase", ["trim", "title_case"]])
    direction: Direction | None = None

    @field_validator("transform", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("transform")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('name at least one transform ("none" keeps the value as it is)')
        return value

    @field_serializer("transform")
    def _as_written(self, value: tuple[str, ...]) -> str | list[str]:
        return value[0] if len(value) == 1 else list(value)

    @property
    def target_path(self) -> tuple[str, ...]:
        """`"Account_Name.name"` → `("Account_Name", "name")`."""
        return tuple(self.target_field.split(PATH_SEPARATOR))

    @property
    def flows(self) -> frozenset[Direction]:
        if self.direction is None:
            raise ValueError("a rule outside a mapping has no direction yet")
        return self.direction.flows


class Mapping(BaseModel):
    """One provider entity's mapping: `direction` is the default for rules that do not name theirs.
    `version` is the version of the file (defaults) or of the tenant's chain (stored versions)."""

    model_config = ConfigDict(frozen=True)

    provider: str = Field(min_length=1, max_length=40)
    entity: str = Field(min_length=1, max_length=40)
    direction: Direction = Direction.BIDIRECTIONAL
    rules: tuple[FieldRule, ...]
    version: int = Field(default=0, ge=0)

    @field_validator("rules")
    @classmethod
    def _rules_take_mapping_direction(cls, rules: tuple[FieldRule, ...], info: ValidationInfo) -> tuple[FieldRule, ...]:
        direction = info.data.get("direction", Direction.BIDIRECTIONAL)
        return tuple(rule if rule.direction else rule.model_copy(update={"direction": direction}) for rule in rules)

    def rules_for(self, direction: Direction) -> tuple[FieldRule, ...]:
        """The rules that apply when values flow one way (`inbound` or `outbound`)."""
        if direction not in ONE_WAY:
            raise ValueError("rules_for takes a one-way direction: inbound or outbound")
        return tuple(rule for rule in self.rules if direction in rule.flows)


class ProviderField(BaseModel):
    """A provider's field, as its metadata API describes it (Zoho `GET /settings/fields?module=…`).

    Built straight from Zoho's JSON: `system_mandatory` is read as `required`, and a field is
    read-only when either `read_only` or `field_read_only` (read-only by profile) says so."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    api_name: str
    data_type: str
    required: bool = Field(default=False, validation_alias=AliasChoices("required", "system_mandatory"))
    read_only: bool = False

    @model_validator(mode="before")
    @classmethod
    def _read_only_either_way(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("field_read_only"):
            return {**data, "read_only": True}
        return data
