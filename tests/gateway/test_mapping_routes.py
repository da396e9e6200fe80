"""`/api/v1/integrations/mapping` over the real app, store (SQLite and PostgreSQL) and auth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from lineup_integrations.core.mapping import ProviderField
from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import AuditEntry, MappingVersion, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.gateway.app import create_app
from lineup_integrations.gateway.routes.mapping import use_provider_fields
from tests.core.mapping.zoho_fields import zoho_contact_fields
from tests.gateway.flows import JWT_SECRET, SPEC_EXAMPLE, bearer

URL = "/api/v1/integrations/mapping"


class FieldSource:
    """The provider-metadata seam, fed a fixed Zoho field list; records who asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    def __call__(self, tenant_id: str, provider: str, entity: str) -> list[ProviderField]:
        self.asked.append((tenant_id, provider, entity))
        return zoho_contact_fields()


@pytest.fixture
def fields() -> FieldSource:
    return FieldSource()


@pytest.fixture
def app_without_fields(store: Store, vault: Vault, tmp_path: Path):
    settings = Settings(data_dir=tmp_path, database_url=store.url, api_jwt_secret=SecretStr(JWT_SECRET))
    return create_app(store, OAuthEngine(store, vault, {}), settings)


@pytest.fixture
def client(app_without_fields, fields: FieldSource) -> Iterator[TestClient]:
    use_provider_fields(app_without_fields, fields)
    with TestClient(app_without_fields) as test_client:
        yield test_client


def stored_versions(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(MappingVersion)) or 0


def test_spec_example_is_saved_as_a_new_version(client: TestClient, fields: FieldSource, store: Store) -> None:
    response = client.post(URL, json=SPEC_EXAMPLE, headers=bearer("acme", subject="ops@acme.test"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["provider"], body["entity"], body["version"], body["basedOnVersion"]) == ("zoho", "contacts", 1, 0)
    assert body["createdBy"] == "ops@acme.test" and body["defaultVersion"] is None
    rules = {(r["sourceField"], r["direction"]): r for r in body["mappings"]}
    assert rules[("email", "bidirectional")] == {
        "sourceField": "email",
        "targetField": "Email",
        "transform": "lowercase",
        "direction": "bidirectional",
    }
    assert rules[("name", "inbound")]["targetField"] == "Full_Name"
    assert ("company", "inbound") in rules  # kept from the default
    assert fields.asked == [("acme", "zoho", "contacts")]


def test_read_returns_the_active_version_and_history(client: TestClient) -> None:
    headers = bearer("acme")
    empty = client.get(URL, params={"provider": "zoho"}, headers=headers).json()
    assert empty["activeVersion"] == 0 and [v["version"] for v in empty["history"]] == [0]
    assert empty["active"]["defaultVersion"] == 1
    client.post(URL, json=SPEC_EXAMPLE, headers=headers)
    client.post(
        URL,
        json={
            "provider": "zoho",
            "mappings": [{"sourceField": "title", "targetField": "Title", "transform": ["trim", "uppercase"]}],
        },
        headers=headers,
    )
    state = client.get(URL, params={"provider": "zoho"}, headers=headers).json()
    assert state["activeVersion"] == 2 and [v["version"] for v in state["history"]] == [0, 1, 2]
    title = next(r for r in state["active"]["mappings"] if r["sourceField"] == "title")
    assert title["transform"] == ["trim", "uppercase"]
    # Another tenant sees only its own (default) mapping.
    assert client.get(URL, params={"provider": "zoho"}, headers=bearer("globex")).json()["activeVersion"] == 0


INVALID_CHANGES: list[tuple[list[dict[str, Any]], list[str]]] = [
    ([{"sourceField": "nickname", "targetField": "Email"}], ["mappings[0].sourceField"]),
    ([{"sourceField": "email", "targetField": "Emial"}], ["mappings[0].targetField"]),
    ([{"sourceField": "email", "targetField": "Email", "transform": "shout"}], ["mappings[0].transform"]),
    (
        [{"sourceField": "phone", "targetField": "Phone"}, {"sourceField": "mobile", "targetField": "Phone"}],
        ["mappings[1].targetField"],
    ),
    ([{"sourceField": "last_name", "targetField": "Secondary_Email", "direction": "outbound"}], ["mappings"]),
    ([{"sourceField": "name", "targetField": "Full_Name", "direction": "outbound"}], ["mappings[0].targetField"]),
    ([{"sourceField": "title", "targetField": "Email_Opt_Out"}], ["mappings[0].targetField"]),
]
MALFORMED: list[tuple[dict[str, Any], str]] = [
    ({"provider": "zoho", "mappings": []}, "mappings"),
    ({"provider": "zoho", "mappings": [{"sourceField": "email"}]}, "mappings.targetField"),
    (
        {"provider": "zoho", "mappings": [{"sourceField": "email", "targetField": "Email"}], "direction": "up"},
        "direction",
    ),
    ({"provider": "zoho", "mapping": []}, "mappings"),
]


def test_invalid_changes_are_422_naming_each_field_and_save_nothing(client: TestClient, store: Store) -> None:
    client.post(URL, json=SPEC_EXAMPLE, headers=bearer("acme"))
    before = client.get(URL, params={"provider": "zoho"}, headers=bearer("acme")).json()
    for mappings, fields_at_fault in INVALID_CHANGES:
        response = client.post(URL, json={"provider": "zoho", "mappings": mappings}, headers=bearer("acme"))
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_mapping"
        assert [item["field"] for item in error["details"]] == fields_at_fault and error["field"] == fields_at_fault[0]
    assert client.get(URL, params={"provider": "zoho"}, headers=bearer("acme")).json() == before
    assert stored_versions(store) == 1
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_malformed_requests_are_422_naming_the_field(client: TestClient, store: Store) -> None:
    for body, field in MALFORMED:
        response = client.post(URL, json=body, headers=bearer("acme"))
        assert response.status_code == 422
        assert field in [item["field"] for item in response.json()["error"]["details"]]
    assert stored_versions(store) == 0


def test_rollback_through_activate(client: TestClient, store: Store) -> None:
    headers = bearer("acme")
    client.post(URL, json=SPEC_EXAMPLE, headers=headers)
    client.post(
        URL,
        json={
            "provider": "zoho",
            "mappings": [{"sourceField": "email", "targetField": "Email", "transform": "uppercase"}],
        },
        headers=headers,
    )
    rolled = client.post(f"{URL}/activate", json={"provider": "zoho", "version": 1}, headers=headers)
    assert rolled.status_code == 200 and rolled.json()["version"] == 1
    state = client.get(URL, params={"provider": "zoho"}, headers=headers).json()
    assert state["activeVersion"] == 1 and len(state["history"]) == 3 and stored_versions(store) == 2
    email = next(r for r in state["active"]["mappings"] if r["sourceField"] == "email")
    assert email["transform"] == "lowercase"

    missing = client.post(f"{URL}/activate", json={"provider": "zoho", "version": 9}, headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "version"
    assert client.get(URL, params={"provider": "zoho"}, headers=headers).json()["activeVersion"] == 1


def test_unknown_provider_or_entity(client: TestClient) -> None:
    headers = bearer("acme")
    assert client.get(URL, params={"provider": "salesforce"}, headers=headers).status_code == 400
    no_mapping = client.get(URL, params={"provider": "google_calendar", "entity": "contacts"}, headers=headers)
    assert no_mapping.status_code == 404 and no_mapping.json()["error"]["field"] in ("provider", "entity")
    deals = client.post(URL, json={**SPEC_EXAMPLE, "entity": "deals"}, headers=headers)
    assert deals.status_code == 404 and deals.json()["error"]["field"] == "entity"


def test_bearer_token_is_required(client: TestClient, store: Store) -> None:
    assert client.post(URL, json=SPEC_EXAMPLE).status_code == 401
    expired = bearer("acme", ttl=-60)
    assert client.post(URL, json=SPEC_EXAMPLE, headers=expired).status_code == 401
    assert client.get(URL, params={"provider": "zoho"}).status_code == 401
    assert stored_versions(store) == 0


def test_without_a_connected_integration_changes_are_refused(app_without_fields, store: Store) -> None:
    # The app's own field source asks the provider, which needs the tenant's connection.
    with TestClient(app_without_fields) as client:
        response = client.post(URL, json=SPEC_EXAMPLE, headers=bearer("acme"))
        assert response.status_code == 409 and response.json()["error"]["code"] == "integration_not_connected"
        # Reading and rolling back need no provider metadata.
        assert client.get(URL, params={"provider": "zoho"}, headers=bearer("acme")).status_code == 200
    assert stored_versions(store) == 0


def test_a_calendar_mapping_is_changed_against_the_providers_event_fields(app_without_fields) -> None:
    """Calendars need no connection for their field list: the event resource's fields are fixed."""
    change = {"provider": "outlook_calendar", "mappings": [
        {"sourceField": "location", "targetField": "onlineMeeting.joinUrl", "direction": "inbound"}]}  # fmt: skip
    with TestClient(app_without_fields) as client:
        response = client.post(URL, json=change, headers=bearer("acme"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["entity"], body["version"]) == ("events", 1)
        rules = {rule["sourceField"]: rule["targetField"] for rule in body["mappings"]}
        assert rules == {"title": "subject", "organizer": "organizer.emailAddress.address",
                         "location": "onlineMeeting.joinUrl"}  # fmt: skip

        outbound = {"provider": "google_calendar", "mappings": [{"sourceField": "title", "targetField": "summary",
                                                                 "direction": "outbound"}]}  # fmt: skip
        refused = client.post(URL, json=outbound, headers=bearer("acme"))
        assert refused.status_code == 422 and "read-only" in refused.text
        unknown = {"provider": "google_calendar", "mappings": [{"sourceField": "title", "targetField": "attendees"}]}
        assert client.post(URL, json=unknown, headers=bearer("acme")).status_code == 422
