"""Zoho's OAuth config through the engine, against the Zoho sandbox over HTTP: data centres,
the accounts-server check, and Zoho's HTTP-200 token errors."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from lineup_integrations.core.oauth import (
    InvalidAuthorizationCodeError,
    OAuthEngine,
    TokenExchangeError,
    UntrustedAccountsServerError,
)
from lineup_integrations.core.store import IntegrationStatus, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.sandbox import SandboxHandle
from lineup_integrations.zoho.oauth import REAL_DATA_CENTRES, SCOPES, oauth_config
from tests.core.oauth.helpers import (
    assert_nowhere_in_store,
    audit_entries,
    authorize,
    control,
    real_hosts,
    row_counts,
    sandbox_settings,
    stored_refresh_token,
    token_requests,
)

PROVIDER = "zoho"
LOGIN = "admin@acme.example"


def _callback_params(engine: OAuthEngine, sandbox: SandboxHandle, dc: str) -> dict[str, str]:
    control(sandbox, PROVIDER, "accounts", {"login": LOGIN, "dc": dc})
    return authorize(engine.begin("acme", PROVIDER, actor="user:test", login_hint=LOGIN))


def _token_calls(sandbox: SandboxHandle) -> dict[str, int]:
    return control(sandbox, PROVIDER, "requests?endpoint=POST */oauth/v2/token")["by_endpoint"]


def test_authorize_url_asks_for_offline_consent_with_comma_separated_scopes(
    engine: OAuthEngine, sandbox_reset: SandboxHandle
) -> None:
    auth_url = httpx.URL(engine.begin("acme", PROVIDER, actor="user:test"))

    assert str(auth_url).startswith(f"{sandbox_reset.base_url(PROVIDER)}/oauth/v2/auth?")
    params = auth_url.params
    assert params["scope"] == ",".join(SCOPES)
    assert (params["access_type"], params["prompt"]) == ("offline", "consent")
    assert "code_challenge" not in params  # Zoho does not do PKCE


@pytest.mark.parametrize("dc", ["us", "eu", "ca"])
def test_connect_in_each_data_centre_redeems_the_code_there_and_keeps_the_api_domain(
    engine: OAuthEngine, store: Store, vault: Vault, sandbox_reset: SandboxHandle, dc: str
) -> None:
    params = _callback_params(engine, sandbox_reset, dc)
    dc_url = sandbox_reset.base_url(PROVIDER) + ("" if dc == "us" else f"/{dc}")
    assert (params["location"], params["accounts-server"]) == (dc, dc_url)

    integration = engine.complete(PROVIDER, params)

    assert integration.status == IntegrationStatus.CONNECTED.value
    assert (integration.region, integration.accounts_server, integration.api_domain) == (dc, dc_url, dc_url)
    assert integration.scopes == list(SCOPES)
    account = sandbox_reset.state(PROVIDER).account(LOGIN)
    assert account is not None and integration.external_account_id == account.account_id  # from GET …/crm/v8/org
    token_path = "/oauth/v2/token" if dc == "us" else f"/{dc}/oauth/v2/token"
    assert _token_calls(sandbox_reset) == {f"POST {token_path}": 1}
    token = engine.refresh_if_expiring(integration.id)
    assert token.api_domain == dc_url
    assert token.value.startswith("1000.")
    assert_nowhere_in_store(store, token.value, stored_refresh_token(store, vault, integration.id))


def test_a_failed_org_lookup_does_not_waste_the_consent(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    control(sandbox_reset, PROVIDER, "faults", {"endpoint": "GET /crm/v8/org", "status": 500})

    integration = engine.complete(PROVIDER, _callback_params(engine, sandbox_reset, "us"))

    assert integration.status == IntegrationStatus.CONNECTED.value
    assert integration.external_account_id is None
    assert control(sandbox_reset, PROVIDER, "requests?endpoint=GET /crm/v8/org")["count"] == 1
    assert row_counts(store) == {"integrations": 1, "credentials": 1}


def test_refresh_goes_to_the_tenants_data_centre(engine: OAuthEngine, sandbox_reset: SandboxHandle) -> None:
    control(sandbox_reset, PROVIDER, "config", {"access_token_ttl": 60})
    integration = engine.complete(PROVIDER, _callback_params(engine, sandbox_reset, "eu"))

    engine.refresh_if_expiring(integration.id)

    assert _token_calls(sandbox_reset) == {"POST /eu/oauth/v2/token": 2}  # code, then refresh
    assert token_requests(sandbox_reset, PROVIDER, "refresh_token") == 1


@pytest.mark.parametrize(
    "accounts_server",
    ["https://accounts.evil.example", "{base}/evil", "{base}.evil.example", "https://accounts.zoho.eu"],
)
def test_accounts_server_outside_the_data_centre_table_is_refused_before_any_token_call(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle, accounts_server: str
) -> None:
    params = _callback_params(engine, sandbox_reset, "eu")
    # (The real EU host is not one of the sandbox's data centres either.)
    forged = accounts_server.format(base=sandbox_reset.base_url(PROVIDER))

    with pytest.raises(UntrustedAccountsServerError) as refused:
        engine.complete(PROVIDER, {**params, "accounts-server": forged})

    assert forged not in str(refused.value)
    assert token_requests(sandbox_reset, PROVIDER, "authorization_code") == 0  # our secret went nowhere
    assert row_counts(store) == {"integrations": 0, "credentials": 0}
    entry = audit_entries(store, "callback")[-1]
    assert (entry.tenant_id, entry.outcome, entry.detail["reason"]) == ("acme", "failure", "untrusted_accounts_server")


def test_location_contradicting_the_accounts_server_is_refused(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    params = _callback_params(engine, sandbox_reset, "eu")

    with pytest.raises(UntrustedAccountsServerError):
        engine.complete(PROVIDER, {**params, "location": "us"})
    assert token_requests(sandbox_reset, PROVIDER, "authorization_code") == 0


def test_code_redeemed_at_another_known_data_centre_fails_as_zoho_answers(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    """A swapped but known accounts server: Zoho answers HTTP 200 `invalid_client`, a failure."""
    params = _callback_params(engine, sandbox_reset, "eu")
    in_server = f"{sandbox_reset.base_url(PROVIDER)}/in"

    with pytest.raises(TokenExchangeError) as failed:
        engine.complete(PROVIDER, {**params, "location": "in", "accounts-server": in_server})

    assert failed.value.error == "invalid_client"
    assert not isinstance(failed.value, InvalidAuthorizationCodeError)  # our client is refused: a provider-side failure
    assert row_counts(store) == {"integrations": 0, "credentials": 0}


def test_http_200_token_error_is_a_failure_and_nothing_is_written(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    params = _callback_params(engine, sandbox_reset, "us")

    with pytest.raises(TokenExchangeError) as failed:
        engine.complete(PROVIDER, {**params, "code": "1000.not-a-code"})

    assert failed.value.error == "invalid_code"
    assert isinstance(failed.value, InvalidAuthorizationCodeError)  # the caller's bad code, not a provider failure
    (token_call,) = sandbox_reset.state(PROVIDER).requests.entries(endpoint="POST /oauth/v2/token")
    assert token_call.status == 200  # Zoho's way of reporting it
    assert row_counts(store) == {"integrations": 0, "credentials": 0}
    entry = audit_entries(store, "callback")[-1]
    assert (entry.outcome, entry.detail) == (
        "failure",
        {"reason": "invalid_authorization_code", "error": "invalid_code"},
    )


def test_wrong_client_secret_is_reported_without_the_secret(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable, value in sandbox_reset.environment().items():
        monkeypatch.setenv(variable, value)
    settings = sandbox_settings(sandbox_reset, tmp_path)
    wrong_secret = "not-the-zoho-secret"
    client = settings.providers[PROVIDER].model_copy(update={"client_secret": SecretStr(wrong_secret)})
    with httpx.Client(timeout=10.0) as http:
        engine = OAuthEngine(store, vault, {PROVIDER: oauth_config(client)}, http=http)
        params = authorize(engine.begin("acme", PROVIDER, actor="user:test", login_hint=LOGIN))
        with pytest.raises(TokenExchangeError) as failed:
            engine.complete(PROVIDER, params)

    assert failed.value.error == "invalid_client_secret"
    assert wrong_secret not in str(failed.value) and wrong_secret not in repr(failed.value)
    assert row_counts(store) == {"integrations": 0, "credentials": 0}


def test_config_uses_the_real_data_centres_without_a_base_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxHandle
) -> None:
    config = oauth_config(real_hosts(sandbox_settings(sandbox, tmp_path), PROVIDER))

    assert config.authorize_url == "https://accounts.zoho.com/oauth/v2/auth"
    assert {dc: config.endpoint_for_region(dc).token_url for dc in REAL_DATA_CENTRES} == {
        "us": "https://accounts.zoho.com/oauth/v2/token",
        "eu": "https://accounts.zoho.eu/oauth/v2/token",
        "in": "https://accounts.zoho.in/oauth/v2/token",
        "au": "https://accounts.zoho.com.au/oauth/v2/token",
        "jp": "https://accounts.zoho.jp/oauth/v2/token",
        "ca": "https://accounts.zohocloud.ca/oauth/v2/token",
        "cn": "https://accounts.zoho.com.cn/oauth/v2/token",
        "sa": "https://accounts.zoho.sa/oauth/v2/token",
    }
    eu = config.endpoint_for_callback({"location": "eu", "accounts-server": "https://accounts.zoho.eu"})
    assert (eu.region, eu.revoke_url) == ("eu", "https://accounts.zoho.eu/oauth/v2/token/revoke")
    assert config.endpoint_for_callback({}).region == "us"
    with pytest.raises(UntrustedAccountsServerError):
        config.endpoint_for_callback({"accounts-server": "https://accounts.zoho.com.evil.example"})
