"""The token-refresh schedule's job: run as Dagster runs it, against the sandbox's token endpoints."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import Credential, Integration, IntegrationStatus, Store
from lineup_integrations.google_calendar.resource import GoogleCalendarResource
from lineup_integrations.orchestration.resources import StoreResource, VaultResource
from lineup_integrations.orchestration.token_refresh import token_refresh_definitions
from lineup_integrations.sandbox import SandboxHandle
from tests.conftest import TEST_KEY
from tests.core.oauth.helpers import REDIRECT_URI, connect, control, token_requests

PROVIDER = "google_calendar"
SOON = 300  # seconds: inside the job's window (twice its 10-minute interval)


def refresh_job(store: Store, sandbox: SandboxHandle) -> dg.JobDefinition:
    resource = GoogleCalendarResource(
        client_id=sandbox.state(PROVIDER).config.client_id,
        client_secret=sandbox.state(PROVIDER).config.client_secret.get_secret_value(),
        redirect_uri=REDIRECT_URI, base_url=sandbox.base_url(PROVIDER),
        store=StoreResource(database_url=store.url), vault=VaultResource(encryption_keys=f"test:{TEST_KEY}"),
    )  # fmt: skip
    defs = dg.Definitions.merge(token_refresh_definitions(PROVIDER), dg.Definitions(resources={PROVIDER: resource}))
    return defs.get_job_def(f"{PROVIDER}_token_refresh")


def connect_with_ttl(engine: OAuthEngine, sandbox: SandboxHandle, tenant: str, ttl: int) -> Integration:
    control(sandbox, PROVIDER, "config", {"access_token_ttl": ttl})
    return connect(engine, tenant, PROVIDER, f"interviewer@{tenant}.test")


def expiry(store: Store, integration_id: str) -> dt.datetime:
    with store.session() as session:
        credential = session.get(Credential, integration_id)
        assert credential is not None
        return credential.expires_at


def status(store: Store, integration_id: str) -> str:
    with store.session() as session:
        integration = session.get(Integration, integration_id)
        assert integration is not None
        return integration.status


def test_tokens_expiring_before_the_next_run_are_refreshed_and_a_dead_grant_is_marked(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    expiring = connect_with_ttl(engine, sandbox_reset, "acme", SOON)
    revoked = connect_with_ttl(engine, sandbox_reset, "globex", SOON)
    fresh = connect_with_ttl(engine, sandbox_reset, "initech", 3600)
    control(sandbox_reset, PROVIDER, "config", {"access_token_ttl": 3600})
    control(sandbox_reset, PROVIDER, "tokens/revoke", {"login": "interviewer@globex.test"})
    before = {i.id: expiry(store, i.id) for i in (expiring, fresh)}

    result = refresh_job(store, sandbox_reset).execute_in_process()

    assert result.success
    assert expiry(store, expiring.id) - before[expiring.id] > dt.timedelta(minutes=50)
    assert expiry(store, fresh.id) == before[fresh.id]
    assert status(store, revoked.id) == IntegrationStatus.NEEDS_REAUTH.value
    assert status(store, expiring.id) == IntegrationStatus.CONNECTED.value
    assert token_requests(sandbox_reset, PROVIDER, "refresh_token") == 2  # not the fresh one
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata  # type: ignore[union-attr]
    assert (metadata["refreshed"].value, metadata["needs_reauth"].value, metadata["failed"].value) == (1, 1, 0)


def test_a_provider_outage_fails_the_run_and_keeps_the_integration_connected(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    integration = connect_with_ttl(engine, sandbox_reset, "acme", SOON)
    # Every attempt of the engine's HTTP client meets the outage.
    control(
        sandbox_reset, PROVIDER, "faults", {"kind": "status", "status": 503, "endpoint": "POST /token", "count": 20}
    )

    result = refresh_job(store, sandbox_reset).execute_in_process(raise_on_error=False)

    assert not result.success
    failure = result.failure_data_for_node(f"{PROVIDER}_refresh_expiring_tokens")
    assert failure is not None and "1 token refresh(es) failed" in (failure.error.message if failure.error else "")
    assert status(store, integration.id) == IntegrationStatus.CONNECTED.value


@pytest.mark.parametrize("minutes", [0, 7, 90])
def test_an_interval_that_does_not_divide_an_hour_is_refused(minutes: int) -> None:
    with pytest.raises(ValueError, match="dividing an hour"):
        token_refresh_definitions(PROVIDER, interval=dt.timedelta(minutes=minutes))
