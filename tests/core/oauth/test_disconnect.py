"""Disconnect: revoke at the provider where it can be, delete the credentials, mark `disconnected`."""

from __future__ import annotations

import pytest

from lineup_integrations.core.oauth import IntegrationNotFoundError, OAuthEngine, ReauthorizationRequiredError
from lineup_integrations.core.store import Integration, IntegrationStatus, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import (
    audit_entries,
    connect,
    control,
    row_counts,
    stored_refresh_token,
)

LOGIN = "recruiter@acme.example"
REVOKE_ENDPOINTS = {"zoho": "POST /oauth/v2/token/revoke", "google_calendar": "POST /revoke"}


def _status(store: Store, integration_id: str) -> str:
    with store.session() as session:
        integration = session.get(Integration, integration_id)
        assert integration is not None
        return integration.status


@pytest.mark.parametrize("provider", sorted(REVOKE_ENDPOINTS))
def test_disconnect_revokes_the_grant_and_deletes_the_credentials(
    engine: OAuthEngine, store: Store, vault: Vault, sandbox_reset: SandboxHandle, provider: str
) -> None:
    integration = connect(engine, "acme", provider, LOGIN)
    refresh_token = stored_refresh_token(store, vault, integration.id)
    access_token = engine.refresh_if_expiring(integration.id).value

    engine.disconnect("acme", provider, actor="user:test")

    assert row_counts(store) == {"integrations": 1, "credentials": 0}
    assert _status(store, integration.id) == IntegrationStatus.DISCONNECTED.value
    requests = control(sandbox_reset, provider, f"requests?endpoint={REVOKE_ENDPOINTS[provider]}")
    assert requests["count"] == 1
    # The grant is dead at the provider: its tokens no longer work there.
    state = sandbox_reset.state(provider)
    assert state.authenticate(access_token) is None
    assert not state.revoke_token(refresh_token)  # already revoked
    entry = audit_entries(store, "disconnect")[-1]
    assert (entry.tenant_id, entry.actor, entry.outcome) == ("acme", "user:test", "success")
    assert entry.detail == {"integration_id": integration.id, "revocation": "revoked"}
    with pytest.raises(IntegrationNotFoundError):
        engine.refresh_if_expiring(integration.id)


def test_disconnect_without_a_revoke_endpoint_forgets_the_grant_locally(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    integration = connect(engine, "acme", "outlook_calendar", LOGIN)

    engine.disconnect("acme", "outlook_calendar", actor="user:test")

    assert row_counts(store) == {"integrations": 1, "credentials": 0}
    assert _status(store, integration.id) == IntegrationStatus.DISCONNECTED.value
    assert audit_entries(store, "disconnect")[-1].detail["revocation"] == "unsupported"


def test_failed_revocation_is_audited_but_does_not_block_the_disconnect(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    integration = connect(engine, "acme", "zoho", LOGIN)
    control(sandbox_reset, "zoho", "faults", {"endpoint": REVOKE_ENDPOINTS["zoho"], "status": 500})

    engine.disconnect("acme", "zoho", actor="user:test")

    assert row_counts(store) == {"integrations": 1, "credentials": 0}
    assert _status(store, integration.id) == IntegrationStatus.DISCONNECTED.value
    revoke_entry = audit_entries(store, "revoke")[-1]
    assert (revoke_entry.outcome, revoke_entry.detail["error"]) == ("failure", "http_500")
    assert audit_entries(store, "disconnect")[-1].detail["revocation"] == "failed"


def test_disconnect_of_a_needs_reauth_integration_still_deletes_it(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    control(sandbox_reset, "google_calendar", "config", {"access_token_ttl": 60})
    integration = connect(engine, "acme", "google_calendar", LOGIN)
    control(sandbox_reset, "google_calendar", "tokens/revoke", {"login": LOGIN})
    with pytest.raises(ReauthorizationRequiredError):
        engine.refresh_if_expiring(integration.id)

    engine.disconnect("acme", "google_calendar", actor="user:test")

    assert row_counts(store) == {"integrations": 1, "credentials": 0}
    assert _status(store, integration.id) == IntegrationStatus.DISCONNECTED.value


def test_disconnecting_what_is_not_connected_is_not_found(engine: OAuthEngine, store: Store) -> None:
    with pytest.raises(IntegrationNotFoundError):
        engine.disconnect("acme", "zoho", actor="user:test")
    assert audit_entries(store, "disconnect") == []


def test_reconnect_after_disconnect_reuses_the_integration(engine: OAuthEngine, store: Store) -> None:
    first = connect(engine, "acme", "zoho", LOGIN)
    engine.disconnect("acme", "zoho", actor="user:test")

    second = connect(engine, "acme", "zoho", LOGIN)

    assert second.id == first.id
    assert _status(store, second.id) == IntegrationStatus.CONNECTED.value
    assert row_counts(store) == {"integrations": 1, "credentials": 1}
