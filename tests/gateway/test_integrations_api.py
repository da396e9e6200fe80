"""The `/api/v1/integrations` endpoints over the real OAuth engine, store and provider sandbox."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from lineup_integrations.core.oauth import OAuthEngine, configured_providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import AuditEntry, Credential, Integration, OAuthState, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.gateway.app import create_app
from lineup_integrations.registry import PROVIDERS as REGISTRY
from lineup_integrations.sandbox import SandboxHandle
from tests.gateway.flows import (
    JWT_SECRET,
    PROVIDERS,
    approve_at_provider,
    audit_trail,
    bearer,
    connect_body,
    open_credential,
    store_dump,
)

CONNECT = "/api/v1/integrations/connect"
CALLBACK = "/api/v1/integrations/callback"
LIST = "/api/v1/integrations"


def start_connection(
    client: TestClient, tenant: str, provider: str, login: str, *, user_id: str = "ana"
) -> dict[str, str]:
    """Connect as `tenant` (as its user `user_id`, for a per-user provider) and let the sandbox
    approve: the callback parameters, not yet delivered."""
    response = client.post(CONNECT, json=connect_body(provider, login, user_id=user_id), headers=bearer(tenant))
    assert response.status_code == 200, response.text
    return approve_at_provider(response.json()["authUrl"])


def connect(client: TestClient, tenant: str, provider: str, login: str, *, user_id: str = "ana") -> None:
    response = client.get(CALLBACK, params=start_connection(client, tenant, provider, login, user_id=user_id))
    assert response.status_code == 200, response.text


def row_counts(store: Store) -> dict[str, int]:
    with store.session() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Integration, Credential, OAuthState, AuditEntry)
        }


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]


# -- the flow end to end -------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connect_and_callback_through_the_sandbox_leave_a_connected_integration_with_only_ciphertext(
    provider: str, client: TestClient, store: Store, vault: Vault, gateway_env: SandboxHandle
) -> None:
    headers = bearer("acme", subject="ana@acme.test")

    response = client.post(CONNECT, json=connect_body(provider, "owner@acme.test"), headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"authUrl", "provider"} and body["provider"] == provider
    assert body["authUrl"].startswith(gateway_env.base_url(provider))
    params = approve_at_provider(body["authUrl"])

    response = client.get(CALLBACK, params=params)  # no bearer token: the state says who
    assert response.status_code == 200
    assert response.json() == {"success": True, "provider": provider}

    listed = client.get(LIST, headers=headers).json()
    summary = [(item["provider"], item["userId"], item["status"], item["lastSyncedAt"]) for item in listed]
    assert summary == [(provider, "ana" if REGISTRY[provider].per_user else None, "connected", None)]
    assert set(listed[0]) == {"id", "provider", "userId", "status", "lastSyncedAt", "createdAt"}
    assert dt.datetime.fromisoformat(listed[0]["createdAt"]).tzinfo is not None

    access, refresh = open_credential(store, vault, listed[0]["id"])
    account = gateway_env.state(provider).authenticate(access)
    assert account is not None and account.login == "owner@acme.test"  # a live token of the approving account
    dump = store_dump(store)
    for secret in (access, refresh, params["code"], params["state"]):
        assert secret and secret not in dump
    assert [entry for entry in audit_trail(store) if entry[3] == "success"] == [
        ("acme", provider, "connect", "success", "ana@acme.test"),
        ("acme", provider, "callback", "success", "oauth-callback"),
    ]


def test_a_zoho_account_in_another_data_centre_is_redeemed_there(
    client: TestClient, store: Store, gateway_env: SandboxHandle
) -> None:
    gateway_env.state("zoho").create_account("owner@eu.acme.test", dc="eu")
    params = start_connection(client, "acme-eu", "zoho", "owner@eu.acme.test")
    assert params["location"] == "eu" and "accounts-server" in params

    assert client.get(CALLBACK, params=params).status_code == 200

    with store.session() as session:
        integration = session.scalars(select(Integration)).one()
    assert (integration.status, integration.region) == ("connected", "eu")
    assert integration.api_domain == f"{gateway_env.base_url('zoho')}/eu"


def test_the_callback_may_name_its_provider_but_not_another(client: TestClient, store: Store) -> None:
    params = start_connection(client, "acme", "google_calendar", "owner@acme.test")

    misrouted = client.get(CALLBACK, params={**params, "provider": "zoho"})
    assert misrouted.status_code == 400 and error_of(misrouted)["code"] == "invalid_state"
    assert row_counts(store)["integrations"] == 0

    named = client.get(CALLBACK, params={**params, "provider": "google_calendar"})  # the state was not spent
    assert named.json() == {"success": True, "provider": "google_calendar"}


def test_disconnect_revokes_drops_the_credentials_and_keeps_the_integration_listed(
    client: TestClient, store: Store, gateway_env: SandboxHandle
) -> None:
    connect(client, "acme", "zoho", "owner@acme.test")
    headers = bearer("acme", subject="ops@acme.test")

    response = client.delete(f"{LIST}/zoho", headers=headers)

    assert response.status_code == 200 and response.json() == {"success": True, "provider": "zoho"}
    assert [(item["provider"], item["status"]) for item in client.get(LIST, headers=headers).json()] == [
        ("zoho", "disconnected")
    ]
    assert row_counts(store)["credentials"] == 0
    assert ("acme", "zoho", "disconnect", "success", "ops@acme.test") in audit_trail(store)
    assert not gateway_env.state("zoho").has_live_grant("owner@acme.test", gateway_env.state("zoho").config.client_id)


# -- per-user providers: one calendar per Lineup user -------------------------------------------------------

CALENDARS = [name for name in PROVIDERS if REGISTRY[name].per_user]


def integrations_by_user(client: TestClient, tenant: str) -> dict[tuple[str, str | None], dict[str, str]]:
    return {(item["provider"], item["userId"]): item for item in client.get(LIST, headers=bearer(tenant)).json()}


def audit_of(store: Store, integration_id: str) -> list[tuple[str, str]]:
    """(action, actor) of the audit entries naming `integration_id`, oldest first."""
    with store.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    return [(entry.action, entry.actor) for entry in entries if entry.detail.get("integration_id") == integration_id]


def test_the_calendars_are_the_per_user_providers() -> None:
    assert CALENDARS == ["google_calendar", "outlook_calendar"]
    assert not REGISTRY["zoho"].per_user


def test_two_users_of_one_tenant_connect_each_calendar_to_their_own_account(
    client: TestClient, store: Store, vault: Vault, gateway_env: SandboxHandle
) -> None:
    for provider in CALENDARS:
        for user in ("ana", "ben"):
            connect(client, "acme", provider, f"{user}@acme.test", user_id=user)

    listed = integrations_by_user(client, "acme")

    assert sorted(listed) == [(p, u) for p in CALENDARS for u in ("ana", "ben")]
    assert {item["status"] for item in listed.values()} == {"connected"}
    assert len({item["id"] for item in listed.values()}) == 4
    for (provider, user), item in listed.items():  # each integration holds its own user's grant
        access, _refresh = open_credential(store, vault, item["id"])
        account = gateway_env.state(provider).authenticate(access)
        assert account is not None and account.login == f"{user}@acme.test"
    assert integrations_by_user(client, "globex") == {}


def test_reconnecting_one_user_keeps_its_integration_and_history_and_leaves_the_other_alone(
    client: TestClient, store: Store
) -> None:
    connect(client, "acme", "google_calendar", "ana@acme.test", user_id="ana")
    connect(client, "acme", "google_calendar", "ben@acme.test", user_id="ben")
    before = integrations_by_user(client, "acme")
    ana, ben = before["google_calendar", "ana"]["id"], before["google_calendar", "ben"]["id"]
    with store.session() as session:
        bens_grant = session.scalars(select(Credential).where(Credential.integration_id == ben)).one()
        bens_tokens = (bens_grant.access_token, bens_grant.updated_at)
        anas_token = session.scalars(select(Credential.access_token).where(Credential.integration_id == ana)).one()

    connect(client, "acme", "google_calendar", "ana@acme.test", user_id="ana")

    after = integrations_by_user(client, "acme")
    assert sorted(after) == sorted(before)
    assert after["google_calendar", "ana"]["id"] == ana
    assert after["google_calendar", "ben"] == before["google_calendar", "ben"]
    with store.session() as session:
        bens_grant = session.scalars(select(Credential).where(Credential.integration_id == ben)).one()
        assert (bens_grant.access_token, bens_grant.updated_at) == bens_tokens
        assert session.scalars(select(Credential.access_token).where(Credential.integration_id == ana)).one() != (
            anas_token
        )
    assert audit_of(store, ana) == [("callback", "oauth-callback"), ("callback", "oauth-callback")]
    assert audit_of(store, ben) == [("callback", "oauth-callback")]
    assert "account_changed" not in [entry[2] for entry in audit_trail(store)]


def test_disconnecting_one_user_leaves_the_others_connected(
    client: TestClient, store: Store, gateway_env: SandboxHandle
) -> None:
    connect(client, "acme", "outlook_calendar", "ana@acme.test", user_id="ana")
    connect(client, "acme", "outlook_calendar", "ben@acme.test", user_id="ben")
    connect(client, "acme", "zoho", "owner@acme.test")
    headers = bearer("acme", subject="ops@acme.test")

    response = client.delete(f"{LIST}/outlook_calendar", params={"userId": "ana"}, headers=headers)

    assert response.status_code == 200 and response.json() == {"success": True, "provider": "outlook_calendar"}
    statuses = {key: item["status"] for key, item in integrations_by_user(client, "acme").items()}
    assert statuses == {
        ("outlook_calendar", "ana"): "disconnected",
        ("outlook_calendar", "ben"): "connected",
        ("zoho", None): "connected",
    }
    assert row_counts(store)["credentials"] == 2
    again = client.delete(f"{LIST}/outlook_calendar", params={"userId": "carla"}, headers=headers)
    assert again.status_code == 404 and error_of(again)["code"] == "integration_not_found"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"provider": "google_calendar", "loginHint": "ana@acme.test"}, "required"),
        ({"provider": "outlook_calendar"}, "required"),
        ({"provider": "zoho", "userId": "ana"}, "not accepted"),
        ({"provider": "google_calendar", "userId": ""}, "at least 1 character"),
        ({"provider": "google_calendar", "userId": "a" * 129}, "at most 128 characters"),
        ({"provider": "google_calendar", "userId": "ana smith"}, "pattern"),
        ({"provider": "google_calendar", "userId": "-ana"}, "pattern"),
    ],
)
def test_connect_requires_a_user_for_a_per_user_provider_and_refuses_one_for_a_tenant_wide_one(
    body: dict[str, str], problem: str, client: TestClient, store: Store
) -> None:
    response = client.post(CONNECT, json=body, headers=bearer("acme"))

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert (error["code"], error["field"]) == ("validation_error", "userId")
    assert problem in error["message"]
    assert row_counts(store) == {"integrations": 0, "credentials": 0, "oauth_states": 0, "audit_log": 0}


def test_disconnect_requires_a_user_for_a_per_user_provider_and_refuses_one_for_a_tenant_wide_one(
    client: TestClient, store: Store
) -> None:
    connect(client, "acme", "google_calendar", "ana@acme.test", user_id="ana")
    connect(client, "acme", "zoho", "owner@acme.test")
    headers = bearer("acme")

    for path, params, problem in [
        ("google_calendar", {}, "required"),
        ("zoho", {"userId": "ana"}, "not accepted"),
        ("google_calendar", {"userId": ""}, "at least 1 character"),
        ("google_calendar", {"userId": "ana smith"}, "pattern"),
    ]:
        response = client.delete(f"{LIST}/{path}", params=params, headers=headers)
        assert response.status_code == 422, (path, params, response.text)
        error = error_of(response)
        assert (error["code"], error["field"]) == ("validation_error", "userId")
        assert problem in error["message"]

    assert {item["status"] for item in client.get(LIST, headers=headers).json()} == {"connected"}
    assert not [entry for entry in audit_trail(store) if entry[2] == "disconnect"]


# -- authentication and tenant isolation ----------------------------------------------------------------


def _token(claims: dict[str, object], secret: str = JWT_SECRET, algorithm: str = "HS256") -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm=algorithm)}"}


_IN_AN_HOUR = int((dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).timestamp())
BAD_CREDENTIALS = {
    "missing": {},
    "not_bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "malformed": {"Authorization": "Bearer not-a-jwt"},
    "expired": bearer("acme", ttl=-60),
    "forged": bearer("acme", secret="another-secret-of-sufficient-length-123"),
    "unsigned": _token({"sub": "x", "tenant": "acme", "exp": _IN_AN_HOUR}, secret="", algorithm="none"),
    "no_tenant": _token({"sub": "x", "exp": _IN_AN_HOUR}),
    "no_expiry": _token({"sub": "x", "tenant": "acme"}),
    "no_subject": _token({"tenant": "acme", "exp": _IN_AN_HOUR}),
    "tenant_not_a_partition_key": _token({"sub": "x", "tenant": "acme...corp", "exp": _IN_AN_HOUR}),
    "tenant_with_space": _token({"sub": "x", "tenant": "acme corp", "exp": _IN_AN_HOUR}),
}


def test_a_missing_expired_or_forged_bearer_token_is_a_401_and_writes_nothing(client: TestClient, store: Store) -> None:
    before = row_counts(store)
    for case, headers in BAD_CREDENTIALS.items():
        for response in (
            client.post(CONNECT, json={"provider": "zoho"}, headers=headers),
            client.get(LIST, headers=headers),
            client.delete(f"{LIST}/zoho", headers=headers),
        ):
            assert response.status_code == 401, (case, response.request.method)
            assert error_of(response)["code"] == "unauthorized", case
            assert response.headers["www-authenticate"] == "Bearer"
    assert row_counts(store) == before


def test_a_tenant_can_neither_see_nor_disconnect_another_tenants_integration(client: TestClient, store: Store) -> None:
    connect(client, "tenant-a", "zoho", "owner@a.test")

    assert client.get(LIST, headers=bearer("tenant-b")).json() == []
    response = client.delete(f"{LIST}/zoho", headers=bearer("tenant-b", subject="mallory@b.test"))

    assert response.status_code == 404 and error_of(response)["code"] == "integration_not_found"
    assert [item["status"] for item in client.get(LIST, headers=bearer("tenant-a")).json()] == ["connected"]
    assert row_counts(store)["credentials"] == 1
    assert not [entry for entry in audit_trail(store) if entry[2] == "disconnect"]


# -- refused callbacks ------------------------------------------------------------------------------------


def test_a_tampered_state_is_refused_and_connects_nothing(client: TestClient, store: Store) -> None:
    params = start_connection(client, "acme", "zoho", "owner@acme.test")
    state = params["state"]
    tampered = state[:-1] + ("A" if state[-1] != "A" else "B")

    for bad in ({**params, "state": tampered}, {**params, "state": tampered, "provider": "zoho"}):
        response = client.get(CALLBACK, params=bad)
        assert response.status_code == 400 and error_of(response)["code"] == "invalid_state"
    counts = row_counts(store)
    assert (counts["integrations"], counts["credentials"]) == (0, 0)

    assert client.get(CALLBACK, params=params).status_code == 200  # the genuine state still works


def test_a_replayed_state_is_refused_and_changes_nothing(client: TestClient, store: Store) -> None:
    params = start_connection(client, "acme", "outlook_calendar", "owner@acme.test")
    assert client.get(CALLBACK, params=params).status_code == 200
    with store.session() as session:
        stored = session.scalars(select(Credential)).one().access_token

    replay = client.get(CALLBACK, params=params)

    assert replay.status_code == 400 and error_of(replay)["code"] == "invalid_state"
    with store.session() as session:
        assert [row.access_token for row in session.scalars(select(Credential))] == [stored]


def test_an_expired_state_is_refused(client: TestClient, store: Store) -> None:
    params = start_connection(client, "acme", "google_calendar", "owner@acme.test")
    with store.session() as session:
        session.execute(update(OAuthState).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))

    response = client.get(CALLBACK, params=params)

    assert response.status_code == 400 and error_of(response)["code"] == "invalid_state"
    assert row_counts(store)["integrations"] == 0


def test_a_denied_consent_is_a_clear_failure_and_audited(
    client: TestClient, store: Store, gateway_env: SandboxHandle
) -> None:
    gateway_env.state("google_calendar").create_account("says-no@acme.test", deny=True)
    params = start_connection(client, "acme", "google_calendar", "says-no@acme.test")
    assert params["error"] == "access_denied" and "code" not in params

    response = client.get(CALLBACK, params=params)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "authorization_denied" and "access_denied" in error["message"]
    assert row_counts(store)["integrations"] == 0
    assert ("acme", "google_calendar", "callback", "failure", "oauth-callback") in audit_trail(store)


def test_unknown_providers_are_refused_with_the_ones_available(client: TestClient, store: Store) -> None:
    headers = bearer("acme")
    responses = [
        client.post(CONNECT, json={"provider": "salesforce"}, headers=headers),
        client.get(CALLBACK, params={"provider": "salesforce", "code": "c", "state": "s"}),
        client.delete(f"{LIST}/salesforce", headers=headers),
    ]
    for response in responses:
        assert response.status_code == 400
        error = error_of(response)
        assert (error["code"], error["field"]) == ("unknown_provider", "provider")
        assert "zoho" in error["message"] and "google_calendar" in error["message"]
    assert row_counts(store)["oauth_states"] == 0


def test_a_callback_without_provider_and_with_an_unknown_state_is_an_invalid_state(client: TestClient) -> None:
    response = client.get(CALLBACK, params={"code": "c", "state": "never-issued"})
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_state"


# -- callbacks whose code is refused, and provider failures -------------------------------------------------


def refused_code(
    case: str, params: dict[str, str], client: TestClient, sandbox: SandboxHandle, provider: str
) -> dict[str, str]:
    """The callback parameters of `params`' (valid) state with a code that is `case`."""
    if case == "missing":
        return {name: value for name, value in params.items() if name != "code"}
    if case == "invalid":
        return {**params, "code": "not-a-code-the-provider-issued"}
    if case == "expired":  # the provider's clock moves past the code's lifetime; our state is still valid
        code_ttl = int(httpx.get(f"{sandbox.base_url(provider)}/_sandbox/config").json()["code_ttl"])
        httpx.post(
            f"{sandbox.base_url(provider)}/_sandbox/clock/advance", json={"seconds": code_ttl + 1}
        ).raise_for_status()
        return params
    first = start_connection(client, "acme", provider, "owner@acme.test")  # "used": a code already redeemed
    assert client.get(CALLBACK, params=first).status_code == 200
    return {**params, "code": first["code"]}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("case", ["missing", "invalid", "expired", "used"])
def test_a_callback_whose_code_is_missing_invalid_expired_or_used_is_a_400_naming_the_code(
    provider: str, case: str, client: TestClient, store: Store, gateway_env: SandboxHandle
) -> None:
    params = refused_code(
        case, start_connection(client, "acme", provider, "owner@acme.test"), client, gateway_env, provider
    )
    before = row_counts(store)["integrations"]
    with store.session() as session:
        credentials_before = sorted(session.scalars(select(Credential.access_token)))

    response = client.get(CALLBACK, params=params)

    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_authorization_code", "code")
    assert "start the connection again" in error["message"]
    assert "http" not in response.text and "127.0.0.1" not in response.text
    if "code" in params:
        assert params["code"] not in response.text
    assert row_counts(store)["integrations"] == before  # nothing connected (or reconnected)
    with store.session() as session:
        assert sorted(session.scalars(select(Credential.access_token))) == credentials_before
    assert audit_trail(store)[-1] == ("acme", provider, "callback", "failure", "oauth-callback")
    token_calls = gateway_env.state(provider).requests.count(endpoint="POST */token")
    assert token_calls == {"missing": 0, "invalid": 1, "expired": 1, "used": 2}[case]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_provider_outage_at_the_callback_is_a_502_without_internal_urls(
    provider: str, client: TestClient, store: Store, gateway_env: SandboxHandle
) -> None:
    params = start_connection(client, "acme", provider, "owner@acme.test")
    fault = {"endpoint": "POST */token", "status": 503}
    httpx.post(f"{gateway_env.base_url(provider)}/_sandbox/faults", json=fault).raise_for_status()

    response = client.get(CALLBACK, params=params)

    assert response.status_code == 502, response.text
    error = error_of(response)
    assert error["code"] == "token_exchange_failed" and "http_503" in error["message"]
    assert "field" not in error
    assert "://" not in response.text and "127.0.0.1" not in response.text and "localhost" not in response.text
    assert row_counts(store)["integrations"] == 0


def test_an_unreachable_provider_at_the_callback_is_a_502_without_internal_urls(
    client: TestClient, store: Store, gateway_env: SandboxHandle
) -> None:
    params = start_connection(client, "acme", "zoho", "owner@acme.test")
    fault = {"endpoint": "POST */token", "kind": "reset"}
    httpx.post(f"{gateway_env.base_url('zoho')}/_sandbox/faults", json=fault).raise_for_status()

    response = client.get(CALLBACK, params=params)

    assert response.status_code == 502, response.text
    error = error_of(response)
    assert error["code"] == "token_exchange_failed" and "network_error" in error["message"]
    assert "://" not in response.text and "127.0.0.1" not in response.text
    assert row_counts(store)["integrations"] == 0


def test_the_state_lifetime_comes_from_the_settings(
    store: Store, vault: Vault, gateway_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEUP_OAUTH_STATE_TTL_SECONDS", "90")
    settings = Settings.from_env(REGISTRY).model_copy(update={"database_url": store.url})
    oauth = OAuthEngine(store, vault, configured_providers(REGISTRY, settings), state_ttl=settings.oauth_state_ttl)
    with TestClient(create_app(store, oauth, settings)) as client:
        params = start_connection(client, "acme", "google_calendar", "owner@acme.test")
        with store.session() as session:
            (state,) = session.scalars(select(OAuthState)).all()
        assert state.expires_at - state.created_at == dt.timedelta(seconds=90)
        assert client.get(CALLBACK, params=params).status_code == 200


def test_the_gateway_fixture_uses_the_default_state_lifetime(client: TestClient, store: Store) -> None:
    start_connection(client, "acme", "zoho", "owner@acme.test")
    with store.session() as session:
        (state,) = session.scalars(select(OAuthState)).all()
    assert state.expires_at - state.created_at == dt.timedelta(minutes=10)


# -- validation and error shape ----------------------------------------------------------------------------


INVALID_CONNECT_BODIES = [
    ({}, "provider"),
    ({"provider": ""}, "provider"),
    ({"provider": "zoho", "loginHint": "not-an-email"}, "loginHint"),
    ({"provider": "zoho", "scope": "everything"}, "scope"),
]


def test_validation_errors_name_the_field_and_do_not_echo_the_input(client: TestClient, store: Store) -> None:
    for body, field in INVALID_CONNECT_BODIES:
        response = client.post(CONNECT, json=body, headers=bearer("acme"))

        assert response.status_code == 422, body
        error = error_of(response)
        assert (error["code"], error["field"]) == ("validation_error", field)
        assert field in error["message"]
        for value in body.values():
            if len(value) > 4:
                assert value not in response.text
    assert row_counts(store)["oauth_states"] == 0


def test_a_callback_without_state_names_the_field(client: TestClient) -> None:
    response = client.get(CALLBACK, params={"provider": "zoho", "code": "c"})
    assert response.status_code == 422 and error_of(response)["field"] == "state"


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient) -> None:
    assert error_of(client.get("/api/v1/nothing-here"))["code"] == "not_found"
    assert error_of(client.put(CONNECT))["code"] == "method_not_allowed"


def test_an_unexpected_failure_is_a_500_in_the_error_shape_logged_by_type_only(
    client: TestClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with store.session() as session:  # the store loses a table under the running gateway
        session.execute(text("ALTER TABLE integrations RENAME TO integrations_gone"))
    caplog.set_level(logging.INFO)

    response = client.get(LIST, headers=bearer("acme"))

    assert response.status_code == 500
    assert error_of(response) == {"code": "internal_error", "message": "internal error; see the gateway log"}
    assert "integrations_gone" not in caplog.text and "SELECT" not in caplog.text  # no driver message, no SQL
    assert "unhandled" in caplog.text and "GET /api/v1/integrations 500" in caplog.text


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
