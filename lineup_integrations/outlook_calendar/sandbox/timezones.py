"""Graph's `dateTimeTimeZone` values in the Microsoft sandbox: parsing what clients send, rendering what Graph returns.

Graph names time zones the Windows way ("Pacific Standard Time") and also accepts IANA names
("America/Los_Angeles"); its `dateTime` strings carry **no offset** and 7 fractional digits
(`2016-12-09T20:30:00.0000000`) and are read in the `timeZone` next to them. Returned times are
in UTC unless the request says `Prefer: outlook.timezone="…"`, whose value is echoed as the
`timeZone` label (provider-apis.md §C2). The sandbox keeps a small Windows → IANA table covering
the zones it seeds and the ones clients commonly send; anything else must be an IANA name.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_NAME = "UTC"
WINDOWS_TO_IANA: dict[str, str] = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles",
    "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "E. South America Standard Time": "America/Sao_Paulo",
    "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
}
_WINDOWS_BY_LOWER = {name.casefold(): iana for name, iana in WINDOWS_TO_IANA.items()}
_DATE_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,7}))?)?)?(Z|[+-]\d\d:\d\d)?$")
_PREFER_TIMEZONE = re.compile(r'outlook\.timezone\s*=\s*"([^"]*)"', re.IGNORECASE)
_PREFER_PAGE_SIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


class TimeZoneNotSupported(ValueError):
    """A `timeZone` Graph does not know (Graph: 400 `TimeZoneNotSupportedException`)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'."
        )
        self.name = name


def zone(name: str | None) -> ZoneInfo:
    """The zone a Graph `timeZone` names: a Windows name from the table or an IANA name (UTC when empty)."""
    if not name:
        return ZoneInfo(UTC_NAME)
    iana = _WINDOWS_BY_LOWER.get(name.strip().casefold(), name.strip())
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeZoneNotSupported(name) from None


def parse_local(value: str) -> dt.datetime:
    """A Graph `dateTime` as a naive wall-clock time (an offset, which Graph tolerates, is dropped
    after converting to UTC: callers then read it in UTC). Raises ValueError when malformed."""
    match = _DATE_TIME.match(value.strip())
    if match is None:
        raise ValueError(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTime'.")
    date, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0").ljust(7, "0")[:6])
    moment = dt.datetime.combine(
        dt.date.fromisoformat(date), dt.time(int(hour or 0), int(minute or 0), int(second or 0), micro)
    )
    if offset:
        aware = moment.replace(tzinfo=dt.UTC if offset == "Z" else dt.datetime.strptime(offset, "%z").tzinfo)
        return aware.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def has_offset(value: str) -> bool:
    match = _DATE_TIME.match(value.strip())
    return bool(match and match.group(6))


def parse_date_time_time_zone(value: object) -> tuple[dt.datetime, str]:
    """A `dateTimeTimeZone` object → (aware time, the `timeZone` as given). Raises ValueError or
    `TimeZoneNotSupported`."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise ValueError("A dateTimeTimeZone needs a 'dateTime' string.")
    raw, name = value["dateTime"], value.get("timeZone") or UTC_NAME
    if not isinstance(name, str):
        raise ValueError("'timeZone' must be a string.")
    tz = zone(name)
    local = parse_local(raw)
    return (local.replace(tzinfo=dt.UTC).astimezone(tz) if has_offset(raw) else local.replace(tzinfo=tz)), name


def parse_query_time(value: str) -> dt.datetime:
    """A `startDateTime`/`endDateTime` query value as UTC: without an offset it is read as UTC,
    whatever `Prefer: outlook.timezone` says (pitfalls.md §18)."""
    local = parse_local(value)
    return local.replace(tzinfo=dt.UTC)


def graph_date_time(moment: dt.datetime) -> str:
    """A wall-clock time in Graph's form: no offset, 7 fractional digits."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0"


def utc_timestamp(moment: dt.datetime) -> str:
    """A `DateTimeOffset` (createdDateTime, lastModifiedDateTime) as Graph writes it: UTC, 7 digits, `Z`."""
    return graph_date_time(moment.astimezone(dt.UTC)) + "Z"


def render(moment: dt.datetime, label: str) -> dict[str, str]:
    """`{"dateTime", "timeZone"}` of an aware time in the zone `label` names (a Prefer value or UTC)."""
    return {"dateTime": graph_date_time(moment.astimezone(zone(label))), "timeZone": label}


def render_floating(day: dt.date, label: str) -> dict[str, str]:
    """An all-day boundary: midnight of `day` whatever zone is asked for (pitfalls.md §18)."""
    return {"dateTime": graph_date_time(dt.datetime.combine(day, dt.time())), "timeZone": label}


def preferred_time_zone(prefer: str | None) -> str | None:
    """The `outlook.timezone` of a `Prefer` header (None when absent). Raises `TimeZoneNotSupported`."""
    match = _PREFER_TIMEZONE.search(prefer or "")
    if match is None:
        return None
    zone(match.group(1))
    return match.group(1)


def preferred_page_size(prefer: str | None) -> int | None:
    """The `odata.maxpagesize` of a `Prefer` header (None when absent or not positive)."""
    match = _PREFER_PAGE_SIZE.search(prefer or "")
    return int(match.group(1)) or None if match else None
