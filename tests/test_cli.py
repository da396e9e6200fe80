"""The `lineup-integrations` console command: typer's CliRunner for the short commands, real
processes for the two servers."""

from __future__ import annotations

import base64
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import jwt
import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, select
from typer.testing import CliRunner

from lineup_integrations.cli import app
from lineup_integrations.core.oauth import OAuthEngine, configured_providers
from lineup_integrations.core.oauth.engine import access_token_context
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Credential, Integration, Store
from lineup_integrations.core.vault import KeyRing, Vault
from lineup_integrations.gateway.app import create_app
from lineup_integrations.registry import PROVIDERS as REGISTRY
from lineup_integrations.sandbox import SandboxHandle
from tests.gateway.flows import (
    CALLBACK_URL,
    JWT_SECRET,
    PROVIDERS,
    approve_at_provider,
    open_credential,
    point_env_at_sandbox,
)

OLD_KEY = base64.b64encode(b"o" * 32).decode()
NEW_KEY = "n" * 32  # the spec's 32-character form
ROTATED_RING = f"new:{NEW_KEY},old:{OLD_KEY}"
CLI = [str(Path(sys.executable).with_name("lineup-integrations"))]
SERVER_EXIT_TIMEOUT_SECONDS = 20

runner = CliRunner()


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No keys or secrets from the caller's environment; a fresh SQLite store path."""
    for name in ("ENCRYPTION_KEY", "ENCRYPTION_KEYS", "LINEUP_API_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    database = tmp_path / "cli.db"
    monkeypatch.setenv("LINEUP_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("LINEUP_ENVIRONMENT", "sandbox")
    return database


# -- token ---------------------------------------------------------------------------------------------


def test_token_mints_a_bearer_token_the_gateway_accepts(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, store: Store, vault: Vault
) -> None:
    monkeypatch.setenv("LINEUP_API_JWT_SECRET", JWT_SECRET)

    result = runner.invoke(app, ["token", "--tenant", "acme", "--subject", "ops@acme.test", "--ttl", "120"])

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert (claims["tenant"], claims["sub"], claims["exp"] - claims["iat"]) == ("acme", "ops@acme.test", 120)
    settings = Settings.from_env()
    with TestClient(create_app(store, OAuthEngine(store, vault, {}), settings)) as client:
        assert client.get("/api/v1/integrations", headers={"Authorization": f"Bearer {token}"}).json() == []
        assert client.get("/api/v1/integrations", headers={"Authorization": f"Bearer {token}x"}).status_code == 401


@pytest.mark.parametrize(
    ("secret", "tenant", "complaint"),
    [
        (None, "acme", "LINEUP_API_JWT_SECRET is not set"),
        ("short", "acme", "at least 32 bytes"),
        (JWT_SECRET, "acme...corp", "invalid tenant id"),
    ],
)
def test_token_refuses_a_missing_or_short_secret_and_a_tenant_that_is_no_partition_key(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, secret: str | None, tenant: str, complaint: str
) -> None:
    if secret is not None:
        monkeypatch.setenv("LINEUP_API_JWT_SECRET", secret)
    line = one_line_error(runner.invoke(app, ["token", "--tenant", tenant]))
    assert complaint in line


# -- configuration errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["gateway"], ["keys", "rotate"]])
@pytest.mark.parametrize(
    "keys",
    [{}, {"ENCRYPTION_KEY": "only-sixteen-chr"}, {"ENCRYPTION_KEYS": "a:tooshort"}, {"ENCRYPTION_KEYS": "no-colon"}],
)
def test_a_missing_or_wrong_length_encryption_key_is_a_one_line_start_up_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], keys: dict[str, str]
) -> None:
    monkeypatch.setenv("LINEUP_API_JWT_SECRET", JWT_SECRET)
    for name, value in keys.items():
        monkeypatch.setenv(name, value)

    line = one_line_error(runner.invoke(app, command))

    assert "ENCRYPTION_KEY" in line or "encryption key" in line
    assert all(value.partition(":")[2] not in line for value in keys.values() if ":" in value)
    assert not (clean_env.exists() and inspect(create_engine(f"sqlite:///{clean_env}")).get_table_names())


def test_the_gateway_does_not_start_or_migrate_without_a_jwt_secret(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCRYPTION_KEY", NEW_KEY)
    assert "LINEUP_API_JWT_SECRET" in one_line_error(runner.invoke(app, ["gateway"]))
    assert not (clean_env.exists() and inspect(create_engine(f"sqlite:///{clean_env}")).get_table_names())


# -- db upgrade -------------------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_and_is_idempotent(clean_env: Path) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
    tables = set(inspect(create_engine(f"sqlite:///{clean_env}")).get_table_names())
    assert {"integrations", "credentials", "oauth_states", "audit_log", "alembic_version"} <= tables


# -- keys rotate ----------------------------------------------------------------------------------------


def test_keys_rotate_leaves_real_credentials_readable_under_the_new_key_and_a_second_run_changes_nothing(
    store: Store, sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_env_at_sandbox(monkeypatch, sandbox_reset, CALLBACK_URL)
    monkeypatch.delenv("ENCRYPTION_KEY", raising=False)
    monkeypatch.setenv("LINEUP_DATABASE_URL", store.url)
    providers = configured_providers(REGISTRY, Settings.from_env(REGISTRY))
    old = Vault(KeyRing.parse(f"old:{OLD_KEY}"))
    before = OAuthEngine(store, old, providers)
    integrations = {
        p: before.complete(p, approve_at_provider(before.begin("acme", p, actor="t", login_hint="o@acme.test")))
        for p in PROVIDERS
    }
    plaintexts = {p: open_credential(store, old, integration.id) for p, integration in integrations.items()}
    # A connection in flight during the rotation: its PKCE verifier is sealed under the old key.
    in_flight = approve_at_provider(before.begin("beta", "google_calendar", actor="t", login_hint="b@beta.test"))

    first = runner.invoke(app, ["keys", "rotate", "--batch-size", "2"], env={"ENCRYPTION_KEYS": ROTATED_RING})

    assert first.exit_code == 0, first.output
    assert "re-encrypted 3 credential(s) and 1 pending OAuth state(s) under key 'new'" in first.stdout
    new_only = Vault(KeyRing.parse(f"new:{NEW_KEY}"))
    after = OAuthEngine(store, new_only, providers)
    for provider, integration in integrations.items():
        assert open_credential(store, new_only, integration.id) == plaintexts[provider]
        token = after.refresh_if_expiring(integration.id)
        assert token.value == plaintexts[provider][0]
        assert sandbox_reset.state(provider).authenticate(token.value) is not None
    refreshed = after.force_refresh(integrations["zoho"].id, stale_access_token=plaintexts["zoho"][0])
    assert sandbox_reset.state("zoho").authenticate(refreshed.value) is not None  # the refresh token opened
    assert after.complete("google_calendar", in_flight).tenant_id == "beta"
    with store.session() as session:
        ciphertexts = {
            row.integration_id: (row.access_token, row.refresh_token, row.key_id)
            for row in session.scalars(select(Credential))
        }
    assert {key_id for _, _, key_id in ciphertexts.values()} == {"new"}

    second = runner.invoke(app, ["keys", "rotate"], env={"ENCRYPTION_KEYS": ROTATED_RING})

    assert second.exit_code == 0, second.output
    assert "re-encrypted 0 credential(s) and 0 pending OAuth state(s)" in second.stdout
    with store.session() as session:
        assert {
            row.integration_id: (row.access_token, row.refresh_token, row.key_id)
            for row in session.scalars(select(Credential))
        } == ciphertexts


def test_keys_rotate_fails_naming_credentials_it_cannot_open(
    store: Store, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEUP_DATABASE_URL", store.url)
    stray = Vault(KeyRing.parse(f"stray:{base64.b64encode(b's' * 32).decode()}"))
    with store.session() as session:
        session.add(Integration(id="int-lost", tenant_id="acme", provider="zoho", status="connected"))
        session.flush()
        session.add(
            Credential(
                integration_id="int-lost",
                key_id="stray",
                expires_at=dt.datetime.now(dt.UTC),
                access_token=stray.seal("1000.a", context=access_token_context("int-lost")),
            )
        )

    result = runner.invoke(app, ["keys", "rotate"], env={"ENCRYPTION_KEYS": ROTATED_RING})

    assert result.exit_code == 1
    assert "1 credential(s) could not be opened" in result.stderr and "int-lost" in result.stderr
    assert "1000.a" not in result.output


# -- the servers, as real processes ------------------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


Spawn = Callable[[list[str], dict[str, str]], "subprocess.Popen[str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start the CLI as a process; every process started is stopped (SIGTERM) and reaped at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [*CLI, *args], env={**os.environ, **env}, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(SERVER_EXIT_TIMEOUT_SECONDS)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def _read_until(stream: IO[str], marker: str) -> list[str]:
    lines: list[str] = []
    for line in stream:
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"the process ended before printing {marker!r}: {''.join(lines)}")


def test_the_sandbox_command_serves_each_provider_on_its_port_until_terminated(spawn: Spawn) -> None:
    zoho, google, outlook = _free_ports(3)
    process = spawn(
        [
            "sandbox",
            "--port",
            f"zoho={zoho}",
            "--port",
            f"google_calendar={google}",
            "--port",
            f"outlook_calendar={outlook}",
        ],
        {},
    )

    assert process.stdout is not None
    lines = [_read_until(process.stdout, "sandbox:")[-1] for _ in range(3)]

    assert [line.split()[2] for line in lines] == [f"http://127.0.0.1:{port}" for port in (zoho, google, outlook)]
    for port in (zoho, google, outlook):
        stats = httpx.get(f"http://127.0.0.1:{port}/_sandbox/stats").json()
        assert stats["token_requests"] == 0
    process.send_signal(signal.SIGTERM)
    assert process.wait(SERVER_EXIT_TIMEOUT_SECONDS) == 0


def test_the_gateway_command_migrates_the_store_then_serves_the_api(
    spawn: Spawn, tmp_path: Path, sandbox: SandboxHandle
) -> None:
    (port,) = _free_ports(1)
    database = tmp_path / "gateway.db"
    env = {
        "ENCRYPTION_KEY": NEW_KEY,
        "LINEUP_API_JWT_SECRET": JWT_SECRET,
        "LINEUP_DATABASE_URL": f"sqlite:///{database}",
        **sandbox.environment(),
    }
    token = runner.invoke(app, ["token", "--tenant", "acme"], env=env).stdout.strip()
    process = spawn(["gateway", "--port", str(port)], env)

    assert process.stderr is not None
    _read_until(process.stderr, "Uvicorn running on")

    assert "integrations" in inspect(create_engine(f"sqlite:///{database}")).get_table_names()
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/api/v1/integrations", headers={"Authorization": f"Bearer {token}"}).json() == []
    connect = httpx.post(
        f"{base}/api/v1/integrations/connect", json={"provider": "zoho"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert connect.json()["authUrl"].startswith(sandbox.base_url("zoho"))
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (so the exit status says SIGTERM).
    assert process.wait(SERVER_EXIT_TIMEOUT_SECONDS) == -signal.SIGTERM
    log = process.stderr.read()
    assert "Finished server process" in log
    assert "GET /api/v1/integrations 200" in log and "POST /api/v1/integrations/connect 200" in log
