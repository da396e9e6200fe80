"""No token the providers issue ever shows up in a log record, a gateway response or a table.

The sandbox lists every code, access token and refresh token it handed out (`GET /_sandbox/tokens`),
so this test needs no guess of what a secret looks like: it drives connect → provider consent →
callback through the gateway for all three providers, then a Zoho refresh and sync through the
Zoho resource, and searches everything the system wrote for each issued value. The store keeps
tokens sealed by the vault, so a match in a table means a plaintext copy.
"""

from __future__ import annotations

import logging
from collections import Counter

import httpx
import pytest
from fastapi.testclient import TestClient

from lineup_integrations.core.oauth import OAuthEngine, configured_providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.gateway.app import create_app
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox import SandboxHandle
from lineup_integrations.zoho.pipeline import sync_and_map_contacts
from tests.core.oauth.helpers import control
from tests.gateway.flows import (
    CALLBACK_URL,
    approve_at_provider,
    bearer,
    connect_body,
    point_env_at_sandbox,
    store_dump,
)
from tests.zoho.conftest import make_zoho_resource, started

TENANT = "acme"
LOGINS = {"zoho": "admin@acme.example", "google_calendar": "cal@acme.example", "outlook_calendar": "o@acme.example"}
CONTACTS = 450


def test_no_issued_token_reaches_a_log_a_response_or_a_table(
    store: Store,
    store_url: str,
    vault: Vault,
    sandbox_reset: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger at DEBUG: every library's records reach caplog
    point_env_at_sandbox(monkeypatch, sandbox_reset, CALLBACK_URL)
    org_id = control(sandbox_reset, "zoho", "accounts", {"login": LOGINS["zoho"], "dc": "eu"})["account_id"]
    control(sandbox_reset, "zoho", f"crm/orgs/{org_id}/seed", {"count": CONTACTS, "seed": 5})
    settings = Settings.from_env(PROVIDERS).model_copy(update={"database_url": store.url})
    responses: list[httpx.Response] = []

    engine = OAuthEngine(store, vault, configured_providers(PROVIDERS, settings))
    with TestClient(create_app(store, engine, settings)) as gateway:
        for provider, login in LOGINS.items():
            connected = gateway.post(
                "/api/v1/integrations/connect", json=connect_body(provider, login), headers=bearer(TENANT)
            )
            assert connected.status_code == 200, connected.text
            consent = approve_at_provider(connected.json()["authUrl"])
            callback = gateway.get("/api/v1/integrations/callback", params=consent)
            assert callback.json() == {"success": True, "provider": provider}
            responses += [connected, callback]
        listed = gateway.get("/api/v1/integrations", headers=bearer(TENANT))
        assert sorted(item["provider"] for item in listed.json()) == sorted(LOGINS)
        responses.append(listed)

    # The Zoho side: the first Contacts call meets an expired token, so the resource refreshes, then syncs.
    control(sandbox_reset, "zoho", "faults", {"endpoint": "GET */crm/*/Contacts*", "status": 401, "count": 1})
    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        stats, _ = sync_and_map_contacts(store, resource.client_for(TENANT), TENANT)
    assert stats.fetched == CONTACTS

    issued = {
        provider: httpx.get(f"{sandbox_reset.base_url(provider)}/_sandbox/tokens").json()["tokens"]
        for provider in LOGINS
    }
    zoho_kinds = Counter(token["kind"] for token in issued["zoho"])
    assert zoho_kinds["code"] == 1 and zoho_kinds["refresh_token"] == 1 and zoho_kinds["access_token"] == 2
    assert all({"code", "access_token", "refresh_token"} <= {t["kind"] for t in tokens} for tokens in issued.values())

    captured = capsys.readouterr()
    places = {
        "a log record": "\n".join([caplog.text, *(str(record.__dict__) for record in caplog.records)]),
        "stdout/stderr": captured.out + captured.err,
        "a gateway response": "\n".join(f"{r.headers}\n{r.text}" for r in responses),
        "a table": store_dump(store),
    }
    assert "HTTP Request: POST" in places["a log record"]  # the token calls were logged (redacted), and captured
    for provider, tokens in issued.items():
        for token in tokens:
            for place, text in places.items():
                assert token["value"] not in text, f"{provider}'s {token['kind']} leaked into {place}"
