"""Validation of a mapping change against Lineup's schema and the provider's field metadata.

`merge_validated` checks a change, merges it into the current mapping and checks the result;
it either returns the merged mapping or raises `MappingValidationError` with one problem per
fault, each naming the request field at fault (`mappings[1].targetField`). Nothing is saved by
this module, so a refused change cannot leave anything behind.

Checked on each rule of the change:
- the Lineup field exists (`sourceField`);
- the provider field exists (`targetField`; a dotted path only into a lookup's `name`/`id`, or a
  nested field the provider describes by its whole path);
- every transform exists (`transform`);
- the value types fit, per `VALUE_KINDS` below;
- an `outbound` rule does not write a read-only provider field. A `bidirectional` rule on a
  read-only field is narrowed to `inbound` instead of refused: "both ways" means both ways the
  provider allows, and that is what makes the spec's own example (`name` ↔ `Full_Name`, which
  Zoho computes from the first and last name) valid.

Checked on the merged mapping:
- no two rules write the same target in one direction (two rules for one Lineup field and flow
  in one change; two outbound rules for one provider field after the merge);
- when anything flows outbound, every provider field the provider requires on a record
  (`required`, e.g. Zoho Contacts `Last_Name`) has an outbound rule.
Rules kept from the current version were validated when they were saved and are not re-checked
one by one. Messages name known fields, types and transforms but never repeat an unknown value
from the request: the field path says where it is (the gateway never echoes request values).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from pydantic import BaseModel

from lineup_integrations.core.mapping.merge import merge_rules
from lineup_integrations.core.mapping.model import Direction, FieldRule, Mapping, ProviderField
from lineup_integrations.core.mapping.schema import LineupSchema, lineup_schema
from lineup_integrations.core.mapping.transforms import UnknownTransformError, transform, transform_base_name


class ValueKind(enum.Enum):
    TEXT = "text"  # carried as a string both ways
    SCALAR = "scalar"  # a number, date or boolean: readable as text, not writable from free text
    LOOKUP = "lookup"  # an object (`{name, id}`): readable only through a dotted path to a key
    UNSUPPORTED = "unsupported"  # lists, files, subforms…: no rule may touch it


# How a provider data type meets a Lineup string field (Zoho CRM's type names; a provider that
# brings other names adds them here). Types not listed are UNSUPPORTED.
VALUE_KINDS: dict[str, ValueKind] = {
    **dict.fromkeys(("text", "textarea", "email", "phone", "picklist", "website", "autonumber"), ValueKind.TEXT),
    **dict.fromkeys(
        ("integer", "bigint", "double", "currency", "percent", "decimal", "date", "datetime", "boolean"),
        ValueKind.SCALAR,
    ),
    **dict.fromkeys(("lookup", "ownerlookup", "userlookup"), ValueKind.LOOKUP),
}
LOOKUP_KEYS = ("name", "id")
# Inbound, a scalar arrives rendered as text; only transforms that cannot garble it may touch it.
SCALAR_TRANSFORMS = frozenset({"none", "trim", "default"})


class MappingProblem(BaseModel, frozen=True):
    field: str
    message: str


class MappingValidationError(ValueError):
    """A refused mapping change: `problems` lists every fault found, each naming its field."""

    def __init__(self, problems: Sequence[MappingProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


def _lookup_paths(lookup: ProviderField) -> str:
    return " or ".join(f"{lookup.api_name}.{key}" for key in LOOKUP_KEYS)


class _Checker:
    """Collects the problems of one change; `collection` is the request's name for the rule list."""

    def __init__(
        self, schema: LineupSchema, provider: str, provider_fields: Sequence[ProviderField], collection: str
    ) -> None:
        self.schema = schema
        self.provider = provider
        self.fields = {field.api_name: field for field in provider_fields}
        self.collection = collection
        self.problems: list[MappingProblem] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append(MappingProblem(field=field, message=message))

    def rule(self, index: int, rule: FieldRule) -> FieldRule | None:
        """Check one rule of the change; returns it (narrowed to inbound if it is bidirectional onto
        a read-only provider field), or None when it has a problem."""
        found = len(self.problems)
        checked = self._rule(f"{self.collection}[{index}]", rule)
        return checked if len(self.problems) == found else None

    def _rule(self, at: str, rule: FieldRule) -> FieldRule:
        if self.schema.get(rule.source_field) is None:
            self.add(
                f"{at}.sourceField",
                f"not a Lineup {self.schema.entity} field; known: {', '.join(self.schema.field_names)}",
            )
        known_transforms = []
        for position, spec in enumerate(rule.transform):
            try:
                transform(spec)
                known_transforms.append(spec)
            except UnknownTransformError as error:
                self.add(f"{at}.transform" + (f"[{position}]" if len(rule.transform) > 1 else ""), str(error))
        # A provider may describe a nested text field by its whole path (Google's `organizer.email`).
        target = self.fields.get(rule.target_field) or self.fields.get(rule.target_path[0])
        if target is None:
            self.add(f"{at}.targetField", f"not a {self.provider} {self.schema.entity} field")
            return rule
        kind = self._kind(at, rule, target)
        if kind is None:
            return rule
        if target.read_only and Direction.OUTBOUND in rule.flows:
            if rule.direction is Direction.BIDIRECTIONAL:
                rule = rule.model_copy(update={"direction": Direction.INBOUND})
            else:
                self.add(
                    f"{at}.targetField",
                    f"{self.provider} field {target.api_name!r} is read-only: it cannot be written outbound",
                )
                return rule
        self._types(at, rule, target, kind, known_transforms)
        return rule

    def _kind(self, at: str, rule: FieldRule, target: ProviderField) -> ValueKind | None:
        """The kind of value the target path reaches, or None (with a problem) if the path is invalid."""
        kind = VALUE_KINDS.get(target.data_type, ValueKind.UNSUPPORTED)
        keys = rule.target_path[1:] if target.api_name != rule.target_field else ()
        if not keys:
            return kind
        if kind is not ValueKind.LOOKUP or len(keys) > 1 or keys[0] not in LOOKUP_KEYS:
            reach = f"only {_lookup_paths(target)}" if kind is ValueKind.LOOKUP else "no nested values"
            self.add(f"{at}.targetField", f"{self.provider} field {target.api_name!r} ({target.data_type}) has {reach}")
            return None
        return ValueKind.TEXT

    def _types(
        self, at: str, rule: FieldRule, target: ProviderField, kind: ValueKind, transforms: Sequence[str]
    ) -> None:
        described = f"{self.provider} field {rule.target_field!r} ({target.data_type})"
        if Direction.INBOUND in rule.flows:
            if kind is ValueKind.LOOKUP:
                self.add(f"{at}.targetField", f"{described} is an object, not text: map {_lookup_paths(target)}")
            elif kind is ValueKind.UNSUPPORTED:
                self.add(f"{at}.targetField", f"{described} cannot be read into a Lineup text field")
            elif kind is ValueKind.SCALAR:
                for spec in transforms:
                    if transform_base_name(spec) not in SCALAR_TRANSFORMS:
                        self.add(
                            f"{at}.transform",
                            f"{spec!r} cannot apply to {described}; allowed: {', '.join(sorted(SCALAR_TRANSFORMS))}",
                        )
        if Direction.OUTBOUND in rule.flows and (kind is not ValueKind.TEXT or len(rule.target_path) > 1):
            self.add(
                f"{at}.targetField",
                f"{described} cannot be written from Lineup text (no transform converts it); make the rule inbound",
            )

    def duplicates_in_change(self, changes: Sequence[tuple[int, FieldRule]]) -> None:
        claimed: dict[tuple[str, Direction], int] = {}
        for index, rule in changes:
            clashes = {claimed[key] for key in ((rule.source_field, flow) for flow in rule.flows) if key in claimed}
            if clashes:
                self.add(
                    f"{self.collection}[{index}].sourceField",
                    f"{self.collection}[{min(clashes)}] already maps Lineup field {rule.source_field!r} "
                    "in the same direction",
                )
            claimed.update({(rule.source_field, flow): index for flow in rule.flows})

    def merged(self, merged: Sequence[FieldRule], change_indexes: Sequence[int]) -> None:
        """`merged` ends with the change's rules, which came from `change_indexes` of the request."""
        first_change = len(merged) - len(change_indexes)
        outbound = [(position, rule) for position, rule in enumerate(merged) if Direction.OUTBOUND in rule.flows]
        writers: dict[str, int] = {}
        for position, rule in outbound:
            earlier = writers.setdefault(rule.target_field, position)
            if earlier != position:
                at = (
                    f"{self.collection}[{change_indexes[position - first_change]}].targetField"
                    if position >= first_change
                    else self.collection
                )
                self.add(
                    at,
                    f"{self.provider} field {rule.target_field!r} is already written outbound from "
                    f"Lineup field {merged[earlier].source_field!r}",
                )
        if not outbound:
            return
        written = set(writers)
        for field in self.fields.values():
            if field.required and not field.read_only and field.api_name not in written:
                self.add(
                    self.collection,
                    f"{self.provider} requires field {field.api_name!r} on every record "
                    "written to it: add an outbound rule for it",
                )


def merge_validated(
    current: Mapping,
    changes: Sequence[FieldRule],
    *,
    direction: Direction,
    provider_fields: Sequence[ProviderField],
    collection: str = "mappings",
) -> Mapping:
    """`current` with `changes` merged in (rules without a direction take `direction`), or
    `MappingValidationError` listing every problem. The result keeps `current`'s version."""
    checker = _Checker(lineup_schema(current.entity), current.provider, provider_fields, collection)
    if not changes:
        checker.add(collection, "at least one rule is required")
        raise MappingValidationError(checker.problems)
    directed = [rule if rule.direction else rule.model_copy(update={"direction": direction}) for rule in changes]
    # A rule with a problem stays out of the merge, so that it does not cause knock-on problems.
    checked: list[tuple[int, FieldRule]] = []
    for index, rule in enumerate(directed):
        valid = checker.rule(index, rule)
        if valid is not None:
            checked.append((index, valid))
    checker.duplicates_in_change(checked)
    merged = merge_rules(current.rules, [rule for _, rule in checked])
    checker.merged(merged, [index for index, _ in checked])
    if checker.problems:
        raise MappingValidationError(checker.problems)
    return current.model_copy(update={"rules": merged})


def validate_mapping(mapping: Mapping, provider_fields: Sequence[ProviderField]) -> None:
    """Check a whole mapping (e.g. a defaults file) as if all its rules were one change; problems
    are named `rules[i]...`."""
    empty = mapping.model_copy(update={"rules": ()})
    merge_validated(
        empty, mapping.rules, direction=mapping.direction, provider_fields=provider_fields, collection="rules"
    )
