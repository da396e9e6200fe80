"""Google Calendar v3 events → Lineup's `CalendarEvent`.

Google's facts this relies on (Calendar API v3 Events resource): `start`/`end` hold either a
`dateTime` (RFC 3339, with an offset) and an optional `timeZone`, or an all-day `date` whose end is
exclusive; `transparency: transparent` means the event does not block time (opaque is the
default); an instance of a recurring series names it in `recurringEventId` and its slot in
`originalStartTime`; attendees answer in `responseStatus` (needsAction, declined, tentative,
accepted), and the calendar owner's own entry carries `self: true`. Cancelled events arrive from
incremental syncs with little more than their id: the sync deletes them, they are not normalised.
"""

from __future__ import annotations

from typing import Any

from lineup_integrations.calendar.events import Attendee, CalendarEvent, EventStatus, Response
from lineup_integrations.calendar.times import EventTime, event_time, parse_instant

_RESPONSES = {
    "needsAction": Response.NEEDS_ACTION,
    "accepted": Response.ACCEPTED,
    "declined": Response.DECLINED,
    "tentative": Response.TENTATIVE,
}


def _time(value: dict[str, Any], calendar_zone: str) -> EventTime:
    return event_time(
        date_time=value.get("dateTime"),
        date=value.get("date"),
        zone_name=value.get("timeZone"),
        calendar_zone=calendar_zone,
    )


def normalize_event(
    item: dict[str, Any], *, integration_id: str, calendar_id: str, calendar_zone: str
) -> CalendarEvent:
    """A non-cancelled Google event (or instance) as Lineup's event; `calendar_zone` is the
    calendar's own `timeZone`, which all-day dates and zone-less times are read in."""
    if item.get("status") == EventStatus.CANCELLED:
        raise ValueError(f"event {item.get('id')!r} is cancelled: delete it, do not normalise it")
    start, end = _time(item["start"], calendar_zone), _time(item["end"], calendar_zone)
    attendees = tuple(
        Attendee(email=a["email"], response=_RESPONSES.get(a.get("responseStatus", ""), Response.NEEDS_ACTION),
                 optional=bool(a.get("optional")), organizer=bool(a.get("organizer")))
        for a in item.get("attendees", ()) if a.get("email")
    )  # fmt: skip
    declined_by_owner = any(a.get("self") and a.get("responseStatus") == "declined" for a in item.get("attendees", ()))
    original = item.get("originalStartTime")
    return CalendarEvent(
        integration_id=integration_id,
        calendar_id=calendar_id,
        event_id=item["id"],
        ical_uid=item.get("iCalUID"),
        start_utc=start.utc,
        end_utc=end.utc,
        start_zone=start.zone,
        end_zone=end.zone,
        all_day=start.all_day,
        status=EventStatus(item.get("status", EventStatus.CONFIRMED)),
        busy=item.get("transparency", "opaque") != "transparent" and not declined_by_owner,
        series_id=item.get("recurringEventId"),
        original_start_utc=_time(original, calendar_zone).utc if original else None,
        attendees=attendees,
        updated_at=parse_instant(item["updated"]) if item.get("updated") else None,
        etag=item.get("etag"),
    )
