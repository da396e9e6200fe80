"""Validation of a change against Lineup's schema and Zoho's field metadata: one problem per fault,
each naming the request field, and the spec's own example accepted."""

from __future__ import annotations

from typing import Any

import pytest

from lineup_integrations.core.mapping import (
    Direction,
    FieldRule,
    Mapping,
    MappingValidationError,
    load_default_mapping,
    merge_validated,
)
from tests.core.mapping.zoho_fields import zoho_contact_fields

SPEC_EXAMPLE = [
    {"sourceField": "name", "targetField": "Full_Name", "transform": "none"},
    {"sourceField": "email", "targetField": "Email", "transform": "lowercase"},
]


def rules(*items: dict[str, Any]) -> list[FieldRule]:
    return [FieldRule.model_validate(item) for item in items]


def change(
    *items: dict[str, Any], direction: Direction = Direction.BIDIRECTIONAL, current: Mapping | None = None
) -> Mapping:
    return merge_validated(
        current or load_default_mapping("zoho", "contacts"),
        rules(*items),
        direction=direction,
        provider_fields=zoho_contact_fields(),
    )


def problems(*items: dict[str, Any], direction: Direction = Direction.BIDIRECTIONAL) -> list[tuple[str, str]]:
    with pytest.raises(MappingValidationError) as refused:
        change(*items, direction=direction)
    return [(problem.field, problem.message) for problem in refused.value.problems]


def test_spec_example_is_accepted_and_merged_into_the_default() -> None:
    default = load_default_mapping("zoho", "contacts")
    merged = change(*SPEC_EXAMPLE)
    by_field = {(r.source_field, r.direction): r for r in merged.rules}
    # Full_Name is read-only in Zoho: the bidirectional rule is kept for the way Zoho allows.
    assert by_field[("name", Direction.INBOUND)].transform == ("none",)
    assert by_field[("email", Direction.BIDIRECTIONAL)].transform == ("lowercase",)
    # Everything else of the default is kept, once.
    untouched = [r for r in default.rules if r.source_field not in ("name", "email")]
    assert [r for r in merged.rules if r.source_field not in ("name", "email")] == untouched
    assert len(merged.rules) == len(default.rules)
    assert merged.version == default.version


def test_unknown_lineup_field() -> None:
    [(field, message)] = problems({"sourceField": "e_mail", "targetField": "Email"})
    assert field == "mappings[0].sourceField" and "first_name" in message and "e_mail" not in message


def test_target_field_unknown_to_the_provider() -> None:
    [(field, message)] = problems(
        {"sourceField": "email", "targetField": "Email"}, {"sourceField": "phone", "targetField": "Phone_Number"}
    )
    assert field == "mappings[1].targetField" and "not a zoho contacts field" in message
    assert "Phone_Number" not in message


def test_unknown_transform_is_named_with_its_position() -> None:
    found = problems(
        {"sourceField": "title", "targetField": "Title", "transform": "shout"},
        {"sourceField": "department", "targetField": "Department", "transform": ["trim", "reverse"]},
    )
    assert [field for field, _ in found] == ["mappings[0].transform", "mappings[1].transform[1]"]
    assert all("unknown transform; available: none, uppercase" in message for _, message in found)
    assert not any("shout" in message or "reverse" in message for _, message in found)


def test_two_rules_for_one_lineup_field_in_one_direction() -> None:
    [(field, message)] = problems(
        {"sourceField": "email", "targetField": "Email"},
        {"sourceField": "email", "targetField": "Secondary_Email", "direction": "inbound"},
    )
    assert field == "mappings[1].sourceField" and "mappings[0]" in message
    # Different directions for one field are fine.
    change(
        {"sourceField": "email", "targetField": "Email", "direction": "outbound"},
        {"sourceField": "email", "targetField": "Secondary_Email", "direction": "inbound"},
    )


def test_two_rules_writing_one_provider_field_outbound() -> None:
    within = problems(
        {"sourceField": "phone", "targetField": "Phone"}, {"sourceField": "mobile", "targetField": "Phone"}
    )
    assert [field for field, _ in within] == ["mappings[1].targetField"]
    # Against a rule kept from the active version (title ↔ Title in the default).
    [(field, message)] = problems({"sourceField": "department", "targetField": "Title"})
    assert field == "mappings[0].targetField" and "'Title'" in message and "'title'" in message
    # Inbound, one provider field may feed two Lineup fields.
    change({"sourceField": "department", "targetField": "Title", "direction": "inbound"})


def test_required_provider_field_left_unmapped_outbound() -> None:
    [(field, message)] = problems(
        {"sourceField": "last_name", "targetField": "Secondary_Email", "direction": "outbound"}
    )
    assert field == "mappings" and "Last_Name" in message
    # Nothing flows outbound at all: nothing is required.
    inbound_only = Mapping(provider="zoho", entity="contacts", direction=Direction.INBOUND, rules=())
    assert (
        change({"sourceField": "email", "targetField": "Email"}, direction=Direction.INBOUND, current=inbound_only)
        .rules[0]
        .direction
        is Direction.INBOUND
    )


@pytest.mark.parametrize("target", ["Full_Name", "Nickname"])
def test_read_only_provider_field_written_outbound(target: str) -> None:
    [(field, message)] = problems({"sourceField": "name", "targetField": target, "direction": "outbound"})
    assert field == "mappings[0].targetField" and "read-only" in message and target in message


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        (
            {"sourceField": "title", "targetField": "Date_of_Birth", "transform": "uppercase", "direction": "inbound"},
            "mappings[0].transform",
            ["uppercase", "date"],
        ),
        (
            {
                "sourceField": "title",
                "targetField": "Date_of_Birth",
                "transform": ["trim", "shout"],
                "direction": "inbound",
            },
            "mappings[0].transform[1]",
            ["unknown transform"],
        ),
        (
            {"sourceField": "title", "targetField": "Email_Opt_Out", "direction": "outbound"},
            "mappings[0].targetField",
            ["boolean", "cannot be written"],
        ),
        (
            {"sourceField": "company", "targetField": "Account_Name", "direction": "inbound"},
            "mappings[0].targetField",
            ["Account_Name.name", "object"],
        ),
        (
            {"sourceField": "company", "targetField": "Account_Name.name", "direction": "bidirectional"},
            "mappings[0].targetField",
            ["cannot be written"],
        ),
        (
            {"sourceField": "company", "targetField": "Account_Name.owner", "direction": "inbound"},
            "mappings[0].targetField",
            ["Account_Name.id"],
        ),
        (
            {"sourceField": "title", "targetField": "Title.name", "direction": "inbound"},
            "mappings[0].targetField",
            ["no nested"],
        ),
        (
            {"sourceField": "title", "targetField": "Tag", "direction": "inbound"},
            "mappings[0].targetField",
            ["multiselectpicklist"],
        ),
    ],
)
def test_type_mismatch_a_transform_cannot_fix(rule: dict[str, Any], field: str, words: list[str]) -> None:
    [(found_field, message)] = problems(rule)
    assert found_field == field and all(word in message for word in words)


def test_scalar_fields_are_readable_through_safe_transforms() -> None:
    merged = change(
        {
            "sourceField": "title",
            "targetField": "Date_of_Birth",
            "transform": ["trim", "default:n/a"],
            "direction": "inbound",
        }
    )
    assert merged.rules[-1].target_field == "Date_of_Birth"


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {"sourceField": "nope", "targetField": "Nope", "transform": "shout"},
        {"sourceField": "name", "targetField": "Full_Name", "direction": "outbound"},
        {"sourceField": "phone", "targetField": "Phone"},
        {"sourceField": "mobile", "targetField": "Phone"},
    )
    assert [field for field, _ in found] == [
        "mappings[0].sourceField",
        "mappings[0].transform",
        "mappings[0].targetField",
        "mappings[1].targetField",
        "mappings[3].targetField",
    ]


def test_an_empty_change_is_refused() -> None:
    assert problems() == [("mappings", "at least one rule is required")]
