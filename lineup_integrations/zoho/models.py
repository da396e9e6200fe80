"""Boundary models for Zoho CRM API responses (v2–v8 shapes; facts: provider-apis.md §A4–A6).

Speed matters for the contact pages: a full sync parses up to 100,000 records. A page's JSON is
parsed once (`response.json()`), its `info` is validated, and its records stay plain dicts —
the raw store keeps them as they came and the mapping step reads fields by name. The only check
made per record is the cheap one that matters for idempotent upserts: a numeric-string `id`.
Smaller payloads (deleted records, fields, org, upsert results) are validated as full models.
Every model allows extra keys: Zoho adds fields between versions and per organisation.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SkipValidation,
    model_validator,
)


class _ZohoModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Lookup(_ZohoModel):
    """A lookup/user reference (`Owner`, `Account_Name`, `deleted_by`): `{"name", "id"}`."""

    id: str
    name: str | None = None


class PagePosition(BaseModel):
    """Where a listing resumes: a page number, or Zoho's opaque page token (then `page` is informational).

    This is what a caller checkpoints after committing a page, and passes back to restart there.
    """

    model_config = ConfigDict(frozen=True)

    page: int = Field(default=1, ge=1)
    page_token: str | None = None


class PageInfo(_ZohoModel):
    """The `info` object of a listing. The deleted-records listing has only the first four keys."""

    per_page: int
    count: int
    page: int
    more_records: bool
    next_page_token: str | None = None
    previous_page_token: str | None = None
    page_token_expiry: dt.datetime | None = None
    sort_by: str | None = None
    sort_order: str | None = None

    def next_position(self) -> PagePosition | None:
        """The position of the following page, or None after the last one.

        Prefers the token when Zoho returns one (v3+): it reaches past the 2,000-record limit of
        `page`, and it is a cursor, so records edited while we page (which move to the end of a
        `Modified_Time` ordering) cannot shift an unread record into an already-read page, as
        they do with page offsets. Without a token (v2), the next page number.
        """
        if not self.more_records:
            return None
        return PagePosition(page=self.page + 1, page_token=self.next_page_token or None)


class ContactPage(BaseModel):
    """One page of `GET /Contacts`: raw record dicts plus the validated `info`."""

    model_config = ConfigDict(frozen=True)

    records: Annotated[list[dict[str, Any]], SkipValidation]
    info: PageInfo

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ContactPage:
        records = payload.get("data")
        if not isinstance(records, list):
            raise ValueError("a records page has no 'data' list")
        for record in records:
            record_id = record.get("id") if isinstance(record, dict) else None
            if not (isinstance(record_id, str) and record_id.isdigit()):
                raise ValueError("a record without a numeric-string 'id'")
        return cls(records=records, info=PageInfo.model_validate(payload.get("info")))

    def next_position(self) -> PagePosition | None:
        return self.info.next_position()

    def contacts(self) -> list[ZohoContact]:
        """The records as typed models, for callers that want attributes rather than dict keys."""
        return [ZohoContact.model_validate(record) for record in self.records]


class ZohoContact(_ZohoModel):
    """A Contacts record. Known fields are typed; every other field is kept (extra allowed)."""

    id: str = Field(pattern=r"^\d+$")
    First_Name: str | None = None
    Last_Name: str | None = None
    Full_Name: str | None = None
    Email: str | None = None
    Phone: str | None = None
    Mobile: str | None = None
    Title: str | None = None
    Account_Name: Lookup | None = None
    Owner: Lookup | None = None
    Created_Time: dt.datetime | None = None
    Modified_Time: dt.datetime | None = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[ZohoContact]) -> ZohoContact:
        contact = handler(data)
        if isinstance(data, dict):
            contact._raw = data
        return contact

    @property
    def raw(self) -> dict[str, Any]:
        """The record exactly as Zoho sent it (the dict it was validated from, not a re-serialisation)."""
        return self._raw


class DeletedRecord(_ZohoModel):
    """An entry of `GET /Contacts/deleted`; `deleted_by`/`created_by` are null for permanent deletes."""

    id: str = Field(pattern=r"^\d+$")
    display_name: str | None = None
    type: str  # "recycle" or "permanent"
    deleted_time: dt.datetime
    deleted_by: Lookup | None = None
    created_by: Lookup | None = None


class DeletedPage(_ZohoModel):
    records: list[DeletedRecord] = Field(alias="data")
    info: PageInfo

    def next_position(self) -> PagePosition | None:
        return self.info.next_position()


class ZohoField(_ZohoModel):
    """A field of a module (`GET /settings/fields?module=Contacts`), used to validate mappings."""

    id: str
    api_name: str
    field_label: str | None = None
    display_label: str | None = None
    data_type: str
    json_type: str | None = None
    length: int | None = None
    read_only: bool = False
    field_read_only: bool = False
    system_mandatory: bool = False
    custom_field: bool = False
    visible: bool = True


class ZohoOrg(_ZohoModel):
    """The organisation (`GET /org` → `org[0]`); `id` is what maps a Zoho org to a tenant."""

    id: str
    company_name: str | None = None
    domain_name: str | None = None
    primary_email: str | None = None
    time_zone: str | None = None
    currency: str | None = None
    country_code: str | None = None
    type: str | None = None


class UpsertDetails(_ZohoModel):
    id: str | None = None
    api_name: str | None = None
    json_path: str | None = None


class UpsertResult(_ZohoModel):
    """One record's outcome of `POST /Contacts/upsert`, in the order the records were sent."""

    code: str
    status: str  # "success" or "error"
    message: str = ""
    action: str | None = None  # "insert" or "update" on success
    duplicate_field: str | None = None
    details: UpsertDetails = UpsertDetails()

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def id(self) -> str | None:
        """The Zoho record id written (success only)."""
        return self.details.id
