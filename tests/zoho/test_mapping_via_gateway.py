"""`POST /api/v1/integrations/mapping` validated against the tenant's real Zoho field metadata (sandbox)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lineup_integrations.core.store import MappingVersion, ProviderFieldCache, Store
from tests.gateway.flows import SPEC_EXAMPLE, bearer
from tests.zoho.conftest import ZohoTenant


def test_the_spec_example_is_validated_against_zoho_fields_and_saved(
    store: Store, make_gateway: Callable[[str], TestClient], zoho_tenant_factory: Callable[..., ZohoTenant]
) -> None:
    zoho_tenant_factory("acme")
    gateway = make_gateway("http://127.0.0.1:9/graphql")

    response = gateway.post("/api/v1/integrations/mapping", headers=bearer("acme"), json=SPEC_EXAMPLE)

    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    with store.session() as session:
        cached = session.get(ProviderFieldCache, ("acme", "zoho", "Contacts"))
        assert cached is not None and any(f["api_name"] == "Email" for f in cached.fields)


def test_a_target_unknown_to_zoho_is_refused_naming_the_field(
    store: Store, make_gateway: Callable[[str], TestClient], zoho_tenant_factory: Callable[..., ZohoTenant]
) -> None:
    zoho_tenant_factory("acme")
    gateway = make_gateway("http://127.0.0.1:9/graphql")
    bad = {**SPEC_EXAMPLE, "mappings": [{"sourceField": "email", "targetField": "Emial", "transform": "none"}]}

    response = gateway.post("/api/v1/integrations/mapping", headers=bearer("acme"), json=bad)

    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["mappings[0].targetField"]
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(MappingVersion)) == 0


def test_a_tenant_without_zoho_gets_a_clear_refusal(make_gateway: Callable[[str], TestClient]) -> None:
    response = make_gateway("http://127.0.0.1:9/graphql").post(
        "/api/v1/integrations/mapping", headers=bearer("nobody"), json=SPEC_EXAMPLE
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "integration_not_connected"
