"""One Google Calendar event in the sandbox: validating a request body, storing it, rendering it.

No HTTP and no locking here (`store.py` owns both). The rules are Google's (provider-apis.md
§B3–B4, the `Event` schema of the discovery document):
- `start`/`end` are both `dateTime` (RFC 3339; a `timeZone` is needed when the value has no
  offset, and always for a recurring event) or both all-day `date`s with the end exclusive.
  A timed value is rendered with the offset of the event's `timeZone`, else of the calendar's.
- Client ids are base32hex (`[a-v0-9]`, 5–1024 characters); generated ids are 26 such characters.
- Every write bumps `updated` and gives a new quoted `etag`; a change of start, end or
  recurrence bumps `sequence`.
- A cancelled event renders as a tombstone in lists (`kind, etag, id, status`, plus
  `recurringEventId`/`originalStartTime` for a cancelled exception); `events.get` still shows it whole.
- Defaults Google leaves out of the resource (`transparency: opaque`, `visibility: default`) are
  not rendered, as Google does not render them.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lineup_integrations.google_calendar.sandbox import errors
from lineup_integrations.google_calendar.sandbox.recurrence import RecurrenceError, Series, Start, parse_series

BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
_CLIENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
STATUSES: tuple[str, ...] = ("confirmed", "tentative", "cancelled")
TRANSPARENCIES: tuple[str, ...] = ("opaque", "transparent")
VISIBILITIES: tuple[str, ...] = ("default", "public", "private", "confidential")
RESPONSE_STATUSES: tuple[str, ...] = ("needsAction", "declined", "tentative", "accepted")
EVENT_TYPES: tuple[str, ...] = ("birthday", "default", "focusTime", "fromGmail", "outOfOffice", "workingLocation")
REMINDER_METHODS: tuple[str, ...] = ("email", "popup")
_DEFAULTS_NOT_RENDERED: dict[str, str] = {"transparency": "opaque", "visibility": "default"}
_PASSTHROUGH: tuple[str, ...] = (
    "summary", "description", "location", "colorId", "endTimeUnspecified", "transparency", "visibility",
    "attendees", "extendedProperties", "reminders", "guestsCanInviteOthers", "guestsCanModify",
    "guestsCanSeeOtherGuests", "anyoneCanAddSelf", "source", "eventType", "locked", "privateCopy",
    "attachments", "conferenceData",
)  # fmt: skip
"""Writable fields kept as given (after validation); start, end, recurrence and status are parsed."""
_REPLACED_WHOLE: frozenset[str] = frozenset({"start", "end", "originalStartTime", "recurrence", "attendees"})
"""Fields a PATCH replaces rather than merges (a partial `start` must not mix `date` and `dateTime`)."""
_STRING_FIELDS: tuple[str, ...] = ("summary", "description", "location", "colorId")
_BOOL_FIELDS: tuple[str, ...] = (
    "endTimeUnspecified", "guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests",
    "anyoneCanAddSelf", "locked", "privateCopy",
)  # fmt: skip


def new_event_id() -> str:
    """A Google-shaped generated event id: 26 base32hex characters."""
    return "".join(secrets.choice(BASE32HEX) for _ in range(26))


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone `name`; raises KeyError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise KeyError(name) from None


def parse_rfc3339(value: str, name: str) -> dt.datetime:
    """A query parameter's RFC 3339 timestamp, which Google requires to carry an offset."""
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise errors.bad_request() from None
    if moment.tzinfo is None:
        raise errors.bad_request()
    return moment.replace(microsecond=0)  # "Milliseconds may be provided but are ignored."


def format_time(moment: dt.datetime, zone: ZoneInfo | dt.tzinfo) -> str:
    """An event time as Google renders it: `2026-07-24T14:00:00-05:00`, or `…Z` in UTC."""
    local = moment.astimezone(zone)
    text = local.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_timestamp(moment: dt.datetime) -> str:
    """A resource timestamp (`created`, `updated`, freeBusy bounds): UTC with milliseconds."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class When:
    """An event's `start`, `end` or `originalStartTime`: an all-day `day`, or an aware `moment`
    with the event's own `zone` name (None: the calendar's zone applies)."""

    day: dt.date | None = None
    moment: dt.datetime | None = None
    zone: str | None = None

    @property
    def all_day(self) -> bool:
        return self.day is not None

    @property
    def value(self) -> Start:
        return self.day if self.day is not None else self.moment  # type: ignore[return-value]

    def instant(self, calendar_zone: ZoneInfo) -> dt.datetime:
        """The moment this time denotes; an all-day date starts at midnight in the calendar's zone."""
        if self.day is not None:
            return dt.datetime.combine(self.day, dt.time(), calendar_zone)
        assert self.moment is not None
        return self.moment

    def render(self, calendar_zone: str, response_zone: str | None = None) -> dict[str, str]:
        if self.day is not None:
            return {"date": self.day.isoformat()}
        assert self.moment is not None
        zone = response_zone or self.zone or calendar_zone
        rendered = {"dateTime": format_time(self.moment, ZoneInfo(zone))}
        if self.zone:
            rendered["timeZone"] = self.zone
        return rendered

    def at(self, start: Start) -> When:
        """This time's kind and zone at another start (an instance's `originalStartTime`)."""
        if isinstance(start, dt.datetime):
            return When(moment=start, zone=self.zone)
        return When(day=start)


def parse_when(raw: Any, name: str) -> When:
    """`start`/`end`/`originalStartTime` of a request body, or the 400 Google answers."""
    if not isinstance(raw, Mapping) or ("date" not in raw and "dateTime" not in raw):
        raise errors.required(f"Missing {name.removesuffix('Time')} time.")
    zone_name = raw.get("timeZone")
    if zone_name is not None:
        try:
            zone_of(str(zone_name))
        except KeyError:
            raise errors.invalid_field(f"Invalid time zone definition for {name} time.") from None
    if raw.get("date") is not None:
        if raw.get("dateTime") is not None:
            raise errors.invalid_field(f"Invalid {name} time.")
        try:
            return When(day=dt.date.fromisoformat(str(raw["date"])))
        except ValueError:
            raise errors.invalid_field(f"Invalid {name} time.") from None
    try:
        moment = dt.datetime.fromisoformat(str(raw["dateTime"]).replace("z", "Z"))
    except ValueError:
        raise errors.invalid_field(f"Invalid {name} time.") from None
    if moment.tzinfo is None:
        if zone_name is None:
            raise errors.required(f"Missing time zone definition for {name} time.")
        moment = moment.replace(tzinfo=ZoneInfo(str(zone_name)))
    return When(moment=moment.replace(microsecond=0), zone=str(zone_name) if zone_name else None)


@dataclass
class Draft:
    """A validated event body: what insert, update and patch write."""

    fields: dict[str, Any]
    start: When
    end: When
    recurrence: tuple[str, ...]
    status: str
    sequence: int | None
    series: Series | None
    ical_uid: str | None = None


@dataclass
class StoredEvent:
    """An event as the sandbox keeps it (`change` = the account's change counter at its last write)."""

    id: str
    fields: dict[str, Any]
    start: When
    end: When
    recurrence: tuple[str, ...]
    status: str
    created: dt.datetime
    updated: dt.datetime
    etag: str
    sequence: int
    ical_uid: str
    creator: dict[str, Any]
    organizer: dict[str, Any]
    change: int
    order: int
    series: Series | None = None
    recurring_event_id: str | None = None
    original_start: When | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def is_series(self) -> bool:
        return self.series is not None and self.recurring_event_id is None

    @property
    def opaque(self) -> bool:
        return self.fields.get("transparency", "opaque") != "transparent"

    def duration(self) -> dt.timedelta:
        if self.start.day is not None and self.end.day is not None:
            return self.end.day - self.start.day
        assert self.start.moment is not None and self.end.moment is not None
        return self.end.moment - self.start.moment

    def apply(self, draft: Draft, *, now: dt.datetime, change: int) -> None:
        """Write a validated body over this event (insert, update, patch): new etag and `updated`."""
        moved = (draft.start, draft.end, draft.recurrence) != (self.start, self.end, self.recurrence)
        self.fields = draft.fields
        self.start, self.end, self.recurrence, self.series = draft.start, draft.end, draft.recurrence, draft.series
        self.status = draft.status
        if draft.sequence is not None:
            self.sequence = draft.sequence
        elif moved:
            self.sequence += 1
        self.touch(now=now, change=change)

    def touch(self, *, now: dt.datetime, change: int) -> None:
        self.updated = now
        self.change = change
        self.etag = new_etag(now, change)

    def html_link(self, calendar_id: str) -> str:
        eid = base64.urlsafe_b64encode(f"{self.id} {calendar_id}".encode()).decode().rstrip("=")
        return f"https://www.google.com/calendar/event?eid={eid}"

    def writable(self, calendar_zone: str) -> dict[str, Any]:
        """The writable fields as a body (what a PATCH merges into)."""
        body = copy.deepcopy(self.fields)
        body["start"] = self.start.render(calendar_zone)
        body["end"] = self.end.render(calendar_zone)
        if self.recurrence:
            body["recurrence"] = list(self.recurrence)
        body["status"] = self.status
        return body


def new_etag(now: dt.datetime, change: int) -> str:
    """A quoted 16-digit etag like Google's, new for every write (milliseconds, then the change counter)."""
    return f'"{int(now.timestamp() * 1000) * 1000 + change % 1000}"'


def check_client_id(event_id: Any) -> str:
    if not isinstance(event_id, str) or not _CLIENT_ID.match(event_id):
        raise errors.invalid_field("Invalid resource id value.")
    return event_id


def parse_body(body: Any, calendar_zone: str, *, current: StoredEvent | None = None, instance: bool = False) -> Draft:
    """Validate an insert/update body (or a PATCH already merged onto the event) into a `Draft`."""
    if not isinstance(body, Mapping):
        raise errors.bad_request("Bad Request")
    fields = {name: copy.deepcopy(body[name]) for name in _PASSTHROUGH if body.get(name) is not None}
    for name in _STRING_FIELDS:
        if name in fields and not isinstance(fields[name], str):
            raise errors.invalid_field(f"Invalid value for: {name}")
    for name in _BOOL_FIELDS:
        if name in fields and not isinstance(fields[name], bool):
            raise errors.invalid_field(f"Invalid value for: {name}")
    _check_choice(fields, "transparency", TRANSPARENCIES)
    _check_choice(fields, "visibility", VISIBILITIES)
    _check_choice(fields, "eventType", EVENT_TYPES)
    for name, default in _DEFAULTS_NOT_RENDERED.items():
        if fields.get(name) == default:
            del fields[name]
    if current is not None and fields.get("eventType", "default") != current.fields.get("eventType", "default"):
        raise errors.ApiError(400, "eventTypeRestriction", "The event type cannot be changed.")
    if fields.get("eventType") == "default":
        del fields["eventType"]
    status = body.get("status") or "confirmed"
    if status not in STATUSES:
        raise errors.invalid_field("Invalid value for: status")
    if "attendees" in fields:
        fields["attendees"] = _attendees(fields["attendees"])
    if "reminders" in fields:
        _check_reminders(fields["reminders"])
    if "extendedProperties" in fields:
        _check_extended_properties(fields["extendedProperties"])
    start = parse_when(body.get("start"), "start")
    end = parse_when(body.get("end"), "end")
    if start.all_day != end.all_day:
        raise errors.invalid_field("Start and end times must either both be date or both be dateTime.")
    zone = ZoneInfo(calendar_zone)
    if end.instant(zone) < start.instant(zone) or (start.all_day and end.value == start.value):
        raise errors.time_range_empty(location="end")
    recurrence = tuple(body.get("recurrence") or ()) if not instance else ()
    series = None
    if recurrence:
        if not all(isinstance(line, str) for line in recurrence):
            raise errors.invalid_field("Invalid recurrence rule.")
        if not start.all_day and not start.zone:
            raise errors.required("Missing time zone definition for start time.")
        try:
            series = parse_series(recurrence, start.value, ZoneInfo(start.zone or calendar_zone))
            next(iter(series.rules), None)
        except (RecurrenceError, KeyError, ValueError):
            raise errors.invalid_field("Invalid recurrence rule.") from None
    sequence = body.get("sequence")
    if sequence is not None:
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise errors.invalid_field("Invalid value for: sequence")
        if current is not None and sequence < current.sequence:
            raise errors.invalid_field(
                "Invalid sequence value. The specified sequence number is below the current sequence number of "
                "the resource."
            )
    ical_uid = body.get("iCalUID")
    return Draft(
        fields=fields,
        start=start,
        end=end,
        recurrence=recurrence,
        status=status,
        sequence=sequence,
        series=series,
        ical_uid=ical_uid if isinstance(ical_uid, str) and ical_uid else None,
    )


def merge_patch(current: Mapping[str, Any], patch: Any) -> dict[str, Any]:
    """Google's PATCH: objects merge key by key (so one `extendedProperties.private` key can be set
    without losing the others), arrays and times are replaced, `null` clears a field."""
    if not isinstance(patch, Mapping):
        raise errors.bad_request("Bad Request")
    merged = copy.deepcopy(dict(current))
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(name), Mapping) and name not in _REPLACED_WHOLE:
            merged[name] = merge_patch(merged[name], value)
        else:
            merged[name] = copy.deepcopy(value)
    return merged


def render(
    event: StoredEvent,
    *,
    calendar_id: str,
    calendar_zone: str,
    owners: Collection[str],
    response_zone: str | None = None,
    tombstone: bool = False,
) -> dict[str, Any]:
    """The Event resource as seen by `owners` (the user's login and the calendar's id: who is
    `self`). `tombstone` gives a cancelled event's list form (only what Google guarantees)."""
    if tombstone:
        minimal: dict[str, Any] = {"kind": "calendar#event", "etag": event.etag, "id": event.id, "status": "cancelled"}
        if event.recurring_event_id is not None and event.original_start is not None:
            minimal["recurringEventId"] = event.recurring_event_id
            minimal["originalStartTime"] = event.original_start.render(calendar_zone, response_zone)
        return minimal
    resource: dict[str, Any] = {
        "kind": "calendar#event",
        "etag": event.etag,
        "id": event.id,
        "status": event.status,
        "htmlLink": event.html_link(calendar_id),
        "created": format_timestamp(event.created),
        "updated": format_timestamp(event.updated),
    }
    for name in ("summary", "description", "location", "colorId"):
        if name in event.fields:
            resource[name] = event.fields[name]
    resource["creator"] = _person(event.creator, owners)
    resource["organizer"] = _person(event.organizer, owners)
    resource["start"] = event.start.render(calendar_zone, response_zone)
    resource["end"] = event.end.render(calendar_zone, response_zone)
    if "endTimeUnspecified" in event.fields:
        resource["endTimeUnspecified"] = event.fields["endTimeUnspecified"]
    if event.recurrence and event.recurring_event_id is None:
        resource["recurrence"] = list(event.recurrence)
    if event.recurring_event_id is not None and event.original_start is not None:
        resource["recurringEventId"] = event.recurring_event_id
        resource["originalStartTime"] = event.original_start.render(calendar_zone, response_zone)
    for name in ("transparency", "visibility"):
        if name in event.fields:
            resource[name] = event.fields[name]
    resource["iCalUID"] = event.ical_uid
    resource["sequence"] = event.sequence
    if event.fields.get("attendees"):
        organizer_email = event.organizer.get("email")
        resource["attendees"] = [_attendee(a, owners, organizer_email) for a in event.fields["attendees"]]
    for name in (
        "extendedProperties", "guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests",
        "anyoneCanAddSelf", "privateCopy", "locked", "source", "attachments", "conferenceData",
    ):  # fmt: skip
        if name in event.fields:
            resource[name] = copy.deepcopy(event.fields[name])
    resource["reminders"] = copy.deepcopy(event.fields.get("reminders", {"useDefault": True}))
    resource["eventType"] = event.fields.get("eventType", "default")
    return resource


def instance_of(series: StoredEvent, start: Start, instance_id: str) -> StoredEvent:
    """The (unmodified) instance of a series originally starting at `start`."""
    original = series.start.at(start)
    if isinstance(start, dt.datetime):
        end = When(moment=start + series.duration(), zone=series.end.zone)
    else:
        end = When(day=start + series.duration())
    return StoredEvent(
        id=instance_id,
        fields=copy.deepcopy(series.fields),
        start=original,
        end=end,
        recurrence=(),
        status=series.status,
        created=series.created,
        updated=series.updated,
        etag=series.etag,
        sequence=series.sequence,
        ical_uid=series.ical_uid,
        creator=series.creator,
        organizer=series.organizer,
        change=series.change,
        order=series.order,
        recurring_event_id=series.id,
        original_start=original,
    )


def matches_text(event: StoredEvent, query: str) -> bool:
    """`q`: every term appears in the summary, description, location or an attendee's email or name."""
    haystack = " ".join(
        [str(event.fields.get(name, "")) for name in ("summary", "description", "location")]
        + [f"{a.get('email', '')} {a.get('displayName', '')}" for a in event.fields.get("attendees", [])]
    ).casefold()
    return all(term in haystack for term in query.casefold().split())


def matches_properties(event: StoredEvent, scope: str, constraints: Sequence[str]) -> bool:
    """`privateExtendedProperty`/`sharedExtendedProperty` constraints `name=value`, all of which must hold."""
    properties = event.fields.get("extendedProperties", {}).get(scope, {})
    for constraint in constraints:
        name, _, value = constraint.partition("=")
        if properties.get(name) != value:
            return False
    return True


def _person(person: Mapping[str, Any], owners: Collection[str]) -> dict[str, Any]:
    rendered = dict(person)
    if rendered.get("email") in owners:
        rendered["self"] = True
    return rendered


def _attendee(attendee: Mapping[str, Any], owners: Collection[str], organizer: str | None) -> dict[str, Any]:
    rendered = dict(attendee)
    if rendered.get("email") == organizer:
        rendered["organizer"] = True
    if rendered.get("email") in owners:
        rendered["self"] = True
    rendered.setdefault("responseStatus", "needsAction")
    return rendered


def _attendees(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise errors.invalid_field("Invalid value for: attendees")
    attendees: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise errors.invalid_field("Invalid value for: attendees")
        if not item.get("email") and not item.get("id"):
            raise errors.required("Missing attendee email.")
        status = item.get("responseStatus", "needsAction")
        if status not in RESPONSE_STATUSES:
            raise errors.invalid_field("Invalid attendee response status.")
        kept = {k: v for k, v in item.items() if k not in ("self", "organizer") and v is not None}
        kept["responseStatus"] = status
        attendees.append(kept)
    return attendees


def _check_choice(fields: Mapping[str, Any], name: str, choices: Sequence[str]) -> None:
    if name in fields and fields[name] not in choices:
        raise errors.invalid_field(f"Invalid value for: {name}")


def _check_reminders(raw: Any) -> None:
    if not isinstance(raw, Mapping):
        raise errors.invalid_field("Invalid value for: reminders")
    overrides = raw.get("overrides") or []
    if raw.get("useDefault") and overrides:
        raise errors.ApiError(
            400,
            "cannotUseDefaultRemindersAndSpecifyOverride",
            "Cannot specify both default reminders and overrides at the same time.",
        )
    if len(overrides) > 5:
        raise errors.invalid_field("Invalid value for: reminders.overrides")
    for override in overrides:
        minutes = override.get("minutes") if isinstance(override, Mapping) else None
        method = override.get("method") if isinstance(override, Mapping) else None
        if method not in REMINDER_METHODS:
            raise errors.required("Missing reminder method.")
        if not isinstance(minutes, int) or not 0 <= minutes <= 40320:
            raise errors.invalid_field("Invalid reminder minutes value.")


def _check_extended_properties(raw: Any) -> None:
    if not isinstance(raw, Mapping) or set(raw) - {"private", "shared"}:
        raise errors.invalid_field("Invalid value for: extendedProperties")
    for scope in raw.values():
        if not isinstance(scope, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in scope.items()
        ):
            raise errors.invalid_field("Invalid value for: extendedProperties")
