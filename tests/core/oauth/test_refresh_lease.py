"""The refresh lease: the provider's token call runs outside any transaction, so a slow provider
never holds the store's write lock, and the lease still makes one caller refresh at a time.

Every test runs on SQLite (where the old transaction-held lock blocked every writer) and on
PostgreSQL, against the sandbox over real HTTP.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from lineup_integrations.core.oauth import AccessToken, OAuthEngine, TokenRefreshError
from lineup_integrations.core.oauth.engine import REFRESH_LEASE_TTL, REFRESH_WAIT
from lineup_integrations.core.store import (
    Credential,
    Integration,
    RawRecord,
    Store,
    load_stream_state,
    save_stream_state,
    upsert,
    utcnow,
)
from lineup_integrations.core.vault import Vault
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import audit_entries, connect, control, sandbox_oauth_configs, token_requests

PROVIDER = "zoho"
LOGIN = "recruiter@acme.example"
SHORT_TTL = 60  # inside the 5-minute margin: the stored token counts as expiring at once
HANG_SECONDS = 10.0
PAGES = 5


class TokenCallWatch:
    """An httpx request hook: `sent` is set when a refresh-grant request leaves the engine's client."""

    def __init__(self) -> None:
        self.sent = threading.Event()
        self.count = 0

    def __call__(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/token") and b"grant_type=refresh_token" in request.content:
            self.count += 1
            self.sent.set()


@pytest.fixture
def watch() -> TokenCallWatch:
    return TokenCallWatch()


@pytest.fixture
def http(
    watch: TokenCallWatch, sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    for variable, value in sandbox_reset.environment().items():
        monkeypatch.setenv(variable, value)
    with httpx.Client(timeout=30.0, event_hooks={"request": [watch]}) as client:
        yield client


def make_engine(
    store: Store,
    vault: Vault,
    sandbox: SandboxHandle,
    tmp_path: Path,
    http: httpx.Client,
    *,
    refresh_lease_ttl: dt.timedelta = REFRESH_LEASE_TTL,
    refresh_wait: dt.timedelta = REFRESH_WAIT,
) -> OAuthEngine:
    return OAuthEngine(
        store,
        vault,
        sandbox_oauth_configs(sandbox, tmp_path),
        http=http,
        refresh_lease_ttl=refresh_lease_ttl,
        refresh_wait=refresh_wait,
    )


def connect_expiring(engine: OAuthEngine, sandbox: SandboxHandle, tenant_id: str = "acme") -> Integration:
    control(sandbox, PROVIDER, "config", {"access_token_ttl": SHORT_TTL})
    integration = connect(engine, tenant_id, PROVIDER, f"{tenant_id}-{LOGIN}")
    control(sandbox, PROVIDER, "config", {"access_token_ttl": 3600})
    return integration


def hold_token_calls(sandbox: SandboxHandle, seconds: float) -> None:
    """The sandbox holds the next token request for `seconds` before answering it."""
    control(sandbox, PROVIDER, "faults", {"endpoint": "POST */token", "kind": "timeout", "delay": seconds})


def set_lease(store: Store, integration_id: str, owner: str, expires_at: dt.datetime) -> None:
    """Leave a lease as a holder that died mid-refresh would have left it."""
    with store.session() as session:
        session.execute(
            update(Credential)
            .where(Credential.integration_id == integration_id)
            .values(refresh_lease_owner=owner, refresh_lease_expires_at=expires_at)
        )


def lease_of(store: Store, integration_id: str) -> tuple[str | None, dt.datetime | None]:
    with store.session() as session:
        credential = session.get(Credential, integration_id)
        assert credential is not None
        return credential.refresh_lease_owner, credential.refresh_lease_expires_at


def stored_access_token(engine: OAuthEngine, integration_id: str) -> str:
    with engine.store.session() as session:
        credential = session.get(Credential, integration_id)
        assert credential is not None
        return engine.vault.open(credential.access_token, context=f"{integration_id}:access_token")


def commit_a_page(store: Store, tenant_id: str, page: int) -> None:
    """What a sync commits per page: its records and its checkpoint, in one transaction."""
    now = utcnow()
    with store.session() as session:
        upsert(
            session,
            RawRecord,
            [
                {
                    "tenant_id": tenant_id,
                    "provider": PROVIDER,
                    "entity": "contacts",
                    "external_id": f"{page}-{index}",
                    "payload": {"page": page},
                    "change_seq": page,
                    "fetched_at": now,
                }
                for index in range(50)
            ],
            key=["external_id", "tenant_id", "provider", "entity"],
            update=["payload", "change_seq", "fetched_at"],
        )
        save_stream_state(session, tenant_id=tenant_id, provider=PROVIDER, stream="contacts", state={"page": page})


def test_a_refresh_whose_token_call_hangs_does_not_delay_another_tenants_page_commits(
    store: Store,
    vault: Vault,
    sandbox_reset: SandboxHandle,
    tmp_path: Path,
    http: httpx.Client,
    watch: TokenCallWatch,
) -> None:
    engine = make_engine(store, vault, sandbox_reset, tmp_path, http)
    integration = connect_expiring(engine, sandbox_reset)
    hold_token_calls(sandbox_reset, HANG_SECONDS)
    refreshed = threading.Event()
    results: list[AccessToken | BaseException] = []

    def refresh() -> None:
        try:
            results.append(engine.refresh_if_expiring(integration.id))
        except BaseException as error:
            results.append(error)
        finally:
            refreshed.set()

    refresher = threading.Thread(target=refresh)
    refresher.start()
    try:
        assert watch.sent.wait(10), "the refresh never sent its token call"
        started = time.monotonic()
        for page in range(PAGES):  # another tenant's sync commits its pages meanwhile
            commit_a_page(store, "globex", page)
        elapsed = time.monotonic() - started
        in_flight = not refreshed.is_set()
    finally:
        refresher.join(HANG_SECONDS + 30)

    assert in_flight, "the other tenant's commits waited for the hanging token call"
    assert elapsed < HANG_SECONDS / 2
    with store.session() as session:
        assert load_stream_state(session, tenant_id="globex", provider=PROVIDER, stream="contacts") == {
            "page": PAGES - 1
        }
    (result,) = results
    assert isinstance(result, AccessToken)
    assert sandbox_reset.state(PROVIDER).authenticate(result.value) is not None
    assert stored_access_token(engine, integration.id) == result.value
    assert token_requests(sandbox_reset, PROVIDER, "refresh_token") == 1
    assert lease_of(store, integration.id) == (None, None)


def test_an_expired_lease_of_a_crashed_holder_is_taken_over(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, tmp_path: Path, http: httpx.Client
) -> None:
    engine = make_engine(store, vault, sandbox_reset, tmp_path, http)
    integration = connect_expiring(engine, sandbox_reset)
    set_lease(store, integration.id, "crashed-holder", utcnow() - dt.timedelta(seconds=1))

    token = engine.refresh_if_expiring(integration.id)

    assert sandbox_reset.state(PROVIDER).authenticate(token.value) is not None
    assert stored_access_token(engine, integration.id) == token.value
    assert token_requests(sandbox_reset, PROVIDER, "refresh_token") == 1
    assert lease_of(store, integration.id) == (None, None)
    (entry,) = audit_entries(store, "refresh")
    assert (entry.outcome, entry.detail["lease_taken_over"]) == ("success", True)


def test_a_live_lease_is_waited_for_and_taken_over_once_it_expires(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, tmp_path: Path, http: httpx.Client
) -> None:
    engine = make_engine(store, vault, sandbox_reset, tmp_path, http)
    integration = connect_expiring(engine, sandbox_reset)
    lease_expires = utcnow() + dt.timedelta(seconds=1.5)
    set_lease(store, integration.id, "slow-or-dead-holder", lease_expires)

    token = engine.refresh_if_expiring(integration.id)

    assert utcnow() >= lease_expires  # it did not refresh beside the live holder
    assert sandbox_reset.state(PROVIDER).authenticate(token.value) is not None
    assert token_requests(sandbox_reset, PROVIDER, "refresh_token") == 1


def test_a_caller_gives_up_retryably_when_the_lease_outlives_its_wait(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, tmp_path: Path, http: httpx.Client
) -> None:
    engine = make_engine(store, vault, sandbox_reset, tmp_path, http, refresh_wait=dt.timedelta(seconds=0.3))
    integration = connect_expiring(engine, sandbox_reset)
    set_lease(store, integration.id, "another-holder", utcnow() + dt.timedelta(minutes=1))

    with pytest.raises(TokenRefreshError) as raised:
        engine.refresh_if_expiring(integration.id)

    assert raised.value.error == "refresh_in_progress"
    assert token_requests(sandbox_reset, PROVIDER, "refresh_token") == 0
    assert lease_of(store, integration.id)[0] == "another-holder"  # a waiter never writes the row


def test_a_holder_that_lost_its_lease_stores_nothing(
    store: Store,
    vault: Vault,
    sandbox_reset: SandboxHandle,
    tmp_path: Path,
    http: httpx.Client,
    watch: TokenCallWatch,
) -> None:
    """A holder slower than its lease: another caller takes over and stores its tokens; the slow
    holder's late result (still a valid token) goes to its caller only."""
    engine = make_engine(store, vault, sandbox_reset, tmp_path, http, refresh_lease_ttl=dt.timedelta(seconds=0.2))
    integration = connect_expiring(engine, sandbox_reset)
    hold_token_calls(sandbox_reset, 2.0)
    slow: list[AccessToken] = []
    slow_holder = threading.Thread(target=lambda: slow.append(engine.refresh_if_expiring(integration.id)))
    slow_holder.start()
    assert watch.sent.wait(10)

    taker = engine.refresh_if_expiring(integration.id)  # waits for the 0.2 s lease to expire, then refreshes
    slow_holder.join(30)

    assert stored_access_token(engine, integration.id) == taker.value
    (late,) = slow
    assert late.value != taker.value and sandbox_reset.state(PROVIDER).authenticate(late.value) is not None
    assert token_requests(sandbox_reset, PROVIDER, "refresh_token") == 2
    assert [entry.detail["lease_taken_over"] for entry in audit_entries(store, "refresh")] == [True]
    assert lease_of(store, integration.id) == (None, None)


def test_callers_arriving_during_a_slow_refresh_all_get_its_token(
    store: Store,
    vault: Vault,
    sandbox_reset: SandboxHandle,
    tmp_path: Path,
    http: httpx.Client,
    watch: TokenCallWatch,
) -> None:
    """Ten callers while the holder's token call is held: all get the one refreshed token."""
    engine = make_engine(store, vault, sandbox_reset, tmp_path, http)
    integration = connect_expiring(engine, sandbox_reset)
    hold_token_calls(sandbox_reset, 1.0)
    tokens: list[AccessToken] = []
    holder = threading.Thread(target=lambda: tokens.append(engine.refresh_if_expiring(integration.id)))
    holder.start()
    assert watch.sent.wait(10)
    waiters = [
        threading.Thread(target=lambda: tokens.append(engine.refresh_if_expiring(integration.id))) for _ in range(10)
    ]
    for thread in waiters:
        thread.start()
    for thread in [holder, *waiters]:
        thread.join(30)

    assert len(tokens) == 11 and len({token.value for token in tokens}) == 1
    assert watch.count == 1 and token_requests(sandbox_reset, PROVIDER, "refresh_token") == 1
    with store.session() as session:
        assert session.scalars(select(Credential.refresh_lease_owner)).all() == [None]
