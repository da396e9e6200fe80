"""The callback's `state`: refused when tampered, expired, replayed or meant for another provider,
and then nothing at all is written (no audit row either: the refusal is one warning log line).
A failure that comes with a valid state (consent denied) is audited for the state's tenant."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import httpx
import pytest
from sqlalchemy import select, update

from lineup_integrations.core.oauth import AuthorizationDeniedError, InvalidStateError, OAuthEngine
from lineup_integrations.core.store import Credential, OAuthState, Store
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import (
    audit_entries,
    authorize,
    captured_logs,
    connect,
    control,
    row_counts,
    store_snapshot,
)

PROVIDER = "google_calendar"
LOGIN = "recruiter@acme.example"


def _refused(engine: OAuthEngine, provider: str, params: dict[str, str]) -> InvalidStateError:
    with pytest.raises(InvalidStateError) as refused:
        engine.complete(provider, params)
    return refused.value


def _refused_writing_nothing(
    engine: OAuthEngine, store: Store, provider: str, params: dict[str, str], *secrets: str
) -> InvalidStateError:
    """Refused, with not one row written anywhere (audit log included), and logged as exactly one
    warning naming the provider and the reason, without the state or the code (`secrets`)."""
    before = store_snapshot(store)
    with captured_logs() as logs:
        error = _refused(engine, provider, params)

    assert store_snapshot(store) == before  # every table, the audit log and the OAuth states included
    (warning,) = logs.warnings()
    assert provider in warning and f"invalid state ({error.reason})" in warning
    for secret in (*secrets, params.get("state"), params.get("code")):
        if secret:
            assert secret not in logs.text
    return error


def _last_callback_failure(store: Store) -> tuple[str, str, dict[str, object]]:
    entry = audit_entries(store, "callback")[-1]
    assert entry.outcome == "failure"
    return entry.tenant_id, entry.provider or "", entry.detail


def test_state_is_stored_only_as_its_sha256(engine: OAuthEngine, store: Store) -> None:
    state = httpx.URL(engine.begin("acme", PROVIDER, actor="user:test")).params["state"]

    with store.session() as session:
        row = session.scalars(select(OAuthState)).one()
    assert len(state) >= 43  # 256 bits, URL-safe base64
    assert row.state_hash == hashlib.sha256(state.encode()).hexdigest()
    assert (row.tenant_id, row.provider, row.used_at) == ("acme", PROVIDER, None)
    assert dt.timedelta(minutes=9) < row.expires_at - row.created_at <= dt.timedelta(minutes=10)
    assert audit_entries(store, "connect")[-1].tenant_id == "acme"


def test_tampered_state_is_refused_and_nothing_is_written(engine: OAuthEngine, store: Store) -> None:
    params = authorize(engine.begin("acme", PROVIDER, actor="user:test", login_hint=LOGIN))
    tampered = params["state"][:-1] + ("A" if params["state"][-1] != "A" else "B")

    error = _refused_writing_nothing(engine, store, PROVIDER, {**params, "state": tampered}, params["state"])

    assert error.reason == "unknown"
    assert params["state"] not in str(error) and params["code"] not in str(error)
    assert row_counts(store) == {"integrations": 0, "credentials": 0}
    assert audit_entries(store, "callback") == []


def test_missing_state_is_refused(engine: OAuthEngine, store: Store) -> None:
    params = authorize(engine.begin("acme", PROVIDER, actor="user:test", login_hint=LOGIN))
    params.pop("state")

    assert _refused_writing_nothing(engine, store, PROVIDER, params).reason == "unknown"
    assert row_counts(store) == {"integrations": 0, "credentials": 0}
    assert audit_entries(store, "callback") == []


def test_expired_state_is_refused_and_nothing_is_written(engine: OAuthEngine, store: Store) -> None:
    params = authorize(engine.begin("acme", PROVIDER, actor="user:test", login_hint=LOGIN))
    with store.session() as session:  # the 10 minutes have passed
        session.execute(update(OAuthState).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))

    error = _refused_writing_nothing(engine, store, PROVIDER, params)

    assert (error.reason, error.tenant_id) == ("expired", "acme")
    assert row_counts(store) == {"integrations": 0, "credentials": 0}
    assert audit_entries(store, "callback") == []


def test_replayed_state_is_refused_and_the_connection_is_untouched(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    params = authorize(engine.begin("acme", PROVIDER, actor="user:test", login_hint=LOGIN))
    engine.complete(PROVIDER, params)
    with store.session() as session:
        before = session.scalars(select(Credential)).one().access_token

    error = _refused_writing_nothing(engine, store, PROVIDER, params)

    assert (error.reason, error.tenant_id) == ("used", "acme")
    assert [entry.outcome for entry in audit_entries(store, "callback")] == ["success"]  # the real one only
    with store.session() as session:
        assert session.scalars(select(Credential)).one().access_token == before
    assert row_counts(store) == {"integrations": 1, "credentials": 1}
    assert control(sandbox_reset, PROVIDER, "stats")["token_requests"] == 1  # the replay never reached Google


def test_state_for_another_provider_is_refused_without_being_spent(engine: OAuthEngine, store: Store) -> None:
    zoho_params = authorize(engine.begin("acme", "zoho", actor="user:test", login_hint=LOGIN))

    error = _refused_writing_nothing(engine, store, PROVIDER, zoho_params)

    assert (error.reason, error.tenant_id) == ("wrong_provider", "acme")
    assert row_counts(store) == {"integrations": 0, "credentials": 0}
    assert audit_entries(store, "callback") == []
    # The misrouted callback did not burn the tenant's real authorization.
    assert engine.complete("zoho", zoho_params).provider == "zoho"


def test_denied_consent_spends_the_state_and_is_audited_for_its_tenant(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    control(sandbox_reset, PROVIDER, "accounts", {"login": "no@acme.example", "deny": True})
    params = authorize(engine.begin("acme", PROVIDER, actor="user:test", login_hint="no@acme.example"))
    assert params["error"] == "access_denied"

    with pytest.raises(AuthorizationDeniedError):
        engine.complete(PROVIDER, params)

    assert row_counts(store) == {"integrations": 0, "credentials": 0}
    assert _last_callback_failure(store) == (
        "acme",
        PROVIDER,
        {"reason": "authorization_denied", "error": "access_denied"},
    )
    failures = len(audit_entries(store, "callback"))
    assert _refused_writing_nothing(engine, store, PROVIDER, params).reason == "used"
    assert len(audit_entries(store, "callback")) == failures  # the replay added no audit row


def test_callbacks_racing_with_one_state_connect_exactly_once(engine: OAuthEngine, store: Store) -> None:
    """Single use is enforced by the store's atomic spend, not by luck."""
    params = authorize(engine.begin("acme", PROVIDER, actor="user:test", login_hint=LOGIN))
    racers = 8
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []

    def callback() -> None:
        barrier.wait()
        try:
            engine.complete(PROVIDER, params)
            outcomes.append("connected")
        except InvalidStateError as error:
            outcomes.append(error.reason)

    threads = [threading.Thread(target=callback) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["connected"] + ["used"] * (racers - 1)
    assert row_counts(store) == {"integrations": 1, "credentials": 1}
    assert [entry.outcome for entry in audit_entries(store, "callback")] == ["success"]  # losers wrote nothing


def test_connect_is_audited_without_secrets(engine: OAuthEngine, store: Store) -> None:
    integration = connect(engine, "acme", PROVIDER, LOGIN)

    connect_entry = audit_entries(store, "connect")[-1]
    callback_entry = audit_entries(store, "callback")[-1]
    assert (connect_entry.actor, connect_entry.detail) == ("user:test", {"pkce": True})
    assert (callback_entry.outcome, callback_entry.detail["integration_id"]) == ("success", integration.id)
