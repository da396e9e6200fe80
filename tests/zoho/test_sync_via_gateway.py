"""`POST /api/v1/integrations/sync` end to end: gateway → Dagster's GraphQL API (a real webserver and
run worker) → the tenant's partition run against the sandbox → contacts in the store."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lineup_integrations.core.store import Contact, Store
from tests.dagster_webserver import finished_run, wait_for
from tests.gateway.flows import bearer
from tests.zoho.conftest import ZohoTenant

TenantFactory = Callable[..., ZohoTenant]


def test_sync_launches_a_partition_run_for_a_newly_connected_tenant(
    store: Store, make_gateway: Callable[[str], TestClient], dagster_webserver: str, zoho_tenant_factory: TenantFactory
) -> None:
    tenant = zoho_tenant_factory("acme", contacts=450)
    gateway = make_gateway(dagster_webserver)

    response = gateway.post("/api/v1/integrations/sync", headers=bearer("acme"), json={"provider": "zoho"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["message"]) == (True, "Sync job enqueued")
    run = wait_for(lambda: finished_run(dagster_webserver, body["runId"]), timeout=120, what="the sync run")
    assert run["status"] == "SUCCESS"
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert (tags["dagster/partition"], tags["tenant"], tags["provider"]) == ("acme", "acme", "zoho")
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact).where(Contact.tenant_id == "acme")) == 450
    assert tenant.api_calls() == 3


def test_sync_of_a_disconnected_tenant_is_refused_without_a_provider_call(
    make_gateway: Callable[[str], TestClient], zoho_tenant_factory: TenantFactory
) -> None:
    tenant = zoho_tenant_factory("acme", contacts=50)
    gateway = make_gateway("http://127.0.0.1:9/graphql")  # never reached: the refusal comes first
    assert gateway.delete("/api/v1/integrations/zoho", headers=bearer("acme")).status_code == 200
    before = tenant.api_calls()

    response = gateway.post("/api/v1/integrations/sync", headers=bearer("acme"), json={"provider": "zoho"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "integration_not_connected"
    assert tenant.api_calls() == before
