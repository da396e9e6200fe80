"""`apply_inbound`: Zoho records → Lineup contacts, column-wise, with bad records set aside."""

from __future__ import annotations

import copy
import json
from typing import Any

import pandas as pd
import pytest

from lineup_integrations.core.mapping import (
    CONTACT_SCHEMA,
    EXTERNAL_ID,
    Direction,
    FieldRule,
    Mapping,
    apply_inbound,
    load_default_mapping,
)

COLUMNS = [EXTERNAL_ID, *CONTACT_SCHEMA.field_names]


def zoho_contact(number: int, **overrides: Any) -> dict[str, Any]:
    """A contact as Zoho's GET /crm/v8/Contacts returns it."""
    record = {
        "id": f"41508680000000{number:05d}",
        "First_Name": "John",
        "Last_Name": "Doe",
        "Full_Name": "John  Doe",
        "Email": " John.Doe@Zylker.com ",
        "Phone": "+1 555 123 4567",
        "Mobile": None,
        "Title": "CTO",
        "Account_Name": {"name": "Zylker", "id": "4150868000000224005"},
        "Department": "R&D",
        "Owner": {"name": "Patricia Boyle", "id": "4150868000000225013", "email": "p@example.com"},
        "Created_Time": "2023-10-15T10:30:00+00:00",
        "Modified_Time": "2023-10-15T14:20:00+05:30",
    }
    record.update(overrides)
    return record


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict("records")


@pytest.fixture(scope="module")
def default() -> Mapping:
    return load_default_mapping("zoho", "contacts")


def test_default_mapping_of_a_zoho_contact(default: Mapping) -> None:
    batch = apply_inbound([zoho_contact(1)], default)
    assert list(batch.frame.columns) == COLUMNS
    assert rows(batch.frame) == [
        {
            "external_id": "4150868000000000001",
            "name": "John Doe",
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@zylker.com",
            "phone": "+15551234567",
            "mobile": None,
            "title": "CTO",
            "company": "Zylker",
            "department": "R&D",
        }
    ]
    assert batch.rejected == [] and batch.mapping_version == default.version


def test_missing_values_are_none_not_nan(default: Mapping) -> None:
    sparse = {"id": "4150868000000000002", "Last_Name": "Roe", "Account_Name": None}
    [row] = rows(apply_inbound([sparse], default).frame)
    assert row == {**dict.fromkeys(COLUMNS), "external_id": "4150868000000000002", "last_name": "Roe"}


def test_records_a_rule_cannot_transform_are_set_aside_with_their_errors(default: Mapping) -> None:
    records = [
        zoho_contact(1),
        zoho_contact(2, Email={"value": "x@y.z"}),  # an object where text is expected
        zoho_contact(3, Account_Name="Zylker"),  # text where the lookup object is expected
        zoho_contact(4, Title=["CTO", "CFO"], Department={"a": 1}),  # two errors, one record
        zoho_contact(5, Last_Name="x" * 300),  # longer than contacts.last_name holds
        {k: v for k, v in zoho_contact(6).items() if k != "id"},  # no id
        zoho_contact(7),
    ]
    original = copy.deepcopy(records)
    batch = apply_inbound(records, default)
    assert batch.frame[EXTERNAL_ID].tolist() == ["4150868000000000001", "4150868000000000007"]
    rejected = {item.external_id: item for item in batch.rejected}
    assert list(rejected) == [
        "4150868000000000002",
        "4150868000000000003",
        "4150868000000000004",
        "4150868000000000005",
        None,
    ]
    assert rejected["4150868000000000002"].error == "Email: expected text, got an object"
    assert rejected["4150868000000000003"].error == "Account_Name: expected an object with 'name'"
    assert rejected["4150868000000000004"].error == (
        "Title: expected text, got a list; Department: expected text, got an object"
    )
    assert "Last_Name: longer than the 255 characters" in rejected["4150868000000000005"].error
    assert rejected[None].error == "id: missing"
    assert [item.payload for item in batch.rejected] == original[1:6]
    assert records == original  # the input is not modified


def test_numbers_and_booleans_arrive_as_text(default: Mapping) -> None:
    [row] = rows(apply_inbound([zoho_contact(1, id=4150868000000000001, Phone=5551234567, Title=True)], default).frame)
    assert (row["external_id"], row["phone"], row["title"]) == ("4150868000000000001", "5551234567", "true")


def test_only_inbound_rules_apply_and_unmapped_fields_are_none() -> None:
    mapping = Mapping(
        provider="zoho",
        entity="contacts",
        rules=(
            FieldRule(
                source_field="email", target_field="Email", transform=("lowercase",), direction=Direction.OUTBOUND
            ),
            FieldRule(source_field="last_name", target_field="Last_Name", transform=("uppercase",)),
            FieldRule(source_field="company", target_field="Account_Name.id", direction=Direction.INBOUND),
            FieldRule(
                source_field="title",
                target_field="Title",
                transform=("trim", "default:n/a"),
                direction=Direction.INBOUND,
            ),
        ),
    )
    [first, second] = rows(apply_inbound([zoho_contact(1), zoho_contact(2, Title="  ")], mapping).frame)
    assert first == {
        **dict.fromkeys(COLUMNS),
        "external_id": "4150868000000000001",
        "last_name": "DOE",
        "company": "4150868000000224005",
        "title": "CTO",
    }
    assert second["title"] == "n/a"


def test_a_frame_of_records_maps_like_the_list(default: Mapping) -> None:
    records = [zoho_contact(n, Mobile="0044 (20) 7946-0958" if n % 2 else None) for n in range(1, 6)]
    records.append(zoho_contact(9, Email=["a@b.c"]))
    from_list, from_frame = apply_inbound(records, default), apply_inbound(pd.DataFrame(records).iloc[::-1], default)
    assert rows(from_frame.frame) == rows(from_list.frame)[::-1]
    assert rows(from_list.frame)[0]["mobile"] == "+442079460958"
    assert [r.model_dump() for r in from_frame.rejected] == [r.model_dump() for r in from_list.rejected]


def test_an_empty_chunk(default: Mapping) -> None:
    batch = apply_inbound([], default)
    assert list(batch.frame.columns) == COLUMNS and batch.frame.empty and batch.rejected == []


def test_a_chunk_keeps_order_and_size(default: Mapping) -> None:
    records = [zoho_contact(n, First_Name=f"  first   {n} ") for n in range(5000)]
    frame = apply_inbound(records, default).frame
    assert len(frame) == 5000 and frame.index.equals(pd.RangeIndex(5000))
    assert frame["first_name"].tolist() == [f"first {n}" for n in range(5000)]


def test_an_unvalidated_mapping_naming_an_unknown_field_is_a_programming_error() -> None:
    bad = Mapping(
        provider="zoho", entity="contacts", rules=(FieldRule(source_field="nickname", target_field="Nickname"),)
    )
    with pytest.raises(ValueError, match="nickname"):
        apply_inbound([zoho_contact(1)], bad)


def test_rejected_rows_of_a_frame_are_json_safe(default: Mapping) -> None:
    frame = pd.DataFrame({"id": [1, 2], "Email": ["a@b.c", {"x": 1}], "Last_Name": [None, "Roe"]})
    batch = apply_inbound(frame, default)
    assert batch.frame[EXTERNAL_ID].tolist() == ["1"]
    [rejected] = batch.rejected
    assert rejected.payload == {"id": 2, "Email": {"x": 1}, "Last_Name": "Roe"}
    assert type(rejected.payload["id"]) is int and json.loads(json.dumps(rejected.payload)) == rejected.payload
