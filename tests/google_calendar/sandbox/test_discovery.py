"""The sandbox's Calendar API checked against Google's own description of it: the discovery document
`calendar.v3.json` that ships with google-api-python-client (routes, enums, page sizes, scopes)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from googleapiclient import discovery_cache

from lineup_integrations.google_calendar.sandbox import api
from lineup_integrations.google_calendar.sandbox.events import (
    EVENT_TYPES,
    REMINDER_METHODS,
    RESPONSE_STATUSES,
    STATUSES,
    TRANSPARENCIES,
    VISIBILITIES,
)

IMPLEMENTED = {
    ("events", "list"): api.READ_EVENTS,
    ("events", "get"): api.READ_EVENTS,
    ("events", "instances"): api.READ_EVENTS,
    ("events", "insert"): api.WRITE_EVENTS,
    ("events", "patch"): api.WRITE_EVENTS,
    ("events", "update"): api.WRITE_EVENTS,
    ("events", "delete"): api.WRITE_EVENTS,
    ("calendarList", "list"): api.READ_CALENDAR_LIST,
    ("freebusy", "query"): api.QUERY_FREEBUSY,
}


@pytest.fixture(scope="module")
def discovery() -> dict[str, Any]:
    return json.loads(discovery_cache.get_static_doc("calendar", "v3"))


def method(discovery: dict[str, Any], resource: str, name: str) -> dict[str, Any]:
    return discovery["resources"][resource]["methods"][name]


def quoted_values(description: str) -> tuple[str, ...]:
    """The `- "value" - …` list of possible values in a discovery description."""
    return tuple(re.findall(r'^- "([A-Za-z]+)"', description, flags=re.MULTILINE))


def test_every_implemented_method_is_served_at_its_discovery_path_and_verb(
    discovery: dict[str, Any], google: str, http: httpx.Client
) -> None:
    """Each method, called as googleapiclient would build it from the document, reaches a sandbox
    route: without a token it is Google's 401, never a 404 or 405 of an unknown route."""
    for resource, name in IMPLEMENTED:
        spec = method(discovery, resource, name)
        path = spec["path"].replace("{calendarId}", "primary").replace("{eventId}", "someevent0")
        response = http.request(spec["httpMethod"], f"{google}/{discovery['servicePath']}{path}")
        assert response.status_code == 401, (resource, name, response.status_code)
        assert response.json()["error"]["errors"][0]["reason"] == "authError"


@pytest.mark.parametrize(("resource", "name"), sorted(IMPLEMENTED))
def test_each_method_admits_exactly_the_scopes_the_discovery_document_lists(
    discovery: dict[str, Any], resource: str, name: str
) -> None:
    assert set(method(discovery, resource, name)["scopes"]) == IMPLEMENTED[(resource, name)]


def test_query_enums_match_the_discovery_document(discovery: dict[str, Any]) -> None:
    listing = method(discovery, "events", "list")["parameters"]
    assert tuple(listing["orderBy"]["enum"]) == api.ORDER_BY
    assert tuple(listing["eventTypes"]["enum"]) == EVENT_TYPES
    for name in ("insert", "patch", "update", "delete"):
        assert tuple(method(discovery, "events", name)["parameters"]["sendUpdates"]["enum"]) == api.SEND_UPDATES
    assert tuple(method(discovery, "calendarList", "list")["parameters"]["minAccessRole"]["enum"]) == api.ACCESS_ROLES


def test_page_sizes_match_the_discovery_document(discovery: dict[str, Any]) -> None:
    def sizes(description: str) -> tuple[int, int]:
        default = re.search(r"By default the value is (\d+)", description)
        largest = re.search(r"can never be larger than (\d+)", description)
        assert default and largest, description
        return int(default.group(1)), int(largest.group(1))

    events_list = method(discovery, "events", "list")["parameters"]["maxResults"]
    assert events_list["default"] == str(api.EVENTS_PAGE[0])
    assert sizes(events_list["description"]) == api.EVENTS_PAGE
    assert sizes(method(discovery, "events", "instances")["parameters"]["maxResults"]["description"]) == api.EVENTS_PAGE
    calendar_list = method(discovery, "calendarList", "list")["parameters"]["maxResults"]["description"]
    assert sizes(calendar_list) == api.CALENDAR_LIST_PAGE


def test_the_parameters_forbidden_beside_a_sync_token_are_the_documented_ones(discovery: dict[str, Any]) -> None:
    description = method(discovery, "events", "list")["parameters"]["syncToken"]["description"]
    listed = re.findall(r"^- (\w+)", description, flags=re.MULTILINE)

    assert tuple(sorted(listed)) == tuple(sorted(api.SYNC_EXCLUSIVE))


def test_free_busy_limits_match_the_discovery_document(discovery: dict[str, Any]) -> None:
    request = discovery["schemas"]["FreeBusyRequest"]["properties"]

    assert f"Maximum value is {api.FREEBUSY_MAX_CALENDARS}." in request["calendarExpansionMax"]["description"]
    assert f"Maximum value is {api.FREEBUSY_MAX_GROUP}." in request["groupExpansionMax"]["description"]


def test_event_field_enums_match_the_event_schema(discovery: dict[str, Any]) -> None:
    schemas = discovery["schemas"]
    event = schemas["Event"]["properties"]

    assert quoted_values(event["status"]["description"]) == STATUSES
    assert quoted_values(event["transparency"]["description"]) == TRANSPARENCIES
    assert quoted_values(event["visibility"]["description"]) == VISIBILITIES
    assert quoted_values(event["eventType"]["description"]) == EVENT_TYPES
    assert quoted_values(schemas["EventAttendee"]["properties"]["responseStatus"]["description"]) == RESPONSE_STATUSES
    assert quoted_values(schemas["EventReminder"]["properties"]["method"]["description"]) == REMINDER_METHODS


def test_every_parameter_the_sandbox_reads_is_declared_for_the_method(discovery: dict[str, Any]) -> None:
    """Parameters named in `api.py`'s handlers (read from its source) exist in the discovery
    document for events.list, or are Google's global parameters: no invented parameters."""
    source = open(api.__file__, encoding="utf-8").read()  # noqa: SIM115 - a one-shot read
    start, end = source.index("async def _list_events"), source.index("async def _instances")
    read = set(re.findall(r'params(?:\.get|\.getlist)?\(?\s*"(\w+)"', source[start:end]))
    read |= set(re.findall(r'_(?:bool|time|choice)\(params, "(\w+)"', source[start:end]))
    declared = set(method(discovery, "events", "list")["parameters"]) | set(discovery["parameters"])

    assert read and read <= declared, read - declared
