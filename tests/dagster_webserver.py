"""A real Dagster webserver serving this code location and a gateway launching runs through it, for
the end-to-end `POST /api/v1/integrations/sync` tests (`tests/zoho`, `tests/gateway`)."""

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

from lineup_integrations.core.oauth import OAuthEngine, configured_providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.gateway.app import create_app
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox import SandboxHandle
from tests.conftest import TEST_KEY
from tests.gateway.flows import JWT_SECRET

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
        wait_for(lambda: _up(url), timeout=90, what="dagster-webserver")
        yield f"{url}/graphql"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/server_info", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll a real condition (a server coming up, a run finishing) until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} not ready within {timeout} s")


def finished_run(graphql_url: str, run_id: str) -> dict | None:
    run = httpx.post(graphql_url, json={"query": RUN_STATUS, "variables": {"id": run_id}}, timeout=10).json()
    run = run["data"]["runOrError"]
    return run if run.get("status") in ("SUCCESS", "FAILURE", "CANCELED") else None


@pytest.fixture
def make_gateway(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], TestClient]]:
    """A gateway whose `DAGSTER_GRAPHQL_URL` is the given one."""
    for name, value in sandbox_reset.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LINEUP_API_JWT_SECRET", JWT_SECRET)
    clients: list[TestClient] = []

    def make(graphql_url: str) -> TestClient:
        settings = Settings.from_env(PROVIDERS).model_copy(
            update={"database_url": store.url, "dagster_graphql_url": graphql_url}
        )
        client = TestClient(
            create_app(store, OAuthEngine(store, vault, configured_providers(PROVIDERS, settings)), settings)
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
