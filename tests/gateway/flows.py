"""Helpers the gateway and CLI tests share: bearer tokens, the sandbox's environment, the spec's
mapping request, a browser's walk through the provider's authorize redirect, and a full dump of
the store for secret searches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import make_url

from lineup_integrations.core.oauth.engine import access_token_context, refresh_token_context
from lineup_integrations.core.store import AuditEntry, Base, Credential, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.gateway.auth import mint_token
from lineup_integrations.registry import PROVIDERS as REGISTRY
from lineup_integrations.sandbox import SandboxHandle

JWT_SECRET = "gateway-tests-jwt-secret-0123456789abcdef"
CALLBACK_URL = "http://testserver/api/v1/integrations/callback"
PROVIDERS = REGISTRY.names

# The field-mapping request of the spec (`POST /api/v1/integrations/mapping`).
SPEC_EXAMPLE = {
    "provider": "zoho",
    "mappings": [
        {"sourceField": "name", "targetField": "Full_Name", "transform": "none"},
        {"sourceField": "email", "targetField": "Email", "transform": "lowercase"},
    ],
    "direction": "bidirectional",
}


def connect_body(provider: str, login: str | None = None, *, user_id: str = "ana") -> dict[str, str]:
    """A `POST /connect` body for `provider`: a per-user provider's names the Lineup user `user_id`
    (it is required there and refused by a tenant-wide provider)."""
    body = {"provider": provider}
    if login is not None:
        body["loginHint"] = login
    if REGISTRY[provider].per_user:
        body["userId"] = user_id
    return body


def point_env_at_sandbox(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxHandle, callback_url: str) -> None:
    for name, value in sandbox.environment().items():
        monkeypatch.setenv(name, value)
    for provider in REGISTRY:
        monkeypatch.setenv(f"{provider.env_prefix}_REDIRECT_URI", callback_url)
    sandbox.register_redirect_uri(callback_url)  # the providers accept only registered redirect URIs
    monkeypatch.setenv("LINEUP_API_JWT_SECRET", JWT_SECRET)


def bearer(
    tenant: str, *, subject: str = "recruiter@acme.test", ttl: float = 3600, secret: str = JWT_SECRET
) -> dict[str, str]:
    token = mint_token(SecretStr(secret), tenant_id=tenant, subject=subject, ttl=dt.timedelta(seconds=ttl))
    return {"Authorization": f"Bearer {token}"}


def approve_at_provider(auth_url: str, callback_url: str = CALLBACK_URL) -> dict[str, str]:
    """What the user's browser does: open the authorize URL; the sandbox approves and redirects
    to our callback. Returns the callback's query parameters."""
    response = httpx.get(auth_url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    assert str(location.copy_with(query=None)) == callback_url
    return dict(location.params)


def open_credential(store: Store, vault: Vault, integration_id: str) -> tuple[str, str | None]:
    """The plaintext (access, refresh) tokens of an integration, opened the way the engine opens them."""
    with store.session() as session:
        credential = session.get(Credential, integration_id)
    assert credential is not None
    access = vault.open(credential.access_token, context=access_token_context(integration_id))
    refresh = (
        vault.open(credential.refresh_token, context=refresh_token_context(integration_id))
        if credential.refresh_token is not None
        else None
    )
    return access, refresh


def store_dump(store: Store) -> str:
    """Everything the store holds, as text: every row of every table, plus the SQLite files' raw bytes."""
    parts: list[str] = []
    with store.session() as session:
        for table in Base.metadata.sorted_tables:
            parts.extend(repr(tuple(row)) for row in session.execute(select(table)))
    url = make_url(store.url)
    if url.get_backend_name() == "sqlite" and url.database:
        for suffix in ("", "-wal"):
            path = Path(url.database + suffix)
            if path.exists():
                parts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def audit_trail(store: Store) -> list[tuple[str, str | None, str, str, str]]:
    """(tenant, provider, action, outcome, actor) of every audit entry, oldest first."""
    with store.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    return [(entry.tenant_id, entry.provider, entry.action, entry.outcome, entry.actor) for entry in entries]
