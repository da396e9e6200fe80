"""Lineup's side of every mapping: the fields a rule may name as its `sourceField`, declared once.

An entity's schema is the contract between mappings and the store: a rule naming a field that is
not here is refused at validation, and `apply_inbound` produces exactly these columns. The
maximum lengths are read from the store's table rather than restated, so a value the database
would refuse is caught (and the record set aside) while mapping, not by a failed insert.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sqlalchemy import String

from lineup_integrations.core.store.models import Base, CalendarEventRow, Contact

LineupType = Literal["string"]


class LineupField(BaseModel, frozen=True):
    name: str
    type: LineupType = "string"
    max_length: int | None = None
    description: str


class LineupSchema(BaseModel, frozen=True):
    entity: str
    fields: tuple[LineupField, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    def get(self, name: str) -> LineupField | None:
        return next((field for field in self.fields if field.name == name), None)


def _max_length(column_type: object) -> int | None:
    return column_type.length if isinstance(column_type, String) else None


def _schema(entity: str, table: type[Base], fields: dict[str, str]) -> LineupSchema:
    columns = table.__table__.columns
    return LineupSchema(
        entity=entity,
        fields=tuple(
            LineupField(
                name=name,
                max_length=_max_length(columns[name].type),
                description=description,
            )
            for name, description in fields.items()
        ),
    )


CONTACT_SCHEMA = _schema(
    "contacts",
    Contact,
    {
        "name": "the full name as displayed",
        "first_name": "given name",
        "last_name": "family name",
        "email": "primary email address",
        "phone": "work or main phone number",
        "mobile": "mobile phone number",
        "title": "job title",
        "company": "the organisation the contact works for",
        "department": "department within the company",
    },
)

# A calendar event's structure (times, status, busy, series, attendees) is read by each calendar
# package's normaliser; its descriptive fields are the tenant's to map (a tenant may keep titles
# out of Lineup by mapping nothing to `title`).
CALENDAR_EVENT_SCHEMA = _schema(
    "events",
    CalendarEventRow,
    {
        "title": "the event's title as interviewers see it",
        "organizer": "the organizer's email address",
        "location": "where the event takes place (a room, an address, a meeting link)",
    },
)

SCHEMAS: dict[str, LineupSchema] = {schema.entity: schema for schema in (CONTACT_SCHEMA, CALENDAR_EVENT_SCHEMA)}


class UnknownEntityError(LookupError):
    """An entity with no Lineup schema (so no mapping can be validated or applied for it)."""


def lineup_schema(entity: str) -> LineupSchema:
    try:
        return SCHEMAS[entity]
    except KeyError:
        raise UnknownEntityError(f"no Lineup schema for entity {entity!r}; known: {', '.join(SCHEMAS)}") from None
