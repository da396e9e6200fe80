"""The mapping model, Lineup's schema and the shipped defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import String

from lineup_integrations.core.mapping import (
    CALENDAR_EVENT_SCHEMA,
    CONTACT_SCHEMA,
    Direction,
    FieldRule,
    Mapping,
    MappingValidationError,
    ProviderField,
    UnknownMappingError,
    default_entities,
    lineup_schema,
    load_default_mapping,
    validate_mapping,
)
from lineup_integrations.core.mapping.schema import UnknownEntityError
from lineup_integrations.core.store import Contact
from lineup_integrations.google_calendar.fields import EVENT_FIELDS as GOOGLE_EVENT_FIELDS
from lineup_integrations.outlook_calendar.fields import EVENT_FIELDS as GRAPH_EVENT_FIELDS
from tests.core.mapping.zoho_fields import ZOHO_CONTACT_FIELDS_JSON, zoho_contact_fields


def test_rule_reads_the_spec_shape_and_writes_it_back() -> None:
    rule = FieldRule.model_validate({"sourceField": "email", "targetField": "Email", "transform": "lowercase"})
    assert (rule.source_field, rule.target_field, rule.transform, rule.direction) == (
        "email",
        "Email",
        ("lowercase",),
        None,
    )
    assert rule.model_dump(by_alias=True, exclude_none=True) == {
        "sourceField": "email",
        "targetField": "Email",
        "transform": "lowercase",
    }
    chained = FieldRule.model_validate(
        {"sourceField": "name", "targetField": "Full_Name", "transform": ["trim", "title_case"]}
    )
    assert chained.model_dump(by_alias=True)["transform"] == ["trim", "title_case"]
    assert FieldRule(source_field="title", target_field="Title").transform == ("none",)


@pytest.mark.parametrize(
    "payload",
    [
        {"sourceField": "email", "targetField": "Email", "transform": []},
        {"sourceField": "", "targetField": "Email"},
        {"sourceField": "email"},
        {"sourceField": "email", "targetField": "Email", "direction": "sideways"},
        {"sourceField": "email", "targetField": "Email", "tranform": "trim"},
    ],
)
def test_malformed_rules_are_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FieldRule.model_validate(payload)


def test_rules_take_the_mapping_direction_unless_they_name_their_own() -> None:
    mapping = Mapping.model_validate(
        {
            "provider": "zoho",
            "entity": "contacts",
            "direction": "outbound",
            "rules": [
                {"sourceField": "email", "targetField": "Email"},
                {"sourceField": "name", "targetField": "Full_Name", "direction": "inbound"},
                {"sourceField": "phone", "targetField": "Phone", "direction": "bidirectional"},
            ],
        }
    )
    assert [rule.direction for rule in mapping.rules] == [
        Direction.OUTBOUND,
        Direction.INBOUND,
        Direction.BIDIRECTIONAL,
    ]
    assert [rule.source_field for rule in mapping.rules_for(Direction.INBOUND)] == ["name", "phone"]
    assert [rule.source_field for rule in mapping.rules_for(Direction.OUTBOUND)] == ["email", "phone"]
    with pytest.raises(ValueError, match="one-way"):
        mapping.rules_for(Direction.BIDIRECTIONAL)


def test_provider_field_reads_zoho_metadata() -> None:
    fields = {field.api_name: field for field in zoho_contact_fields()}
    assert fields["Last_Name"].required and not fields["Last_Name"].read_only
    assert fields["Full_Name"].read_only and not fields["Full_Name"].required
    assert fields["Nickname"].read_only  # read-only through the profile (`field_read_only`)
    assert fields["Account_Name"].data_type == "lookup"
    # What the cache stores comes back identical.
    assert [ProviderField.model_validate(f.model_dump()) for f in fields.values()] == list(fields.values())
    assert len(fields) == len(ZOHO_CONTACT_FIELDS_JSON)


def test_contact_schema_is_the_contacts_table() -> None:
    columns = Contact.__table__.columns
    assert CONTACT_SCHEMA.field_names == (
        "name",
        "first_name",
        "last_name",
        "email",
        "phone",
        "mobile",
        "title",
        "company",
        "department",
    )
    for field in CONTACT_SCHEMA.fields:
        assert isinstance(columns[field.name].type, String)
        assert field.type == "string" and field.max_length == columns[field.name].type.length
    assert lineup_schema("contacts") is CONTACT_SCHEMA
    with pytest.raises(UnknownEntityError):
        lineup_schema("invoices")


def test_zoho_default_mapping_is_versioned_and_valid() -> None:
    mapping = load_default_mapping("zoho", "contacts")
    assert (mapping.provider, mapping.entity, mapping.version) == ("zoho", "contacts", 1)
    by_field = {rule.source_field: rule for rule in mapping.rules}
    assert set(by_field) == set(CONTACT_SCHEMA.field_names)
    assert by_field["company"].target_field == "Account_Name.name"
    assert by_field["name"].direction is Direction.INBOUND  # Full_Name is read-only in Zoho
    assert by_field["email"].transform == ("normalize_email",)
    assert by_field["mobile"].transform == ("format_phone",)
    validate_mapping(mapping, zoho_contact_fields())  # raises if any rule is invalid
    assert default_entities("zoho") == ["contacts"]
    assert default_entities("google_calendar") == ["events"]


@pytest.mark.parametrize(
    ("provider", "fields"), [("google_calendar", GOOGLE_EVENT_FIELDS), ("outlook_calendar", GRAPH_EVENT_FIELDS)]
)
def test_the_calendar_default_mappings_fill_every_descriptive_field_from_a_known_event_field(
    provider: str, fields: tuple[ProviderField, ...]
) -> None:
    mapping = load_default_mapping(provider, "events")
    assert {rule.source_field for rule in mapping.rules} == set(CALENDAR_EVENT_SCHEMA.field_names)
    assert all(rule.direction is Direction.INBOUND for rule in mapping.rules)
    validate_mapping(mapping, fields)  # nested paths (organizer.email) are known fields
    outbound = mapping.model_copy(
        update={"rules": [mapping.rules[0].model_copy(update={"direction": Direction.OUTBOUND})]}
    )
    with pytest.raises(MappingValidationError, match="read-only"):
        validate_mapping(outbound, fields)


@pytest.mark.parametrize(
    ("provider", "entity"), [("zoho", "deals"), ("../zoho", "contacts"), ("zoho", "../../etc/passwd")]
)
def test_missing_or_unsafe_defaults_are_unknown(provider: str, entity: str) -> None:
    with pytest.raises(UnknownMappingError):
        load_default_mapping(provider, entity)
