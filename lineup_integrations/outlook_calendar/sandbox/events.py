"""The Microsoft sandbox's calendar store: one user's mailbox (calendars, events, series) and Graph's
rules for reading, writing and change-tracking them. No HTTP here (`graph.py` puts it on the wire).

What a mailbox holds and why it is shaped like this:
- Events are immutable `EventRecord`s replaced on every write, so a delta round can keep the
  records it will page through without copying, and a write always gets a new `changeKey`
  (the `@odata.etag` is `W/"<changeKey>"`), as at Exchange.
- A series is its master (`type` seriesMaster, with `recurrence`) plus per-date exceptions
  (edited occurrences) and cancelled dates (deleted occurrences). Occurrences are not stored:
  they are expanded on demand (`recurrence.expand`, DST-correct in the series' zone) and their
  ids encode (master, local date), so an occurrence id stays the same on every read and
  `GET /me/events/{occurrenceId}` works without materialising the series.
- Ids look like Exchange's (`AAMkA…`, URL-safe base64) and `iCalUId`s like Outlook's global
  object ids (`040000008200E00074C5B7101A82E008…`, the occurrence's date in bytes 16–19).
- Change tracking (`calendarView/delta`) compares what the client last saw (ids → changeKeys,
  kept server-side behind an opaque token) with the window's current instances: new or changed
  instances are sent (plain occurrences as bare stubs, as Graph does), vanished ones as
  `@removed`, and single events changed *outside* the window since the token are reported as
  `@removed` too (event-delta.md: "events outside the date range that have been added, deleted,
  or updated"). Series masters never appear. Cancelled events count as removed.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import random
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lineup_integrations.outlook_calendar.sandbox import recurrence as rec
from lineup_integrations.outlook_calendar.sandbox.timezones import (
    UTC_NAME,
    TimeZoneNotSupported,
    parse_date_time_time_zone,
    render,
    render_floating,
    utc_timestamp,
)

SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
IMPORTANCE = ("low", "normal", "high")
SENSITIVITY = ("normal", "personal", "private", "confidential")
ATTENDEE_TYPES = ("required", "optional", "resource")
RESPONSES = ("none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded")
NO_RESPONSE_TIME = "0001-01-01T00:00:00Z"
_ID_PREFIX = "AAMkA"
_ICAL_PREFIX = "040000008200E00074C5B7101A82E008"
_EXTENDED_ID = re.compile(
    r"^(String|Integer|Boolean|SystemTime|Binary|Double|Float|Long|Short)\s+"
    r"\{[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\}\s+(Name\s+\S.*|Id\s+0x[0-9a-fA-F]+)$"
)
_TAG = re.compile(r"<[^>]+>")
_WRITABLE = frozenset({
    "subject", "body", "start", "end", "isAllDay", "showAs", "importance", "sensitivity", "categories",
    "location", "locations", "attendees", "recurrence", "transactionId", "singleValueExtendedProperties",
    "isReminderOn", "reminderMinutesBeforeStart", "responseRequested", "allowNewTimeProposals", "isOnlineMeeting",
    "onlineMeetingProvider", "hideAttendees", "isCancelled",
})  # fmt: skip
_IGNORED = frozenset({"@odata.type", "@odata.etag", "id", "changeKey", "createdDateTime", "lastModifiedDateTime",
                      "type", "seriesMasterId", "iCalUId", "organizer", "bodyPreview", "originalStartTimeZone",
                      "originalEndTimeZone", "webLink"})  # fmt: skip


class GraphError(Exception):
    """A request Graph refuses: rendered as `{"error":{"code","message","innerError"}}` with `status`."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def invalid_request(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidRequest", message)


def not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def sync_state_not_found() -> GraphError:
    return GraphError(
        410,
        "syncStateNotFound",
        "The sync state generation is not found or has expired. Start a new round of change tracking without a token.",
    )


def _encode_id(raw: bytes) -> str:
    return _ID_PREFIX + base64.urlsafe_b64encode(raw).decode()


def _decode_id(event_id: str) -> bytes | None:
    if not event_id.startswith(_ID_PREFIX):
        return None
    try:
        return base64.urlsafe_b64decode(event_id[len(_ID_PREFIX) :].encode())
    except (ValueError, TypeError):
        return None


def occurrence_id(master_id: str, day: dt.date) -> str:
    """The id of a series' occurrence on local date `day`: stable, and decodable back to both."""
    raw = _decode_id(master_id)
    assert raw is not None and raw[0] == 1
    return _encode_id(b"\x02" + raw[1:] + day.toordinal().to_bytes(4, "big"))


def parse_occurrence_id(event_id: str) -> tuple[str, dt.date] | None:
    """(master id, local date) of an occurrence id; None for any other id."""
    raw = _decode_id(event_id)
    if raw is None or len(raw) != 21 or raw[0] != 2:
        return None
    try:
        day = dt.date.fromordinal(int.from_bytes(raw[17:], "big"))
    except ValueError:
        return None
    return _encode_id(b"\x01" + raw[1:17]), day


def _ical_uid(base: str, day: dt.date | None) -> str:
    stamp = f"{day.year:04X}{day.month:02X}{day.day:02X}" if day else "00000000"
    return _ICAL_PREFIX + stamp + base


def preview(body: Mapping[str, str]) -> str:
    """`bodyPreview`: the body as text (tags stripped for HTML), whitespace collapsed, ≤ 255 characters."""
    content = body.get("content", "")
    if body.get("contentType") == "html":
        content = html.unescape(_TAG.sub(" ", content))
    return " ".join(content.split())[:255]


@dataclass(frozen=True)
class EventRecord:
    """One event as Exchange stores it: a single instance, a series master or an exception."""

    id: str
    calendar_id: str
    ical_base: str
    created: dt.datetime
    modified: dt.datetime
    change_key: str
    version: int
    subject: str
    body: Mapping[str, str]
    start: dt.datetime  # aware, in `start_zone`
    end: dt.datetime  # aware, in `end_zone`
    start_zone: str
    end_zone: str
    is_all_day: bool
    show_as: str
    organizer: Mapping[str, Any]
    type: str = "singleInstance"
    is_cancelled: bool = False
    importance: str = "normal"
    sensitivity: str = "normal"
    categories: tuple[str, ...] = ()
    location: Mapping[str, Any] = field(default_factory=dict)
    attendees: tuple[Mapping[str, Any], ...] = ()
    transaction_id: str | None = None
    recurrence: Mapping[str, Any] | None = None
    extended: tuple[tuple[str, str], ...] = ()
    is_reminder_on: bool = True
    reminder_minutes: int = 15
    response_requested: bool = True
    series_master_id: str | None = None
    original_start: dt.datetime | None = None

    @property
    def etag(self) -> str:
        return f'W/"{self.change_key}"'

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    @property
    def ical_uid(self) -> str:
        day = self.original_start.date() if self.original_start and self.type != "seriesMaster" else None
        return _ical_uid(self.ical_base, day)

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.start < end and self.end > start

    def to_json(self, label: str, *, stub: bool = False, extended_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """The event as Graph returns it, times in zone `label`. `stub` renders what delta sends for
        an unchanged occurrence (id, type, seriesMasterId, start, end); `extended_ids` are the
        `singleValueExtendedProperties` an `$expand` asked for (None: not expanded)."""
        start, end = self._times(label)
        head: dict[str, Any] = {"@odata.type": "#microsoft.graph.event", "@odata.etag": self.etag, "id": self.id}
        if stub:
            return head | {"type": self.type, "seriesMasterId": self.series_master_id, "start": start, "end": end}
        locations = [self.location] if self.location.get("displayName") else []
        body: dict[str, Any] = head | {
            "createdDateTime": utc_timestamp(self.created),
            "lastModifiedDateTime": utc_timestamp(self.modified),
            "changeKey": self.change_key,
            "categories": list(self.categories),
            "transactionId": self.transaction_id,
            "originalStartTimeZone": self.start_zone,
            "originalEndTimeZone": self.end_zone,
            "iCalUId": self.ical_uid,
            "reminderMinutesBeforeStart": self.reminder_minutes,
            "isReminderOn": self.is_reminder_on,
            "hasAttachments": False,
            "subject": self.subject,
            "bodyPreview": preview(self.body),
            "importance": self.importance,
            "sensitivity": self.sensitivity,
            "isAllDay": self.is_all_day,
            "isCancelled": self.is_cancelled,
            "isOrganizer": True,
            "responseRequested": self.response_requested,
            "seriesMasterId": self.series_master_id,
            "showAs": self.show_as,
            "type": self.type,
            "webLink": f"https://outlook.office365.com/owa/?itemid={self.id}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": True,
            "isDraft": False,
            "hideAttendees": False,
            "responseStatus": {"response": "organizer", "time": NO_RESPONSE_TIME},
            "body": dict(self.body),
            "start": start,
            "end": end,
            "location": dict(self.location) or _empty_location(),
            "locations": locations,
            "recurrence": _json_copy(self.recurrence) if self.type == "seriesMaster" else None,
            "attendees": [_json_copy(attendee) for attendee in self.attendees],
            "organizer": _json_copy(self.organizer),
            "onlineMeeting": None,
        }
        if extended_ids is not None:
            wanted = {name.casefold() for name in extended_ids}
            values = [{"id": key, "value": value} for key, value in self.extended if key.casefold() in wanted]
            if values:
                body["singleValueExtendedProperties"] = values
        return body

    def _times(self, label: str) -> tuple[dict[str, str], dict[str, str]]:
        if self.is_all_day:
            return render_floating(self.start.date(), label), render_floating(self.end.date(), label)
        return render(self.start, label), render(self.end, label)


def _empty_location() -> dict[str, Any]:
    return {"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}}


def _json_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_copy(item) for item in value]
    return value


@dataclass(frozen=True)
class Calendar:
    id: str
    name: str
    change_key: str
    is_default: bool
    color: str = "auto"

    def to_json(self, owner: Mapping[str, str]) -> dict[str, Any]:
        return {
            "@odata.id": f"https://graph.microsoft.com/v1.0/me/calendars('{self.id}')",
            "id": self.id,
            "name": self.name,
            "color": self.color,
            "hexColor": "",
            "isDefaultCalendar": self.is_default,
            "changeKey": self.change_key,
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": not self.is_default,
            "owner": dict(owner),
        }


@dataclass(frozen=True)
class Removed:
    """An instance the client must drop (`{"@removed": {"reason": "deleted"}, "id"}`)."""

    id: str

    def to_json(self) -> dict[str, Any]:
        return {"@odata.type": "#microsoft.graph.event", "id": self.id, "@removed": {"reason": "deleted"}}


@dataclass(frozen=True)
class DeltaItem:
    """An instance a delta page sends: in full, or as a stub for an unchanged occurrence."""

    event: EventRecord
    stub: bool


@dataclass
class DeltaRound:
    """One round of `calendarView/delta`: what its pages send, and the state its deltaLink saves."""

    window: tuple[dt.datetime, dt.datetime]
    items: list[DeltaItem | Removed]
    snapshot: dict[str, str]
    version: int
    page_size: int | None


@dataclass(frozen=True)
class SkipState:
    round: DeltaRound
    offset: int


@dataclass(frozen=True)
class DeltaState:
    window: tuple[dt.datetime, dt.datetime]
    snapshot: Mapping[str, str]
    version: int


@dataclass
class _Series:
    exceptions: dict[dt.date, EventRecord] = field(default_factory=dict)
    cancelled: set[dt.date] = field(default_factory=set)


class Mailbox:
    """One user's calendars and events. Thread-safe: HTTP handlers and the control API share it."""

    def __init__(self, login: str, user_id: str, *, time_zone: str = UTC_NAME) -> None:
        self.login = login
        self.user_id = user_id
        self.time_zone = time_zone
        self._lock = threading.RLock()
        self._version = 0
        self._key_prefix = secrets.token_bytes(12)
        self._calendars: dict[str, Calendar] = {}
        self._events: dict[str, EventRecord] = {}  # single instances and series masters
        self._series: dict[str, _Series] = {}
        self._journal: list[tuple[int, str]] = []  # (version, id) of writes to single instances
        self._transaction_ids: set[str] = set()
        self._tokens: dict[str, SkipState | DeltaState] = {}
        self.default_calendar = self.add_calendar("Calendar", is_default=True)

    # -- identity ------------------------------------------------------------------------------

    @property
    def display_name(self) -> str:
        local = self.login.split("@")[0]
        return " ".join(part.capitalize() for part in re.split(r"[._-]", local) if part) or self.login

    @property
    def email_address(self) -> dict[str, str]:
        return {"name": self.display_name, "address": self.login}

    # -- calendars -----------------------------------------------------------------------------

    def add_calendar(self, name: str, *, is_default: bool = False) -> Calendar:
        with self._lock:
            calendar = Calendar(
                id=_encode_id(b"\x03" + secrets.token_bytes(16)), name=name, change_key=self._change_key(),
                is_default=is_default,
            )  # fmt: skip
            self._calendars[calendar.id] = calendar
            return calendar

    def calendars(self) -> list[Calendar]:
        with self._lock:
            return list(self._calendars.values())

    def calendar(self, calendar_id: str) -> Calendar:
        with self._lock:
            calendar = self._calendars.get(calendar_id)
        if calendar is None:
            raise not_found()
        return calendar

    # -- reading -------------------------------------------------------------------------------

    def events(self, calendar_id: str | None = None) -> list[EventRecord]:
        """Single instances and series masters (what `GET /me/events` lists), oldest first."""
        with self._lock:
            calendar_id = calendar_id or self.default_calendar.id
            return [event for event in self._events.values() if event.calendar_id == calendar_id]

    def get(self, event_id: str) -> EventRecord:
        """Any event by id: a stored one, an exception or an expanded occurrence; else 404."""
        with self._lock:
            event = self._events.get(event_id)
            if event is not None:
                return event
            parsed = parse_occurrence_id(event_id)
            if parsed is None or parsed[0] not in self._events:
                raise not_found()
            instance = self._instance_on(self._events[parsed[0]], parsed[1])
            if instance is None:
                raise not_found()
            return instance

    def instances(
        self, start: dt.datetime, end: dt.datetime, *, calendar_id: str | None = None, master_id: str | None = None
    ) -> list[EventRecord]:
        """What `calendarView` (or a master's `instances`) shows in [start, end): single instances,
        occurrences and exceptions, never masters; ordered by start, then id."""
        with self._lock:
            calendar_id = calendar_id or self.default_calendar.id
            found: list[EventRecord] = []
            for event in self._events.values():
                if master_id is not None and event.id != master_id:
                    continue
                if master_id is None and event.calendar_id != calendar_id:
                    continue
                if event.type == "seriesMaster":
                    found += self._expand(event, start, end)
                elif master_id is None and event.overlaps(start, end):
                    found.append(event)
        return sorted(found, key=lambda event: (event.start, event.id))

    def _expand(self, master: EventRecord, start: dt.datetime, end: dt.datetime) -> list[EventRecord]:
        series = self._series[master.id]
        assert master.recurrence is not None
        found: list[EventRecord] = []
        for day, exception in series.exceptions.items():
            if exception.overlaps(start, end) and day not in series.cancelled:
                found.append(exception)
        widened = (start - dt.timedelta(days=7), end + dt.timedelta(days=7))  # exceptions may have moved
        for occurrence_start in rec.expand(master.recurrence, master.start, master.duration, *widened):
            day = occurrence_start.date()
            if day in series.exceptions or day in series.cancelled:
                continue
            occurrence = self._occurrence(master, occurrence_start)
            if occurrence.overlaps(start, end):
                found.append(occurrence)
        return found

    def _occurrence(self, master: EventRecord, start: dt.datetime) -> EventRecord:
        if master.is_all_day:  # floating days: the same number of local midnights later
            days = master.end.replace(tzinfo=None) - master.start.replace(tzinfo=None)
            end = (start.replace(tzinfo=None) + days).replace(tzinfo=master.end.tzinfo)
        else:  # the same elapsed time, whatever the zones' offsets do meanwhile
            end = (start.astimezone(dt.UTC) + master.duration).astimezone(master.end.tzinfo)
        return replace(
            master,
            id=occurrence_id(master.id, start.date()),
            type="occurrence",
            series_master_id=master.id,
            start=start,
            end=end,
            recurrence=None,
            original_start=start,
        )

    def _instance_on(self, master: EventRecord, day: dt.date) -> EventRecord | None:
        series = self._series.get(master.id)
        if series is None or day in series.cancelled:
            return None
        if day in series.exceptions:
            return series.exceptions[day]
        assert master.recurrence is not None
        start = rec.occurrence_on(master.recurrence, master.start, day)
        return None if start is None else self._occurrence(master, start)

    # -- writing -------------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any], *, calendar_id: str | None = None, now: dt.datetime) -> EventRecord:
        """`POST /me/events`: validate the Graph event JSON and store it (a series when it has a
        recurrence). Raises `GraphError`."""
        with self._lock:
            calendar = self.calendar(calendar_id) if calendar_id else self.default_calendar
            transaction_id = body.get("transactionId")
            if transaction_id is not None and (not isinstance(transaction_id, str) or not transaction_id):
                raise invalid_request("transactionId must be a non-empty string.")
            if transaction_id in self._transaction_ids:
                raise GraphError(
                    400, "ErrorDuplicateTransactionId",
                    f"Your request can't be completed. The transaction ID '{transaction_id}' has already been used "
                    "to create a different event.",
                )  # fmt: skip
            version = self._next_version()
            base = EventRecord(
                id=_encode_id(b"\x01" + self._key_prefix + version.to_bytes(4, "big")),
                calendar_id=calendar.id,
                ical_base=secrets.token_hex(20).upper() + "00",
                created=now,
                modified=now,
                change_key=self._change_key(version),
                version=version,
                subject="",
                body={"contentType": "html", "content": ""},
                start=now,
                end=now,
                start_zone=UTC_NAME,
                end_zone=UTC_NAME,
                is_all_day=False,
                show_as="busy",
                organizer={"emailAddress": self.email_address},
                transaction_id=transaction_id,
            )
            event = self._apply(base, body, creating=True)
            if "start" not in body or "end" not in body:
                raise invalid_request("Your request can't be completed. An event needs a start and an end.")
            self._store(event)
            if transaction_id:
                self._transaction_ids.add(transaction_id)
            return event

    def update(
        self, event_id: str, body: Mapping[str, Any], *, now: dt.datetime, if_match: str | None = None
    ) -> EventRecord:
        """`PATCH /me/events/{id}`: a master (the series), a single instance, or an occurrence (which
        becomes an exception). `if_match` must be the current etag (else 412). Raises `GraphError`."""
        with self._lock:
            current = self.get(event_id)
            _check_etag(current, if_match)
            if "transactionId" in body and body["transactionId"] != current.transaction_id:
                raise invalid_request("Your request can't be completed. The transactionId can't be changed.")
            version = self._next_version()
            changed = self._apply(current, body, creating=False)
            changed = replace(changed, modified=now, change_key=self._change_key(version), version=version)
            if current.type in ("occurrence", "exception"):
                assert current.series_master_id is not None and current.original_start is not None
                if "recurrence" in body and body["recurrence"] is not None:
                    raise invalid_request("Your request can't be completed. An occurrence can't have a recurrence.")
                exception = replace(changed, type="exception")
                self._series[current.series_master_id].exceptions[current.original_start.date()] = exception
                return exception
            if current.type == "seriesMaster" and {"start", "end", "recurrence"} & body.keys():
                self._series[current.id] = _Series()  # a new pattern or time drops the old exceptions
            if changed.recurrence is None and current.type == "seriesMaster":
                changed = replace(changed, type="singleInstance")
                self._series.pop(current.id, None)
            self._store(changed)
            return changed

    def delete(self, event_id: str, *, if_match: str | None = None) -> None:
        """`DELETE /me/events/{id}`: the event, the whole series (a master), or one occurrence."""
        with self._lock:
            current = self.get(event_id)
            _check_etag(current, if_match)
            version = self._next_version()
            if current.type in ("occurrence", "exception"):
                assert current.series_master_id is not None and current.original_start is not None
                series = self._series[current.series_master_id]
                day = current.original_start.date()
                series.exceptions.pop(day, None)
                series.cancelled.add(day)
                return
            del self._events[current.id]
            self._series.pop(current.id, None)
            if current.type == "singleInstance":  # a series' occurrences leave through the snapshot diff
                self._journal.append((version, current.id))

    def cancel(self, event_id: str, *, now: dt.datetime) -> EventRecord:
        """The organizer cancelled the meeting: it stays in the calendar with `isCancelled` true."""
        return self.update(event_id, {"isCancelled": True}, now=now)

    def _store(self, event: EventRecord) -> None:
        self._events[event.id] = event
        if event.type == "seriesMaster":
            self._series.setdefault(event.id, _Series())
        else:
            self._journal.append((event.version, event.id))

    def _apply(self, base: EventRecord, body: Mapping[str, Any], *, creating: bool) -> EventRecord:
        """`base` with the writable properties of a Graph event JSON applied; raises `GraphError`."""
        if not isinstance(body, Mapping):
            raise invalid_request("The request body must be a JSON object.")
        unknown = [name for name in body if name not in _WRITABLE and name not in _IGNORED]
        if unknown:
            raise GraphError(
                400, "RequestBodyRead",
                f"The property '{unknown[0]}' does not exist on type 'Microsoft.OutlookServices.Event'. Make sure "
                "to only use property names that are defined by the type or mark the type as open type.",
            )  # fmt: skip
        changes: dict[str, Any] = {}
        try:
            if "subject" in body:
                changes["subject"] = _string(body, "subject")
            if "body" in body:
                item = body["body"] or {}
                kind = str(item.get("contentType", "text")).casefold()
                if kind not in ("text", "html"):
                    raise invalid_request(f"Requested value '{item.get('contentType')}' was not found.")
                changes["body"] = {"contentType": kind, "content": str(item.get("content") or "")}
            if "start" in body:
                changes["start"], changes["start_zone"] = parse_date_time_time_zone(body["start"])
            if "end" in body:
                changes["end"], changes["end_zone"] = parse_date_time_time_zone(body["end"])
        except TimeZoneNotSupported as error:
            raise GraphError(400, "TimeZoneNotSupportedException", str(error)) from None
        except ValueError as error:
            raise GraphError(400, "RequestBodyRead", str(error)) from None
        for name, attribute, allowed in (
            ("showAs", "show_as", SHOW_AS),
            ("importance", "importance", IMPORTANCE),
            ("sensitivity", "sensitivity", SENSITIVITY),
        ):
            if name in body:
                if body[name] not in allowed:
                    raise GraphError(400, "RequestBodyRead", f"Requested value '{body[name]}' was not found.")
                changes[attribute] = body[name]
        for name, attribute in (
            ("isAllDay", "is_all_day"), ("isCancelled", "is_cancelled"), ("isReminderOn", "is_reminder_on"),
            ("responseRequested", "response_requested"),
        ):  # fmt: skip
            if name in body:
                if not isinstance(body[name], bool):
                    message = f"Cannot convert a value to target type 'Edm.Boolean' ({name})."
                    raise GraphError(400, "RequestBodyRead", message)
                changes[attribute] = body[name]
        if "reminderMinutesBeforeStart" in body:
            changes["reminder_minutes"] = int(body["reminderMinutesBeforeStart"] or 0)
        if "categories" in body:
            changes["categories"] = tuple(str(category) for category in body["categories"] or [])
        if "location" in body:
            changes["location"] = _location(body["location"])
        elif body.get("locations"):
            changes["location"] = _location(body["locations"][0])
        if "attendees" in body:
            changes["attendees"] = tuple(_attendee(attendee) for attendee in body["attendees"] or [])
        if "singleValueExtendedProperties" in body:
            changes["extended"] = _extended(base.extended, body["singleValueExtendedProperties"] or [])
        event = replace(base, **changes)
        if event.is_all_day:
            midnight = dt.time()
            if event.start.time() != midnight or event.end.time() != midnight:
                raise invalid_request(
                    "Your request can't be completed. The start and end times of an all-day event must be at midnight."
                )
            if event.end.replace(tzinfo=None) - event.start.replace(tzinfo=None) < dt.timedelta(days=1):
                raise invalid_request("The duration of an event marked as All day must be at least 24 hours.")
        elif event.end < event.start:
            raise invalid_request(
                "Your request can't be completed. The end time of an event can't be before its start."
            )
        if "recurrence" in body:
            if body["recurrence"] is None:
                event = replace(event, recurrence=None)
            else:
                try:
                    pattern = rec.normalise(body["recurrence"], start=event.start.date(), time_zone=event.start_zone)
                except rec.InvalidRecurrence as error:
                    raise invalid_request(str(error)) from None
                event = replace(event, recurrence=pattern, type="seriesMaster")
        elif creating:
            event = replace(event, type="singleInstance")
        return event

    # -- change tracking -----------------------------------------------------------------------

    def begin_delta(self, start: dt.datetime, end: dt.datetime, *, page_size: int | None) -> str:
        """The first call of a round (no token): every instance of the window → a skip token."""
        with self._lock:
            current = self.instances(start, end)
            items: list[DeltaItem | Removed] = [
                DeltaItem(event, stub=event.type == "occurrence") for event in current if not event.is_cancelled
            ]
            snapshot = {event.id: event.change_key for event in current if not event.is_cancelled}
            return self._issue(SkipState(DeltaRound((start, end), items, snapshot, self._version, page_size), 0))

    def resume_delta(self, token: str, *, page_size: int | None) -> str:
        """Follow a deltaLink: the changes since it (a new round) → a skip token; 410 when expired."""
        with self._lock:
            state = self._tokens.get(token)
            if not isinstance(state, DeltaState):
                raise sync_state_not_found()
            start, end = state.window
            current = [event for event in self.instances(start, end) if not event.is_cancelled]
            seen = state.snapshot
            items: list[DeltaItem | Removed] = [
                DeltaItem(event, stub=event.type == "occurrence")
                for event in current
                if seen.get(event.id) != event.change_key
            ]
            current_ids = {event.id for event in current}
            removed = [event_id for event_id in seen if event_id not in current_ids]
            outside = [
                event_id
                for version, event_id in self._journal
                if version > state.version and event_id not in current_ids and event_id not in seen
            ]
            items += [Removed(event_id) for event_id in dict.fromkeys(removed + outside)]
            snapshot = {event.id: event.change_key for event in current}
            return self._issue(SkipState(DeltaRound(state.window, items, snapshot, self._version, page_size), 0))

    def delta_page(self, token: str, *, page_size: int | None) -> tuple[list[DeltaItem | Removed], str, bool]:
        """One page of a round: (items, the next token, whether it is the deltaLink's)."""
        with self._lock:
            state = self._tokens.get(token)
            if not isinstance(state, SkipState):
                raise sync_state_not_found()
            size = page_size or state.round.page_size or DEFAULT_DELTA_PAGE_SIZE
            items = state.round.items[state.offset : state.offset + size]
            following = state.offset + size
            if following < len(state.round.items):
                return items, self._issue(SkipState(state.round, following)), False
            done = state.round
            return items, self._issue(DeltaState(done.window, done.snapshot, done.version)), True

    def expire_sync_tokens(self) -> int:
        """Every skip and delta token of the mailbox dies (the next use answers 410); returns how many."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    def _issue(self, state: SkipState | DeltaState) -> str:
        token = secrets.token_urlsafe(24)
        self._tokens[token] = state
        return token

    # -- internals -----------------------------------------------------------------------------

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    def _change_key(self, version: int | None = None) -> str:
        counter = (version if version is not None else self._next_version()).to_bytes(4, "big")
        return base64.b64encode(self._key_prefix[:12] + counter + secrets.token_bytes(1)).decode()

    # -- the truth (control API) ---------------------------------------------------------------

    def truth(self) -> dict[str, Any]:
        """Everything stored, in UTC: calendars, events (masters with their exceptions and cancelled dates)."""
        with self._lock:
            events = []
            for event in self._events.values():
                entry = event.to_json(UTC_NAME, extended_ids=[key for key, _ in event.extended])
                series = self._series.get(event.id)
                if series is not None:
                    entry["exceptions"] = [exception.to_json(UTC_NAME) for exception in series.exceptions.values()]
                    entry["cancelledOccurrences"] = sorted(day.isoformat() for day in series.cancelled)
                events.append(entry)
            return {
                "login": self.login,
                "calendars": [calendar.to_json(self.email_address) for calendar in self._calendars.values()],
                "events": events,
            }


DEFAULT_DELTA_PAGE_SIZE = 10


def _check_etag(event: EventRecord, if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    tags = [tag.strip() for tag in if_match.split(",")]
    if event.etag not in tags and event.change_key not in tags:
        raise GraphError(
            412, "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the request "
            "does not match the current change key for the item.",
        )  # fmt: skip


def _string(body: Mapping[str, Any], name: str) -> str:
    value = body[name]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"Cannot convert a value of property '{name}' to 'Edm.String'.")
    return value


def _location(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise GraphError(400, "RequestBodyRead", "location must be an object.")
    name = str(value.get("displayName") or "")
    return (
        _empty_location()
        | {key: _json_copy(item) for key, item in value.items() if not key.startswith("@")}
        | {"displayName": name}
    )


def _attendee(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("emailAddress"), Mapping):
        raise GraphError(400, "RequestBodyRead", "An attendee needs an emailAddress.")
    address = value["emailAddress"]
    if not address.get("address"):
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
    kind = value.get("type") or "required"
    if kind not in ATTENDEE_TYPES:
        raise GraphError(400, "RequestBodyRead", f"Requested value '{kind}' was not found.")
    status = value.get("status") or {}
    response = status.get("response") or "none"
    if response not in RESPONSES:
        raise GraphError(400, "RequestBodyRead", f"Requested value '{response}' was not found.")
    return {
        "type": kind,
        "status": {"response": response, "time": status.get("time") or NO_RESPONSE_TIME},
        "emailAddress": {"name": str(address.get("name") or address["address"]), "address": str(address["address"])},
    }


def _extended(current: tuple[tuple[str, str], ...], values: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    merged = dict(current)
    for value in values:
        if not isinstance(value, Mapping) or not _EXTENDED_ID.match(str(value.get("id", ""))):
            raise GraphError(
                400, "ErrorInvalidProperty",
                "The extended property id is not valid: expected '{type} {guid} Name {name}' "
                "or '{type} {guid} Id 0x…'.",
            )  # fmt: skip
        key = " ".join(str(value["id"]).split())
        existing = next((name for name in merged if name.casefold() == key.casefold()), key)
        merged[existing] = str(value.get("value", ""))
    return tuple(merged.items())


# -- seeding ------------------------------------------------------------------------------------

SEED_TIME_ZONES = ("Pacific Standard Time", "Eastern Standard Time", "GMT Standard Time", "W. Europe Standard Time",
                   "India Standard Time", "AUS Eastern Standard Time", "UTC")  # fmt: skip
_SUBJECTS = ("Interview: {name}", "1:1 with {name}", "Hiring sync", "Candidate debrief", "Team standup",
             "Portfolio review with {name}", "Phone screen: {name}", "Lunch", "Focus time",
             "Onsite loop: {name}")  # fmt: skip
_NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Linus Torvalds", "Margaret Hamilton",
          "Dennis Ritchie", "Barbara Liskov", "Ken Thompson", "Frances Allen")  # fmt: skip
_ROOMS = ("Room 1", "Room 2", "Board room", "Microsoft Teams Meeting", "")


def seed_events(
    mailbox: Mailbox,
    *,
    count: int,
    seed: int,
    now: dt.datetime,
    days: int = 30,
    recurring: int = 2,
    all_day: int = 1,
    calendar_id: str | None = None,
) -> list[EventRecord]:
    """Add `count` single events spread over `days` days around `now` in several time zones, plus
    `recurring` weekly/daily series and `all_day` all-day events. Same seed, same events
    (subjects, times, zones, attendees); only ids and change keys are fresh."""
    draw = random.Random(seed)
    today = now.astimezone(dt.UTC).date()
    created: list[EventRecord] = []

    def attendees() -> list[dict[str, Any]]:
        people = draw.sample(_NAMES, draw.randint(0, 3))
        return [
            {
                "type": draw.choice(("required", "required", "optional")),
                "status": {"response": draw.choice(("none", "accepted", "tentativelyAccepted", "declined")),
                           "time": NO_RESPONSE_TIME},
                "emailAddress": {"name": person, "address": person.lower().replace(" ", ".") + "@candidates.example"},
            }
            for person in people
        ]  # fmt: skip

    def subject() -> str:
        return draw.choice(_SUBJECTS).format(name=draw.choice(_NAMES))

    def local(day: dt.date, hour: int, minute: int) -> str:
        return dt.datetime.combine(day, dt.time(hour, minute)).isoformat()

    for _ in range(count):
        tz = draw.choice(SEED_TIME_ZONES)
        day = today + dt.timedelta(days=draw.randint(-days // 2, days // 2))
        hour, minute = draw.randint(8, 17), draw.choice((0, 15, 30, 45))
        start = dt.datetime.combine(day, dt.time(hour, minute))
        end = start + dt.timedelta(minutes=draw.choice((15, 30, 45, 60, 90)))
        body = {
            "subject": subject(),
            "body": {"contentType": "html", "content": f"<p>{subject()}</p>"},
            "start": {"dateTime": start.isoformat(), "timeZone": tz},
            "end": {"dateTime": end.isoformat(), "timeZone": tz},
            "showAs": draw.choice(("busy", "busy", "busy", "tentative", "free", "oof")),
            "location": {"displayName": draw.choice(_ROOMS)},
            "attendees": attendees(),
        }
        created.append(mailbox.create(body, calendar_id=calendar_id, now=now))
    for index in range(recurring):
        tz = SEED_TIME_ZONES[index % len(SEED_TIME_ZONES)]
        first = today - dt.timedelta(days=draw.randint(0, 14))
        weekly = index % 2 == 0
        pattern: dict[str, Any] = (
            {"type": "weekly", "interval": 1, "daysOfWeek": [first.strftime("%A").lower()], "firstDayOfWeek": "sunday"}
            if weekly
            else {"type": "daily", "interval": 1}
        )
        created.append(mailbox.create({
            "subject": "Weekly hiring sync" if weekly else "Daily standup",
            "start": {"dateTime": local(first, 9, 30), "timeZone": tz},
            "end": {"dateTime": local(first, 10, 0), "timeZone": tz},
            "recurrence": {"pattern": pattern, "range": {"type": "noEnd" if weekly else "numbered",
                           "startDate": first.isoformat(), "numberOfOccurrences": 0 if weekly else 20}},
            "attendees": attendees(),
        }, calendar_id=calendar_id, now=now))  # fmt: skip
    for _ in range(all_day):
        day = today + dt.timedelta(days=draw.randint(-days // 2, days // 2))
        created.append(mailbox.create({
            "subject": draw.choice(("Company offsite", "Public holiday", "Out of office")),
            "isAllDay": True,
            "showAs": "oof",
            "start": {"dateTime": local(day, 0, 0), "timeZone": mailbox.time_zone},
            "end": {"dateTime": local(day + dt.timedelta(days=1), 0, 0), "timeZone": mailbox.time_zone},
        }, calendar_id=calendar_id, now=now))  # fmt: skip
    return created
