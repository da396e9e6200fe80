"""Google's OAuth config through the engine, against the Google sandbox over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import select

from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import Credential, Integration, IntegrationStatus, OAuthState, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.google_calendar.oauth import SCOPES, oauth_config
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import (
    assert_nowhere_in_store,
    connect,
    real_hosts,
    sandbox_settings,
    stored_refresh_token,
    token_requests,
)

PROVIDER = "google_calendar"


def test_connect_flow_ends_connected_with_only_ciphertext_stored(
    engine: OAuthEngine, store: Store, vault: Vault, sandbox_reset: SandboxHandle
) -> None:
    integration = connect(engine, "acme", PROVIDER, "recruiter@acme.example")

    assert integration.status == IntegrationStatus.CONNECTED.value
    assert integration.tenant_id == "acme"
    assert integration.scopes == list(SCOPES)
    assert integration.api_domain == sandbox_reset.base_url(PROVIDER)
    token = engine.refresh_if_expiring(integration.id)
    account = sandbox_reset.state(PROVIDER).authenticate(token.value)
    assert account is not None and account.login == "recruiter@acme.example"
    assert token_requests(sandbox_reset, PROVIDER, "authorization_code") == 1
    assert token_requests(sandbox_reset, PROVIDER, "refresh_token") == 0  # fresh token: no refresh
    assert token.value not in repr(token)
    assert_nowhere_in_store(store, token.value, stored_refresh_token(store, vault, integration.id))


def test_authorize_url_asks_for_offline_consent_with_pkce_s256(engine: OAuthEngine, store: Store, vault: Vault) -> None:
    auth_url = httpx.URL(engine.begin("acme", PROVIDER, actor="user:test"))

    params = auth_url.params
    assert auth_url.path == "/o/oauth2/v2/auth"
    assert params["access_type"] == "offline"
    assert params["prompt"] == "consent"
    assert params["include_granted_scopes"] == "true"
    assert params["scope"].split(" ") == list(SCOPES)
    assert params["code_challenge_method"] == "S256"
    with store.session() as session:
        state_row = session.scalars(select(OAuthState)).one()
    # The verifier is sealed for this state only; the challenge in the URL is derived from it.
    verifier = vault.open(state_row.code_verifier or "", context=f"state:{state_row.state_hash}:code_verifier")
    assert verifier not in str(auth_url)
    assert params["code_challenge"] == create_s256_code_challenge(verifier)


def test_refresh_token_comes_back_on_reconnect_and_replaces_the_old_grant(
    engine: OAuthEngine, store: Store, vault: Vault
) -> None:
    first = connect(engine, "acme", PROVIDER, "recruiter@acme.example")
    first_refresh_token = stored_refresh_token(store, vault, first.id)

    second = connect(engine, "acme", PROVIDER, "recruiter@acme.example")

    assert second.id == first.id  # one integration per (tenant, provider)
    assert stored_refresh_token(store, vault, second.id) != first_refresh_token  # prompt=consent: a new one
    with store.session() as session:
        assert len(session.scalars(select(Credential)).all()) == 1


def test_config_defaults_to_googles_real_hosts_and_hides_the_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxHandle
) -> None:
    settings = sandbox_settings(sandbox, tmp_path)
    config = oauth_config(real_hosts(settings, PROVIDER))

    assert config.authorize_url == "https://accounts.google.com/o/oauth2/v2/auth"
    assert config.token_url == "https://oauth2.googleapis.com/token"
    assert config.revoke_url == "https://oauth2.googleapis.com/revoke"
    assert config.api_base_url == "https://www.googleapis.com"
    assert settings.providers[PROVIDER].client_secret.get_secret_value() not in repr(config)


def test_the_account_id_is_the_email_of_the_verified_id_token(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    integration = connect(engine, "acme", PROVIDER, "recruiter@acme.example")

    assert integration.external_account_id == "recruiter@acme.example"
    with store.session() as session:
        stored = session.get(Integration, integration.id)
        assert stored is not None and stored.external_account_id == "recruiter@acme.example"
    # The id_token was checked against the keys Google publishes (here: the sandbox standing in).
    assert sandbox_reset.state(PROVIDER).requests.count(endpoint="GET /oauth2/v3/certs") == 1
