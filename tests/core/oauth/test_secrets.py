"""No token, code, state or client secret in log lines, exception messages or audit entries."""

from __future__ import annotations

from lineup_integrations.core.oauth import OAuthEngine, OAuthError
from lineup_integrations.core.store import Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import (
    assert_nowhere_in_store,
    authorize,
    captured_logs,
    control,
    stored_refresh_token,
)

PROVIDER = "zoho"
LOGIN = "admin@acme.example"


def test_a_whole_lifecycle_logs_and_audits_no_secret(
    engine: OAuthEngine, store: Store, vault: Vault, sandbox_reset: SandboxHandle
) -> None:
    with captured_logs() as logs:  # (not `caplog`: this must hold under `-p no:logging` too)
        secrets, errors = _whole_lifecycle(engine, store, vault, sandbox_reset)

    assert [type(error).__name__ for error in errors] == [
        "InvalidStateError",
        "TokenRefreshError",
        "ReauthorizationRequiredError",
    ]
    # The engine's own records: log lines (ours and httpx's), exception messages, the store.
    engine_logs = "\n".join(record.getMessage() for record in logs.records if record.name.startswith("lineup"))
    assert "needs reauthorization" in engine_logs  # the logs do say what happened
    assert "OAuth callback refused, invalid state (used)" in engine_logs  # the replay
    texts = [logs.text, *(f"{error} {error!r}" for error in errors)]
    for secret in secrets[2:]:
        for text in texts:
            assert secret not in text
    for secret in secrets[:2]:  # the browser's own request carried code and state; nothing of ours repeats them
        assert secret not in engine_logs and all(secret not in f"{error}" for error in errors)
    assert_nowhere_in_store(store, *secrets)


def _whole_lifecycle(
    engine: OAuthEngine, store: Store, vault: Vault, sandbox_reset: SandboxHandle
) -> tuple[list[str], list[OAuthError]]:
    """Connect, replay the callback, refresh, fail a refresh, lose the grant, disconnect: the
    secrets involved (code, state, access token, refresh token, client secret) and the errors."""
    errors: list[OAuthError] = []
    control(sandbox_reset, PROVIDER, "config", {"access_token_ttl": 60})
    params = authorize(engine.begin("acme", PROVIDER, actor="user:test", login_hint=LOGIN))
    integration = engine.complete(PROVIDER, params)
    try:
        engine.complete(PROVIDER, params)  # replay
    except OAuthError as error:
        errors.append(error)
    secrets = [
        params["code"],
        params["state"],
        engine.refresh_if_expiring(integration.id).value,  # refreshes (60 s token)
        stored_refresh_token(store, vault, integration.id),
        sandbox_reset.state(PROVIDER).config.client_secret.get_secret_value(),
    ]
    control(sandbox_reset, PROVIDER, "faults", {"endpoint": "POST /oauth/v2/token", "status": 503})
    try:
        engine.force_refresh(integration.id, stale_access_token=secrets[2])
    except OAuthError as error:
        errors.append(error)
    control(sandbox_reset, PROVIDER, "tokens/revoke", {"login": LOGIN})
    try:
        engine.force_refresh(integration.id, stale_access_token=secrets[2])
    except OAuthError as error:
        errors.append(error)
    engine.disconnect("acme", PROVIDER, actor="user:test")
    return secrets, errors
