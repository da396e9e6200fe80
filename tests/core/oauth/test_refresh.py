"""Refreshing under the per-integration lock: one token request for any number of concurrent
callers, rotated refresh tokens stored and used, dead grants turned into `needs_reauth`."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from lineup_integrations.core.oauth import (
    AccessToken,
    IntegrationNotFoundError,
    OAuthEngine,
    ReauthorizationRequiredError,
    TokenRefreshError,
)
from lineup_integrations.core.store import Credential, Integration, IntegrationStatus, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import (
    audit_entries,
    connect,
    control,
    sandbox_oauth_configs,
    stored_refresh_token,
    token_requests,
)

LOGIN = "recruiter@acme.example"
SHORT_TTL = 60  # inside the 5-minute margin: the stored token counts as expiring at once
CALLERS = 20


def connect_expiring(engine: OAuthEngine, sandbox: SandboxHandle, provider: str) -> Integration:
    """Connect with a token that expires within the refresh margin; later tokens live an hour."""
    control(sandbox, provider, "config", {"access_token_ttl": SHORT_TTL})
    integration = connect(engine, "acme", provider, LOGIN)
    control(sandbox, provider, "config", {"access_token_ttl": 3600})
    return integration


@pytest.mark.parametrize("provider", ["zoho", "google_calendar", "outlook_calendar"])
def test_twenty_concurrent_callers_cause_exactly_one_refresh(
    engine: OAuthEngine, sandbox_reset: SandboxHandle, store: Store, provider: str
) -> None:
    integration = connect_expiring(engine, sandbox_reset, provider)
    barrier = threading.Barrier(CALLERS)
    tokens: list[AccessToken] = []
    errors: list[BaseException] = []

    def caller() -> None:
        barrier.wait()
        try:
            tokens.append(engine.refresh_if_expiring(integration.id))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(tokens) == CALLERS
    assert token_requests(sandbox_reset, provider, "refresh_token") == 1
    assert len({token.value for token in tokens}) == 1  # everyone got the refreshed token
    assert sandbox_reset.state(provider).authenticate(tokens[0].value) is not None
    assert [entry.outcome for entry in audit_entries(store, "refresh")] == ["success"]


def test_fresh_token_is_returned_without_a_token_request(engine: OAuthEngine, sandbox_reset: SandboxHandle) -> None:
    integration = connect(engine, "acme", "google_calendar", LOGIN)

    token = engine.refresh_if_expiring(integration.id)

    assert token_requests(sandbox_reset, "google_calendar", "refresh_token") == 0
    assert token.integration_id == integration.id
    assert token.api_domain == sandbox_reset.base_url("google_calendar")
    assert sandbox_reset.state("google_calendar").authenticate(token.value) is not None


def test_a_token_holder_keeps_the_token_in_memory_until_it_nears_expiry_or_is_rejected(
    engine: OAuthEngine, sandbox_reset: SandboxHandle, store: Store
) -> None:
    integration = connect_expiring(engine, sandbox_reset, "zoho")
    holder = engine.token_holder(integration.id)

    first = holder.current()  # the stored token expires within the margin: refreshed now
    assert token_requests(sandbox_reset, "zoho", "refresh_token") == 1
    with store.session() as session:  # from here on the holder must not need the store
        session.query(Credential).filter(Credential.integration_id == integration.id).delete()
    assert [holder.current().value for _ in range(5)] == [first.value] * 5
    assert token_requests(sandbox_reset, "zoho", "refresh_token") == 1

    with pytest.raises(IntegrationNotFoundError):  # after a 401 it goes back to the engine (and its lock)
        holder.replace(first.value)


def test_rotated_refresh_token_is_stored_and_used_by_the_next_refresh(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Microsoft rotates on every refresh; the wire shows which refresh token each request sent."""
    provider = "outlook_calendar"
    sent_refresh_tokens: list[str] = []

    def record(request: httpx.Request) -> None:
        form = dict(parse_qsl(request.content.decode()))
        if form.get("grant_type") == "refresh_token":
            sent_refresh_tokens.append(form["refresh_token"])

    for variable, value in sandbox_reset.environment().items():
        monkeypatch.setenv(variable, value)
    with httpx.Client(timeout=10.0, event_hooks={"request": [record]}) as http:
        engine = OAuthEngine(store, vault, sandbox_oauth_configs(sandbox_reset, tmp_path), http=http)
        control(sandbox_reset, provider, "config", {"access_token_ttl": SHORT_TTL})  # every token is expiring
        integration = connect(engine, "acme", provider, LOGIN)
        original = stored_refresh_token(store, vault, integration.id)

        engine.refresh_if_expiring(integration.id)
        rotated = stored_refresh_token(store, vault, integration.id)
        engine.refresh_if_expiring(integration.id)

    assert rotated != original
    assert sent_refresh_tokens == [original, rotated]
    assert stored_refresh_token(store, vault, integration.id) not in (original, rotated)
    assert [entry.detail["rotated"] for entry in audit_entries(store, "refresh")] == [True, True]


def test_refresh_without_rotation_keeps_the_refresh_token(
    engine: OAuthEngine, store: Store, vault: Vault, sandbox_reset: SandboxHandle
) -> None:
    integration = connect_expiring(engine, sandbox_reset, "zoho")
    original = stored_refresh_token(store, vault, integration.id)

    engine.refresh_if_expiring(integration.id)

    assert stored_refresh_token(store, vault, integration.id) == original
    with store.session() as session:
        credential = session.get(Credential, integration.id)
        assert credential is not None and credential.refreshed_at is not None
        assert credential.key_id == vault.active_key_id
    assert audit_entries(store, "refresh")[-1].detail["rotated"] is False


@pytest.mark.parametrize("provider", ["zoho", "google_calendar", "outlook_calendar"])
def test_revoked_grant_marks_needs_reauth_and_raises_a_typed_error(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle, provider: str
) -> None:
    integration = connect_expiring(engine, sandbox_reset, provider)
    control(sandbox_reset, provider, "tokens/revoke", {"login": LOGIN})

    with pytest.raises(ReauthorizationRequiredError) as raised:
        engine.refresh_if_expiring(integration.id)

    assert raised.value.provider == provider
    with store.session() as session:
        stored = session.get(Integration, integration.id)
        assert stored is not None
        assert stored.status == IntegrationStatus.NEEDS_REAUTH.value
        assert stored.status_reason and "reconnect" in stored.status_reason
    entry = audit_entries(store, "refresh")[-1]
    assert (entry.tenant_id, entry.provider, entry.outcome) == ("acme", provider, "failure")
    assert entry.detail["status"] == "needs_reauth"
    # Callers must not retry; if they do, the provider is not asked again.
    with pytest.raises(ReauthorizationRequiredError):
        engine.refresh_if_expiring(integration.id)
    assert token_requests(sandbox_reset, provider, "refresh_token") == 1


def test_provider_outage_is_a_retryable_error_and_keeps_the_integration_connected(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    provider = "google_calendar"
    integration = connect_expiring(engine, sandbox_reset, provider)
    control(sandbox_reset, provider, "faults", {"endpoint": "POST /token", "status": 503})

    with pytest.raises(TokenRefreshError) as raised:
        engine.refresh_if_expiring(integration.id)

    assert raised.value.error == "http_503"
    with store.session() as session:
        stored = session.get(Integration, integration.id)
        assert stored is not None and stored.status == IntegrationStatus.CONNECTED.value
    entry = audit_entries(store, "refresh")[-1]
    assert (entry.outcome, entry.detail["retryable"]) == ("failure", True)
    # The outage is over: the retry succeeds.
    assert sandbox_reset.state(provider).authenticate(engine.refresh_if_expiring(integration.id).value) is not None


def test_force_refresh_replaces_a_rejected_token_once(engine: OAuthEngine, sandbox_reset: SandboxHandle) -> None:
    provider = "zoho"
    integration = connect(engine, "acme", provider, LOGIN)
    stale = engine.refresh_if_expiring(integration.id).value
    control(sandbox_reset, provider, "tokens/expire", {"login": LOGIN})  # the API now answers 401

    first = engine.force_refresh(integration.id, stale_access_token=stale)
    second = engine.force_refresh(integration.id, stale_access_token=stale)  # a second worker saw the same 401

    assert first.value != stale
    assert second.value == first.value
    assert token_requests(sandbox_reset, provider, "refresh_token") == 1
    assert sandbox_reset.state(provider).authenticate(first.value) is not None


def test_refresh_of_an_unknown_integration_is_not_found(engine: OAuthEngine) -> None:
    with pytest.raises(IntegrationNotFoundError):
        engine.refresh_if_expiring("int-missing")
