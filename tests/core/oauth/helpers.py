"""Driving the OAuth engine against the real sandbox over HTTP, as the gateway and a browser would.

Shared by the engine's tests here and each provider's `tests/<provider>/test_oauth.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from lineup_integrations.core.oauth import OAuthEngine, OAuthProviderConfig, configured_providers
from lineup_integrations.core.settings import ProviderSettings, Settings
from lineup_integrations.core.store import AuditEntry, Base, Credential, Integration, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox import SandboxHandle

REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"
ENGINE_LOGGER = "lineup_integrations.core.oauth.engine"


def sandbox_settings(sandbox: SandboxHandle, tmp_path: Path) -> Settings:
    """Settings of `LINEUP_ENVIRONMENT=sandbox` pointed at this (free-port) sandbox, as `make demo` configures."""
    environ = {**sandbox.environment(), "LINEUP_DATA_DIR": str(tmp_path), "LINEUP_DATABASE_URL": "sqlite://"}
    return Settings.from_env(PROVIDERS.only(sandbox.providers), environ)


def sandbox_oauth_configs(sandbox: SandboxHandle, tmp_path: Path) -> dict[str, OAuthProviderConfig]:
    """The OAuth configs of the sandbox's providers, as the gateway builds them from the settings."""
    return configured_providers(PROVIDERS, sandbox_settings(sandbox, tmp_path))


def real_hosts(settings: Settings, provider: str) -> ProviderSettings:
    """`provider`'s settings without a base URL: its real hosts, as in `LINEUP_ENVIRONMENT=live`."""
    return settings.providers[provider].model_copy(update={"base_url": None})


def sandbox_engine(
    store: Store, vault: Vault, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[OAuthEngine]:
    """An engine whose providers point at the sandbox through the documented `<P>_BASE_URL` variables."""
    for variable, value in sandbox.environment().items():
        monkeypatch.setenv(variable, value)
    settings = sandbox_settings(sandbox, tmp_path)
    with httpx.Client(timeout=10.0) as http:
        yield OAuthEngine(store, vault, configured_providers(PROVIDERS, settings), http=http)


def authorize(auth_url: str) -> dict[str, str]:
    """Play the user's browser: open the authorize URL (the sandbox approves at once) and return the
    query of the 302 back to the redirect URI, i.e. what the callback receives."""
    with httpx.Client(timeout=10.0) as browser:
        response = browser.get(auth_url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    assert str(location.copy_with(query=None)) == REDIRECT_URI
    return dict(location.params)


def connect(engine: OAuthEngine, tenant_id: str, provider: str, login: str) -> Integration:
    """The full flow: begin → the browser at the provider → complete."""
    auth_url = engine.begin(tenant_id, provider, actor="user:test", login_hint=login)
    return engine.complete(provider, authorize(auth_url))


def control(sandbox: SandboxHandle, provider: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the sandbox's control API (`/_sandbox/...`): POST with a body, else GET."""
    url = f"{sandbox.base_url(provider)}/_sandbox/{path}"
    response = httpx.post(url, json=body) if body is not None else httpx.get(url)
    response.raise_for_status()
    return response.json()


def token_requests(sandbox: SandboxHandle, provider: str, grant: str) -> int:
    return int(control(sandbox, provider, "stats")["token_requests_by_grant"].get(grant, 0))


def row_counts(store: Store) -> dict[str, int]:
    with store.session() as session:
        return {
            "integrations": session.scalar(select(func.count()).select_from(Integration)) or 0,
            "credentials": session.scalar(select(func.count()).select_from(Credential)) or 0,
        }


def audit_entries(store: Store, action: str) -> list[AuditEntry]:
    with store.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def stored_refresh_token(store: Store, vault: Vault, integration_id: str) -> str:
    with store.session() as session:
        credential = session.get(Credential, integration_id)
        assert credential is not None and credential.refresh_token is not None
        return vault.open(credential.refresh_token, context=f"{integration_id}:refresh_token")


def assert_nowhere_in_store(store: Store, *secrets: str) -> None:
    """No secret occurs in any column of any table, nor (SQLite) in the database files' bytes."""
    assert all(secrets)
    with store.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).all():
                text = repr(tuple(row))
                for secret in secrets:
                    assert secret not in text, f"a secret is stored in plain text in {table.name}"
    if store.is_sqlite:
        database = Path(store.url.split("///", 1)[1])
        files = [path for path in (database, Path(f"{database}-wal")) if path.exists()]
        data = b"".join(path.read_bytes() for path in files)
        for secret in secrets:
            assert secret.encode() not in data, "a secret is in the SQLite database file in plain text"


def store_snapshot(store: Store) -> dict[str, list[str]]:
    """Every row of every table (audit log and OAuth states included), to prove nothing was written."""
    with store.session() as session:
        return {
            table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)).all())
            for table in Base.metadata.sorted_tables
        }


class LogRecords(logging.Handler):
    """The records a `captured_logs` block saw; `text` is them formatted, one per line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "\n".join(self.format(record) for record in self.records)

    def warnings(self, logger_name: str = ENGINE_LOGGER) -> list[str]:
        return [
            record.getMessage()
            for record in self.records
            if record.name == logger_name and record.levelno == logging.WARNING
        ]


@contextmanager
def captured_logs(level: int = logging.DEBUG) -> Iterator[LogRecords]:
    """What pytest's `caplog` does (a handler on the root logger, whose level is lowered for the
    block), usable when the logging plugin is disabled (`-p no:logging`)."""
    root = logging.getLogger()
    handler = LogRecords()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
