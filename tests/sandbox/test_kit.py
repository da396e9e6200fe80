"""The provider-agnostic kit on its own: grant rules, thread safety, faults, configuration."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr, ValidationError

from lineup_integrations.sandbox.kit import (
    ClientCheck,
    Fault,
    FaultQueue,
    GrantRejected,
    Rejection,
    SandboxConfig,
    SandboxProfile,
    SandboxState,
    guid,
    numeric_id,
)

REDIRECT = "http://localhost/cb"
PROFILE = SandboxProfile(
    provider="test",
    defaults=SandboxConfig(
        client_id="client", client_secret=SecretStr("secret"), code_ttl=60, redirect_uris=(REDIRECT,)
    ),
    new_account_id=numeric_id(19),
    new_user_id=guid,
    data_centres=("us", "eu"),
)


def offline_code(state: SandboxState, login: str = "user@example.com", **pkce: str) -> str:
    account = state.account_for_login_hint(login)
    return state.issue_code(account, client_id="client", redirect_uri=REDIRECT, scopes=["a", "b"], offline=True, **pkce)


def redeem(state: SandboxState, code: str, verifier: str | None = None) -> str:
    issued = state.redeem_code(code, client_id="client", redirect_uri=REDIRECT, code_verifier=verifier)
    assert issued.refresh_token is not None
    return issued.refresh_token


def test_twenty_concurrent_redemptions_of_one_code_yield_exactly_one_token() -> None:
    state = SandboxState(PROFILE)
    code = offline_code(state)
    start = threading.Barrier(20)

    def attempt() -> Rejection | None:
        start.wait()
        try:
            state.redeem_code(code, client_id="client", redirect_uri=REDIRECT, code_verifier=None)
        except GrantRejected as rejected:
            return rejected.reason
        return None

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(lambda _: attempt(), range(20)))

    assert outcomes.count(None) == 1
    assert outcomes.count(Rejection.CODE_USED) == 19
    assert state.stats()["active_access_tokens"] == 1


def test_the_clock_expires_codes_and_access_tokens() -> None:
    state = SandboxState(PROFILE)
    late = offline_code(state)
    issued = state.redeem_code(offline_code(state), client_id="client", redirect_uri=REDIRECT, code_verifier=None)

    state.clock.advance(3600)

    assert state.authenticate(issued.access_token) is None
    info = state.lookup_access_token(issued.access_token)
    assert info is not None and info.account.login == "user@example.com"  # still attributable
    with pytest.raises(GrantRejected) as rejected:
        redeem(state, late)
    assert rejected.value.reason is Rejection.CODE_EXPIRED


def test_pkce_plain_and_s256_rules() -> None:
    state = SandboxState(PROFILE)
    verifier = "p" * 43

    assert redeem(state, offline_code(state, code_challenge=verifier), verifier)  # plain is the default method
    for wrong, reason in ((None, Rejection.PKCE_MISSING), ("short", Rejection.PKCE_MISMATCH)):
        with pytest.raises(GrantRejected) as rejected:
            redeem(state, offline_code(state, code_challenge=verifier, code_challenge_method="S256"), wrong)
        assert rejected.value.reason is reason


def test_wrong_data_centre_does_not_spend_the_code_or_refresh() -> None:
    state = SandboxState(PROFILE)
    state.create_account("eu@example.com", dc="eu")
    code = offline_code(state, "eu@example.com")

    with pytest.raises(GrantRejected) as rejected:
        state.redeem_code(code, client_id="client", redirect_uri=REDIRECT, code_verifier=None, dc="us")
    assert rejected.value.reason is Rejection.WRONG_DATA_CENTRE
    issued = state.redeem_code(code, client_id="client", redirect_uri=REDIRECT, code_verifier=None, dc="eu")

    assert issued.account.dc == "eu" and issued.refresh_token is not None
    with pytest.raises(GrantRejected):
        state.refresh(issued.refresh_token, client_id="client", dc="us")
    assert state.refresh(issued.refresh_token, client_id="client", dc="eu").access_token


def test_revoking_one_token_kills_its_grant_only() -> None:
    state = SandboxState(PROFILE)
    kept, revoked = redeem(state, offline_code(state)), redeem(state, offline_code(state))

    assert state.revoke_token(revoked) is True
    assert state.revoke_token(revoked) is False

    assert state.refresh(kept, client_id="client").access_token
    with pytest.raises(GrantRejected) as rejected:
        state.refresh(revoked, client_id="client")
    assert rejected.value.reason is Rejection.REVOKED


def test_client_checks_and_configuration() -> None:
    state = SandboxState(PROFILE)
    assert state.check_client("client", "secret") is ClientCheck.OK
    assert state.check_client("client", "nope") is ClientCheck.WRONG_SECRET
    assert state.check_client("clïent", "secret") is ClientCheck.UNKNOWN_CLIENT

    state.configure(client_id="other", rotate_refresh_tokens=True)
    assert state.check_client("other", "secret") is ClientCheck.OK
    with pytest.raises(ValidationError):
        state.configure(access_token_ttl=-1)
    assert state.config.rotate_refresh_tokens is True

    state.reset()
    assert state.config == PROFILE.defaults


def test_accounts_keep_their_ids_and_reject_unknown_data_centres() -> None:
    state = SandboxState(PROFILE)
    created = state.create_account("a@example.com")
    updated = state.create_account("a@example.com", dc="eu", deny=True)

    assert created.dc == "us" and (updated.dc, updated.deny) == ("eu", True)
    assert (updated.account_id, updated.user_id) == (created.account_id, created.user_id)
    with pytest.raises(ValueError, match="unknown data centre"):
        state.create_account("b@example.com", dc="mars")


def test_fault_queue_matches_method_path_and_login_and_counts_down() -> None:
    queue = FaultQueue()
    queue.add(Fault(endpoint="GET /crm/v8/Contacts*", status=429, count=2))
    queue.add(Fault(endpoint="/oauth/*", kind="reset", login="a@example.com"))

    assert queue.take("POST", "/crm/v8/Contacts", None) is None
    assert queue.take("GET", "/oauth/v2/token", "b@example.com") is None
    first = queue.take("GET", "/crm/v8/Contacts/deleted", None)
    assert first is not None and first.status == 429
    assert [fault.count for fault in queue.pending()] == [1, 1]
    assert queue.take("GET", "/crm/v8/Contacts", None) is not None
    assert queue.take("GET", "/crm/v8/Contacts", None) is None
    reset = queue.take("POST", "/oauth/v2/token", "a@example.com")
    assert reset is not None and reset.kind == "reset"
    assert queue.pending() == []
