"""Generated calendar content for the Google sandbox: plausible events, the same for the same seed.

What a recruiter's calendar holds, in the shapes an inbound sync must handle: timed events in many
time zones, multi-day all-day events (end exclusive), weekly and daily series (INTERVAL, COUNT,
UNTIL, BYDAY), attendees with every response status, free ("transparent") events, private and
shared extended properties. Times are laid out around an `anchor` date (default: today on the
sandbox clock), so a seed reproduces the same calendar relative to that day; ids come from the
seeded generator too.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

from lineup_integrations.google_calendar.sandbox.events import BASE32HEX, RESPONSE_STATUSES

TIME_ZONES: tuple[str, ...] = (
    "UTC", "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Europe/London",
    "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
)  # fmt: skip
_PEOPLE: tuple[str, ...] = (
    "ada.lovelace", "grace.hopper", "alan.turing", "katherine.johnson", "edsger.dijkstra", "barbara.liskov",
    "donald.knuth", "margaret.hamilton", "ken.thompson", "radia.perlman",
)  # fmt: skip
_ROLES: tuple[str, ...] = ("Backend Engineer", "Product Designer", "Data Scientist", "Engineering Manager", "SRE")
_TITLES: tuple[str, ...] = ("Team sync", "1:1", "Hiring debrief", "Lunch", "Focus time", "Pipeline review")
_RULES: tuple[str, ...] = (
    "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12",
    "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
    "RRULE:FREQ=DAILY;INTERVAL=1;COUNT=10",
    "RRULE:FREQ=DAILY;INTERVAL=2;UNTIL={until}",
    "RRULE:FREQ=WEEKLY;BYDAY=TH;UNTIL={until}",
)


def seed_bodies(
    count: int,
    *,
    seed: int,
    anchor: dt.date,
    days_back: int,
    days_ahead: int,
    time_zones: tuple[str, ...] = TIME_ZONES,
    recurring_share: float = 0.2,
    all_day_share: float = 0.15,
    domain: str = "example.com",
) -> list[dict[str, Any]]:
    """`count` insert bodies (each with a client `id`) for a calendar; deterministic per `seed` and `anchor`."""
    draw = random.Random(seed)
    bodies: list[dict[str, Any]] = []
    for _ in range(count):
        event_id = "".join(draw.choice(BASE32HEX) for _ in range(26))
        day = anchor + dt.timedelta(days=draw.randint(-days_back, days_ahead))
        kind = draw.random()
        if kind < all_day_share:
            body = _all_day(draw, day)
        else:
            body = _timed(draw, day, draw.choice(time_zones), domain)
            if kind < all_day_share + recurring_share:
                until = (day + dt.timedelta(days=draw.randint(14, 60))).strftime("%Y%m%d")
                body["recurrence"] = [draw.choice(_RULES).format(until=until)]
        bodies.append({"id": event_id} | body)
    return bodies


def _all_day(draw: random.Random, day: dt.date) -> dict[str, Any]:
    days = draw.choice((1, 1, 1, 2, 3))
    return {
        "summary": draw.choice(("Out of office", "Company offsite", "Conference", "Public holiday")),
        "start": {"date": day.isoformat()},
        "end": {"date": (day + dt.timedelta(days=days)).isoformat()},  # exclusive
        "transparency": draw.choice(("opaque", "transparent")),
    }


def _timed(draw: random.Random, day: dt.date, zone_name: str, domain: str) -> dict[str, Any]:
    zone = ZoneInfo(zone_name)
    start = dt.datetime.combine(day, dt.time(draw.randint(8, 17), draw.choice((0, 15, 30, 45))), zone)
    end = start + dt.timedelta(minutes=draw.choice((15, 30, 45, 60, 90)))
    body: dict[str, Any] = {
        "start": {"dateTime": start.isoformat(), "timeZone": zone_name},
        "end": {"dateTime": end.isoformat(), "timeZone": zone_name},
    }
    if draw.random() < 0.4:
        candidate = draw.choice(_PEOPLE)
        body["summary"] = f"Interview: {candidate.replace('.', ' ').title()} ({draw.choice(_ROLES)})"
        body["location"] = draw.choice(("Zoom", "Room 4.01", "Google Meet", "Phone"))
        body["extendedProperties"] = {"private": {"lineupSeed": "1"}, "shared": {"kind": "interview"}}
    else:
        body["summary"] = draw.choice(_TITLES)
    if draw.random() < 0.6:
        guests = draw.sample(_PEOPLE, draw.randint(1, 3))
        body["attendees"] = [
            {"email": f"{guest}@{domain}", "responseStatus": draw.choice(RESPONSE_STATUSES)}
            | ({"optional": True} if draw.random() < 0.2 else {})
            for guest in guests
        ]
    if draw.random() < 0.1:
        body["transparency"] = "transparent"
    if draw.random() < 0.1:
        body["visibility"] = "private"
    return body
