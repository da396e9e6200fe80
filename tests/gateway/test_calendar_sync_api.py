"""`POST /api/v1/integrations/sync` for the calendars: the tenant's accounts or one user's, through a
real Dagster webserver and run worker to the sandbox and the store; refusals before Dagster."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lineup_integrations.core.store import CalendarEventRow, Store
from tests.calendar.accounts import CALENDAR_PROVIDERS, CalendarAccount
from tests.dagster_webserver import finished_run, wait_for
from tests.gateway.flows import bearer

SYNC = "/api/v1/integrations/sync"
NOWHERE = "http://127.0.0.1:9/graphql"  # never reached: the refusal comes first
Factory = Callable[..., CalendarAccount]


def test_sync_of_one_users_calendar_runs_for_that_account_only(
    store: Store, make_gateway: Callable[[str], TestClient], dagster_webserver: str, account_factory: Factory
) -> None:
    ana, bob = account_factory("google_calendar", "ana"), account_factory("google_calendar", "bob")
    ana.seed(5)
    bob.seed(5, seed=2)
    gateway = make_gateway(dagster_webserver)

    response = gateway.post(SYNC, headers=bearer("acme"), json={"provider": "google_calendar", "userId": "bob"})

    assert response.status_code == 200, response.text
    run = wait_for(lambda: finished_run(dagster_webserver, response.json()["runId"]), timeout=120, what="the run")
    assert run["status"] == "SUCCESS"  # type: ignore[index]
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}  # type: ignore[index]
    assert (tags["tenant"], tags["provider"], tags["lineup/queue"]) == (
        "acme",
        "google_calendar",
        "google_calendar:acme",
    )
    with store.session() as session:
        assert set(session.scalars(select(CalendarEventRow.user_id).distinct())) == {"bob"}


@pytest.mark.parametrize("provider", CALENDAR_PROVIDERS)
def test_a_user_without_a_connected_calendar_is_refused_with_409(
    provider: str, make_gateway: Callable[[str], TestClient], account_factory: Factory
) -> None:
    account_factory(provider, "ana")
    gateway = make_gateway(NOWHERE)

    response = gateway.post(SYNC, headers=bearer("acme"), json={"provider": provider, "userId": "carol"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "integration_not_connected"
    assert "carol" in response.json()["error"]["message"]


def test_a_tenant_without_any_calendar_account_is_refused_with_409(make_gateway: Callable[[str], TestClient]) -> None:
    response = make_gateway(NOWHERE).post(SYNC, headers=bearer("acme"), json={"provider": "outlook_calendar"})
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "zoho", "userId": "ana"}, "userId"),
        ({"provider": "google_calendar", "since": "2026-12-01T00:00:00Z"}, "since"),
        ({"provider": "outlook_calendar", "userId": "not a user id"}, "userId"),
    ],
)
def test_misplaced_fields_are_422_naming_them(
    body: dict[str, str], field: str, make_gateway: Callable[[str], TestClient]
) -> None:
    response = make_gateway(NOWHERE).post(SYNC, headers=bearer("acme"), json=body)
    assert response.status_code == 422
    assert field in response.text
