"""Microsoft's OAuth config through the engine, against the Microsoft sandbox over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import Integration, IntegrationStatus, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.outlook_calendar.oauth import SCOPES, oauth_config
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import (
    assert_nowhere_in_store,
    captured_logs,
    connect,
    control,
    real_hosts,
    sandbox_settings,
    stored_refresh_token,
    token_requests,
)

PROVIDER = "outlook_calendar"
LOGIN = "interviewer@acme.example"


def test_connect_flow_ends_connected_with_only_ciphertext_stored(
    engine: OAuthEngine, store: Store, vault: Vault, sandbox_reset: SandboxHandle
) -> None:
    integration = connect(engine, "acme", PROVIDER, LOGIN)

    assert integration.status == IntegrationStatus.CONNECTED.value
    assert integration.scopes == ["User.Read", "Calendars.ReadWrite"]  # Microsoft leaves offline_access out
    assert integration.api_domain == sandbox_reset.base_url(PROVIDER)
    token = engine.refresh_if_expiring(integration.id)
    account = sandbox_reset.state(PROVIDER).authenticate(token.value)
    assert account is not None and account.login == LOGIN
    assert token_requests(sandbox_reset, PROVIDER, "authorization_code") == 1
    assert_nowhere_in_store(store, token.value, stored_refresh_token(store, vault, integration.id))


def test_authorize_url_uses_the_v2_endpoint_of_the_tenant_with_pkce(
    engine: OAuthEngine, sandbox_reset: SandboxHandle
) -> None:
    auth_url = httpx.URL(engine.begin("acme", PROVIDER, actor="user:test"))

    assert auth_url.path == "/common/oauth2/v2.0/authorize"
    assert auth_url.params["scope"].split(" ") == list(SCOPES)
    assert auth_url.params["code_challenge_method"] == "S256"
    assert len(auth_url.params["code_challenge"]) == 43


def test_refresh_sends_the_scope_and_stores_the_rotated_refresh_token(
    engine: OAuthEngine, store: Store, vault: Vault, sandbox_reset: SandboxHandle
) -> None:
    control(sandbox_reset, PROVIDER, "config", {"access_token_ttl": 60})
    integration = connect(engine, "acme", PROVIDER, LOGIN)
    original = stored_refresh_token(store, vault, integration.id)

    token = engine.refresh_if_expiring(integration.id)  # the sandbox, like Azure AD, refuses a refresh without scope

    assert sandbox_reset.state(PROVIDER).authenticate(token.value) is not None
    assert stored_refresh_token(store, vault, integration.id) != original


def test_config_tenant_segment_and_real_hosts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxHandle
) -> None:
    monkeypatch.setenv("OUTLOOK_TENANT", "organizations")
    config = oauth_config(real_hosts(sandbox_settings(sandbox, tmp_path), PROVIDER))

    assert config.authorize_url == "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
    assert config.token_url == "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
    assert config.revoke_url is None
    assert config.api_base_url == "https://graph.microsoft.com"


def test_the_account_id_is_the_oid_of_the_verified_id_token(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    integration = connect(engine, "acme", PROVIDER, LOGIN)

    account = sandbox_reset.state(PROVIDER).account(LOGIN)
    assert account is not None and integration.external_account_id == account.user_id  # the `oid` claim
    with store.session() as session:
        stored = session.get(Integration, integration.id)
        assert stored is not None and stored.external_account_id == account.user_id
    # The id_token was checked against the keys of the configured tenant segment.
    assert sandbox_reset.state(PROVIDER).requests.count(endpoint="GET /common/discovery/v2.0/keys") == 1


def test_an_id_token_that_fails_verification_connects_without_an_account_id(
    engine: OAuthEngine, sandbox_reset: SandboxHandle
) -> None:
    """Keys from elsewhere (here Google's sandbox keys) do not verify Microsoft's token: its claims
    are not trusted, so no account id, but the grant itself is good and is kept."""
    config = engine.providers[PROVIDER]
    engine.providers[PROVIDER] = config.model_copy(
        update={"id_token_jwks_url": f"{sandbox_reset.base_url('google_calendar')}/oauth2/v3/certs"}
    )

    with captured_logs() as logs:
        integration = connect(engine, "acme", PROVIDER, LOGIN)

    assert integration.status == IntegrationStatus.CONNECTED.value
    assert integration.external_account_id is None
    assert any("id_token verification failed" in warning for warning in logs.warnings())
