"""Microsoft Graph events → Lineup's `CalendarEvent`.

Graph's facts this relies on (v1.0 event resource): `start`/`end` are a `dateTime` without
offset (up to 7 fractional digits) in the `timeZone` beside it — the zone the `Prefer:
outlook.timezone` header asked for, UTC by default; `isAllDay` events run from midnight to
midnight and their dates are read in the event's own `originalStartTimeZone`; `showAs` (free,
tentative, busy, oof, workingElsewhere, unknown) says whether time is blocked; `type` is
singleInstance, occurrence, exception or seriesMaster, and occurrences and exceptions name their
series in `seriesMasterId` and their slot in `originalStart`; attendees answer in
`status.response` (none, organizer, tentativelyAccepted, accepted, declined, notResponded), the
owner's own answer is `responseStatus`. Series masters are not events on the calendar: only their
occurrences are (calendarView expands them).
"""

from __future__ import annotations

from typing import Any

from lineup_integrations.calendar.events import Attendee, CalendarEvent, EventStatus, Response
from lineup_integrations.calendar.times import EventTime, event_time, parse_instant

BUSY_SHOW_AS = frozenset({"busy", "oof", "tentative", "unknown"})  # unknown: block it rather than double-book
_RESPONSES = {
    "accepted": Response.ACCEPTED,
    "organizer": Response.ACCEPTED,
    "declined": Response.DECLINED,
    "tentativelyAccepted": Response.TENTATIVE,
}


def _time(value: dict[str, Any], *, all_day: bool, event_zone: str, calendar_zone: str) -> EventTime:
    if all_day:
        return event_time(
            date_time=None, date=value["dateTime"][:10], zone_name=event_zone, calendar_zone=calendar_zone
        )
    return event_time(
        date_time=value["dateTime"], date=None, zone_name=value.get("timeZone"), calendar_zone=calendar_zone
    )


def normalize_event(
    item: dict[str, Any], *, integration_id: str, calendar_id: str, calendar_zone: str
) -> CalendarEvent:
    """A Graph event (single instance, occurrence or exception) as Lineup's event; `calendar_zone`
    is the mailbox's zone, which zone-less data is read in."""
    if item.get("type") == "seriesMaster":
        raise ValueError(f"event {item.get('id')!r} is a series master: normalise its occurrences")
    all_day = bool(item.get("isAllDay"))
    event_zone = item.get("originalStartTimeZone") or calendar_zone
    start = _time(item["start"], all_day=all_day, event_zone=event_zone, calendar_zone=calendar_zone)
    end = _time(
        item["end"],
        all_day=all_day,
        event_zone=item.get("originalEndTimeZone") or event_zone,
        calendar_zone=calendar_zone,
    )
    attendees = tuple(
        Attendee(email=a["emailAddress"]["address"],
                 response=_RESPONSES.get((a.get("status") or {}).get("response", ""), Response.NEEDS_ACTION),
                 optional=a.get("type") == "optional")
        for a in item.get("attendees", ()) if (a.get("emailAddress") or {}).get("address")
    )  # fmt: skip
    owner_response = (item.get("responseStatus") or {}).get("response")
    cancelled = bool(item.get("isCancelled"))
    original = item.get("originalStart")
    return CalendarEvent(
        integration_id=integration_id,
        calendar_id=calendar_id,
        event_id=item["id"],
        ical_uid=item.get("iCalUId"),
        start_utc=start.utc,
        end_utc=end.utc,
        start_zone=start.zone,
        end_zone=end.zone,
        all_day=all_day,
        status=EventStatus.CANCELLED
        if cancelled
        else (EventStatus.TENTATIVE if item.get("showAs") == "tentative" else EventStatus.CONFIRMED),
        busy=item.get("showAs", "busy") in BUSY_SHOW_AS and owner_response != "declined" and not cancelled,
        series_id=item.get("seriesMasterId"),
        original_start_utc=parse_instant(original).astimezone(start.utc.tzinfo) if original else None,
        attendees=attendees,
        updated_at=parse_instant(item["lastModifiedDateTime"]) if item.get("lastModifiedDateTime") else None,
        etag=item.get("@odata.etag"),
    )
