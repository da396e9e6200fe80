"""Adding a provider is one folder plus one line: `tests/fake_provider/` is such a folder, and
`PROVIDERS.with_provider(FAKE)` the line. With nothing else changed, the CLI, the sandbox server,
the settings and the Dagster code location all take it in."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import httpx
import pytest
from typer.testing import CliRunner

from lineup_integrations.cli import build_cli
from lineup_integrations.core.settings import Settings, SettingsError
from lineup_integrations.definitions import build_definitions
from lineup_integrations.orchestration.resources import SharedResources
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox import running_sandbox
from tests.fake_provider.definitions import FakeCrmResource
from tests.fake_provider.provider import FAKE


@pytest.fixture(autouse=True)
def current_instance() -> Iterator[dg.DagsterInstance]:
    """A live Dagster instance for each test: resolving a repository reads Dagster's current
    instance, and a closed one that an earlier test (in another module) left behind breaks it."""
    with dg.instance_for_test() as instance:
        yield instance


WITH_FAKE = PROVIDERS.with_provider(FAKE)
SANDBOX_ENV = {"LINEUP_ENVIRONMENT": "sandbox", "ENCRYPTION_KEY": "k" * 32}

runner = CliRunner()


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared resources read the process environment (through `dg.EnvVar`)."""
    for name, value in SANDBOX_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("ENCRYPTION_KEYS", "LINEUP_PROVIDERS", "LINEUP_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_the_cli_lists_the_new_provider_and_serves_its_sandbox_port() -> None:
    cli = build_cli(WITH_FAKE)

    listed = runner.invoke(cli, ["providers"])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if line.startswith("fake_crm"))
    assert "FAKECRM_*" in line and ":8899" in line and "(Fake CRM)" in line

    sandbox_help = runner.invoke(cli, ["sandbox", "--help"], terminal_width=200)
    assert sandbox_help.exit_code == 0 and "fake_crm=8899" in sandbox_help.output


def test_the_registry_alone_does_not_know_it() -> None:
    listed = runner.invoke(build_cli(PROVIDERS), ["providers"])
    assert listed.exit_code == 0 and "fake_crm" not in listed.output


def test_the_sandbox_serves_it_next_to_the_others() -> None:
    with running_sandbox(providers=WITH_FAKE) as sandbox:
        assert set(sandbox.providers) == set(WITH_FAKE.names)
        environment = sandbox.environment()
        assert environment["FAKECRM_BASE_URL"] == sandbox.base_url("fake_crm")
        assert environment["FAKECRM_CLIENT_ID"] == FAKE.sandbox_client_id
        # Its own routes and the kit's control API answer on its port.
        base = sandbox.base_url("fake_crm")
        stats = httpx.get(f"{base}/_sandbox/stats", timeout=10)
        assert stats.status_code == 200
        authorize = httpx.get(
            f"{base}/oauth/authorize",
            params={
                "client_id": FAKE.sandbox_client_id,
                "redirect_uri": "http://127.0.0.1/cb",
                "state": "s",
                "login_hint": "a@fake.example",
                "scope": "contacts.read",
            },
            timeout=10,
        )
        assert authorize.status_code in (302, 307) and "code=" in authorize.headers["location"]
        # Settings built from that environment point its OAuth client at its twin.
        settings = Settings.from_env(WITH_FAKE, environment)
        assert FAKE.oauth_config(settings.provider("fake_crm")).token_url == f"{base}/oauth/token"


def test_live_settings_require_its_client_id() -> None:
    live = {"LINEUP_ENVIRONMENT": "live", "LINEUP_PROVIDERS": "fake_crm"}
    with pytest.raises(SettingsError, match="FAKECRM_CLIENT_ID is not set"):
        Settings.from_env(WITH_FAKE, live)
    settings = Settings.from_env(WITH_FAKE, {**live, "FAKECRM_CLIENT_ID": "id", "FAKECRM_CLIENT_SECRET": "secret"})
    assert settings.provider("fake_crm").client_id == "id" and settings.provider("fake_crm").base_url is None


def test_the_code_location_holds_its_asset_and_resource_next_to_zohos(sandbox_env: None) -> None:
    defs = build_definitions(WITH_FAKE, Settings.from_env(WITH_FAKE, SANDBOX_ENV))

    repository = defs.get_repository_def()
    keys = set(repository.asset_graph.get_all_asset_keys())
    assert {dg.AssetKey("fake_crm_contacts"), dg.AssetKey("zoho_contacts_raw"), dg.AssetKey("contacts")} <= keys
    resources = dict(defs.resources or {})
    assert isinstance(resources["fake_crm"], FakeCrmResource)
    assert resources["fake_crm"].base_url == f"http://127.0.0.1:{FAKE.sandbox_port}"
    # Store and vault are bound once, and Zoho's resource uses that very store.
    assert {"store", "vault", "zoho", "fake_crm"} <= set(resources)
    assert resources["zoho"].store is resources["store"]
    with dg.instance_for_test():
        dg.Definitions.validate_loadable(defs)


def test_a_provider_disabled_by_lineup_providers_brings_no_definitions(sandbox_env: None) -> None:
    settings = Settings.from_env(WITH_FAKE, {**SANDBOX_ENV, "LINEUP_PROVIDERS": "zoho"})
    defs = build_definitions(WITH_FAKE, settings)
    assert "fake_crm" not in dict(defs.resources or {})
    assert dg.AssetKey("fake_crm_contacts") not in set(defs.get_repository_def().asset_graph.get_all_asset_keys())


def test_the_three_real_providers_load_together(sandbox_env: None) -> None:
    """Every registered provider enabled at once: each one that has Dagster definitions (Zoho; the
    calendars as their sync lands) contributes all of its assets and resources to one location."""
    settings = Settings.from_env(PROVIDERS, SANDBOX_ENV)
    assert set(settings.providers) == {"zoho", "google_calendar", "outlook_calendar"}
    defs = build_definitions(PROVIDERS, settings)

    merged_keys = set(defs.get_repository_def().asset_graph.get_all_asset_keys())
    merged_resources = dict(defs.resources or {})
    assert {"store", "vault", "zoho"} <= set(merged_resources)
    shared = SharedResources.from_env()
    for provider in PROVIDERS:
        if provider.definitions is None:
            continue
        own = provider.definitions.load()(settings.provider(provider.name), shared)
        own_keys = {
            key for assets in own.assets or () if isinstance(assets, dg.AssetsDefinition) for key in assets.keys
        }
        assert own_keys <= merged_keys, provider.name
        assert set(dict(own.resources or {})) <= set(merged_resources), provider.name
    with dg.instance_for_test():
        dg.Definitions.validate_loadable(defs)
