"""Zoho CRM Contacts field metadata as `GET /crm/v8/settings/fields?module=Contacts` returns it
(trimmed to the keys mapping validation reads, plus a few it must ignore)."""

from __future__ import annotations

import zlib
from typing import Any

from lineup_integrations.core.mapping import ProviderField


def _field(api_name: str, data_type: str, **flags: Any) -> dict[str, Any]:
    return {
        "id": f"4150868{zlib.crc32(api_name.encode()):012d}",
        "api_name": api_name,
        "field_label": api_name,
        "data_type": data_type,
        "json_type": "jsonobject" if "lookup" in data_type else "string",
        "system_mandatory": flags.get("mandatory", False),
        "read_only": flags.get("read_only", False),
        "field_read_only": flags.get("field_read_only", False),
        "custom_field": flags.get("custom", False),
        "visible": True,
    }


ZOHO_CONTACT_FIELDS_JSON: list[dict[str, Any]] = [
    _field("Owner", "ownerlookup"),
    _field("First_Name", "text"),
    _field("Last_Name", "text", mandatory=True),
    _field("Full_Name", "text", read_only=True),
    _field("Email", "email"),
    _field("Secondary_Email", "email"),
    _field("Phone", "phone"),
    _field("Mobile", "phone"),
    _field("Title", "text"),
    _field("Department", "text"),
    _field("Account_Name", "lookup"),
    _field("Date_of_Birth", "date"),
    _field("Email_Opt_Out", "boolean"),
    _field("Tag", "multiselectpicklist"),
    _field("Created_Time", "datetime", read_only=True),
    _field("Modified_Time", "datetime", read_only=True),
    _field("Nickname", "text", custom=True, field_read_only=True),
]


def zoho_contact_fields() -> list[ProviderField]:
    return [ProviderField.model_validate(item) for item in ZOHO_CONTACT_FIELDS_JSON]
