"""No token, code, state or secret in any response or log line, with the gateway served by uvicorn
exactly as `lineup-integrations gateway` serves it and a browser-like client following redirects."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from lineup_integrations.core.oauth import OAuthEngine, configured_providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.gateway.app import create_app, server_config
from lineup_integrations.gateway.logs import install_log_redaction
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox import SandboxHandle
from lineup_integrations.sandbox.server import ReadyServer
from tests.gateway.flows import JWT_SECRET, bearer, connect_body, open_credential, point_env_at_sandbox

SHUTDOWN_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class LiveGateway:
    base_url: str
    sandbox: SandboxHandle


@pytest.fixture
def live_gateway(
    sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch, store: Store, vault: Vault
) -> Iterator[LiveGateway]:
    listener = socket.create_server(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    point_env_at_sandbox(monkeypatch, sandbox_reset, f"{base_url}/api/v1/integrations/callback")
    settings = Settings.from_env(PROVIDERS).model_copy(update={"database_url": store.url})
    app = create_app(store, OAuthEngine(store, vault, configured_providers(PROVIDERS, settings)), settings)
    server = ReadyServer(server_config(app, host="127.0.0.1", port=listener.getsockname()[1]))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        assert server.ready.wait(SHUTDOWN_TIMEOUT_SECONDS) and server.started
        yield LiveGateway(base_url, sandbox_reset)
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        listener.close()


@pytest.mark.parametrize("provider", ["zoho", "google_calendar", "outlook_calendar"])
def test_no_secret_reaches_a_response_or_a_log_line(
    provider: str,
    live_gateway: LiveGateway,
    store: Store,
    vault: Vault,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = bearer("acme")
    with httpx.Client(base_url=live_gateway.base_url) as api:
        connected = api.post(
            "/api/v1/integrations/connect", json=connect_body(provider, "o@acme.test"), headers=headers
        )
        # The connect answer carries the state inside authUrl (the browser must take it to the provider): by design.
        assert connected.json()["authUrl"]
        # The browser: authorize URL → the sandbox approves → 302 to our callback → JSON.
        callback = httpx.get(connected.json()["authUrl"], follow_redirects=True)
        assert callback.status_code == 200 and callback.json() == {"success": True, "provider": provider}
        code, state = callback.url.params["code"], callback.url.params["state"]
        replayed = httpx.get(callback.url)
        assert replayed.status_code == 400
        listed = api.get("/api/v1/integrations", headers=headers)
        access, refresh = open_credential(store, vault, listed.json()[0]["id"])
        whose = {"userId": user} if (user := connect_body(provider).get("userId")) else {}
        disconnected = api.delete(f"/api/v1/integrations/{provider}", params=whose, headers=headers)
        assert disconnected.status_code == 200
        bodies = [callback.text, replayed.text, listed.text, disconnected.text]

    client_secret = live_gateway.sandbox.state(provider).config.client_secret.get_secret_value()
    secrets = {
        "code": code,
        "state": state,
        "access token": access,
        "refresh token": refresh,
        "client secret": client_secret,
        "jwt secret": JWT_SECRET,
        "bearer token": headers["Authorization"].removeprefix("Bearer "),
    }
    captured = capsys.readouterr()
    logged = "\n".join([caplog.text, *(str(record.__dict__) for record in caplog.records), captured.out, captured.err])
    for name, value in secrets.items():
        assert value, name
        assert value not in logged, f"the {name} was logged"
        assert all(value not in body for body in bodies), f"the {name} was in a response"
    # The gateway's own access log has the callback, without its query string.
    assert "GET /api/v1/integrations/callback 200" in caplog.text
    assert "GET /api/v1/integrations/callback 400" in caplog.text
    assert "HTTP Request: POST" in caplog.text  # httpx's request log was captured (and redacted)


def test_query_strings_are_stripped_from_library_url_logs(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    caplog.set_level(logging.INFO)

    revoke_url = httpx.URL("https://accounts.zoho.eu/oauth/v2/token/revoke?token=1000.secret")
    logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "POST", revoke_url, "200")
    logging.getLogger("uvicorn.error").warning("GET /api/v1/integrations/callback?code=abc123&state=xyz789 HTTP/1.1")

    assert "1000.secret" not in caplog.text and "abc123" not in caplog.text and "xyz789" not in caplog.text
    assert "https://accounts.zoho.eu/oauth/v2/token/revoke?[redacted]" in caplog.text
    assert "/api/v1/integrations/callback?[redacted]" in caplog.text
