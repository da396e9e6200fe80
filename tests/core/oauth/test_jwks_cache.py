"""The identity providers' signing keys are fetched once and reused; a rotated key (an id_token
naming an unknown `kid`) refetches them, at most once per interval. Against the Google and
Microsoft sandboxes over HTTP, counting the key-set requests in the sandbox's request log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lineup_integrations.core.oauth import JwksCache, OAuthEngine
from lineup_integrations.core.store import Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import connect, control, sandbox_oauth_configs

KEY_SET_ENDPOINTS = {"google_calendar": "GET /oauth2/v3/certs", "outlook_calendar": "GET */discovery/v2.0/keys"}
REFETCH_INTERVAL = dt.timedelta(minutes=1)


class ManualClock:
    """The cache's monotonic clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta.total_seconds()


@pytest.fixture
def http(sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    for variable, value in sandbox_reset.environment().items():
        monkeypatch.setenv(variable, value)
    with httpx.Client(timeout=10.0) as client:
        yield client


def key_set_requests(sandbox: SandboxHandle, provider: str) -> int:
    return sandbox.state(provider).requests.count(endpoint=KEY_SET_ENDPOINTS[provider])


def account_of(sandbox: SandboxHandle, provider: str, login: str) -> str:
    """The id the provider's id_token names the account by (Google: the email; Microsoft: the object id)."""
    account = sandbox.state(provider).account(login)
    assert account is not None
    return login if provider == "google_calendar" else account.user_id


@pytest.mark.parametrize("provider", ["google_calendar", "outlook_calendar"])
def test_the_key_set_is_fetched_once_and_again_only_for_a_rotated_key_at_most_once_per_interval(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, tmp_path: Path, http: httpx.Client, provider: str
) -> None:
    clock = ManualClock()
    jwks = JwksCache(http, min_refetch_interval=REFETCH_INTERVAL, clock=clock)
    engine = OAuthEngine(store, vault, sandbox_oauth_configs(sandbox_reset, tmp_path), http=http, jwks=jwks)

    def connected_account(tenant: str) -> str | None:
        return connect(engine, tenant, provider, f"owner@{tenant}.example").external_account_id

    assert connected_account("acme") == account_of(sandbox_reset, provider, "owner@acme.example")
    assert connected_account("globex") == account_of(sandbox_reset, provider, "owner@globex.example")
    assert key_set_requests(sandbox_reset, provider) == 1  # the second connect reused the keys

    clock.advance(REFETCH_INTERVAL)
    control(sandbox_reset, provider, "keys/rotate", {})
    assert connected_account("initech") == account_of(sandbox_reset, provider, "owner@initech.example")
    assert key_set_requests(sandbox_reset, provider) == 2  # the unknown kid refetched the keys

    control(sandbox_reset, provider, "keys/rotate", {})  # rotated again, within the interval
    assert connected_account("umbrella") is None  # not verifiable with the cached keys: no claims used
    assert key_set_requests(sandbox_reset, provider) == 2  # rate-limited: no request

    clock.advance(REFETCH_INTERVAL)
    assert connected_account("hooli") == account_of(sandbox_reset, provider, "owner@hooli.example")
    assert connected_account("umbrella") == account_of(sandbox_reset, provider, "owner@umbrella.example")
    assert key_set_requests(sandbox_reset, provider) == 3


def test_a_failed_refetch_keeps_the_cached_keys(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, tmp_path: Path, http: httpx.Client
) -> None:
    provider = "google_calendar"
    clock = ManualClock()
    jwks = JwksCache(http, min_refetch_interval=REFETCH_INTERVAL, max_age=dt.timedelta(hours=1), clock=clock)
    engine = OAuthEngine(store, vault, sandbox_oauth_configs(sandbox_reset, tmp_path), http=http, jwks=jwks)
    assert connect(engine, "acme", provider, "owner@acme.example").external_account_id == "owner@acme.example"

    clock.advance(dt.timedelta(hours=1))  # the cached set is stale: the next connect refetches it
    control(sandbox_reset, provider, "faults", {"endpoint": KEY_SET_ENDPOINTS[provider], "status": 503})
    integration = connect(engine, "globex", provider, "owner@globex.example")

    assert integration.external_account_id == "owner@globex.example"  # verified with the kept keys
    assert key_set_requests(sandbox_reset, provider) == 2
