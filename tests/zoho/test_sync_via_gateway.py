"""`POST /api/v1/integrations/sync` end to end: gateway → Dagster's GraphQL API (a real webserver and
run worker) → the tenant's partition run against the sandbox → contacts in the store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lineup_integrations.core.store import Contact, Store
from lineup_integrations.sandbox import SandboxHandle
from tests.conftest import TEST_KEY
from tests.gateway.flows import bearer
from tests.zoho.conftest import ZohoTenant

TenantFactory = Callable[..., ZohoTenant]
DAGSTER_YAML = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""
RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value } } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dagster_webserver(store_url: str, sandbox_reset: SandboxHandle, tmp_path: Path) -> Iterator[str]:
    """`dagster-webserver` serving this code location, launching runs at once (no daemon)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    port = _free_port()
    env = {
        **os.environ,
        **sandbox_reset.environment(),
        "DAGSTER_HOME": str(home),
        "LINEUP_DATABASE_URL": store_url,
        "ENCRYPTION_KEYS": f"test:{TEST_KEY}",
    }
    env.pop("ENCRYPTION_KEY", None)
    webserver = Path(sys.executable).with_name("dagster-webserver")
    process = subprocess.Popen(
        [str(webserver), "-m", "lineup_integrations.definitions", "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _up(url), timeout=90, what="dagster-webserver")
        yield f"{url}/graphql"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/server_info", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll a real condition (a server coming up, a run finishing) until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} not ready within {timeout} s")


def _finished_run(graphql_url: str, run_id: str) -> dict | None:
    run = httpx.post(graphql_url, json={"query": RUN_STATUS, "variables": {"id": run_id}}, timeout=10).json()
    run = run["data"]["runOrError"]
    return run if run.get("status") in ("SUCCESS", "FAILURE", "CANCELED") else None


def test_sync_launches_a_partition_run_for_a_newly_connected_tenant(
    store: Store, make_gateway: Callable[[str], TestClient], dagster_webserver: str, zoho_tenant_factory: TenantFactory
) -> None:
    tenant = zoho_tenant_factory("acme", contacts=450)
    gateway = make_gateway(dagster_webserver)

    response = gateway.post("/api/v1/integrations/sync", headers=bearer("acme"), json={"provider": "zoho"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["message"]) == (True, "Sync job enqueued")
    run = _wait_for(lambda: _finished_run(dagster_webserver, body["runId"]), timeout=120, what="the sync run")
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
