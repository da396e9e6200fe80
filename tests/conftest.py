"""Shared fixtures: a migrated store on SQLite and on a real PostgreSQL server, a vault, the
provider sandbox, an OAuth engine pointed at it, and a recorder standing in for retry sleeps.

`store` is parametrised over both backends, so every test that takes it runs twice. The
PostgreSQL server is started once per test session by the fixture itself. Locally, a machine
without PostgreSQL skips those cases with the reason; with `CI=true` they are mandatory and a
missing server fails the run.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import Store
from lineup_integrations.core.vault import KeyRing, Vault
from lineup_integrations.devtools.local_postgres import LocalPostgres, PostgresUnavailable, local_postgres
from lineup_integrations.sandbox import SandboxHandle, running_sandbox
from tests.calendar.accounts import CalendarAccount, connect_account
from tests.core.oauth.helpers import sandbox_engine

pytest_plugins = ["tests.dagster_webserver"]  # `dagster_webserver`, `make_gateway`

TEST_KEY = base64.b64encode(b"k" * 32).decode()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    try:
        with local_postgres() as server:
            server.execute("CREATE DATABASE lineup_template")
            template = Store(server.url("lineup_template"))
            template.upgrade()
            template.dispose()
            yield server
    except PostgresUnavailable as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL server not installed here ({error}); CI runs these cases")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "lineup.db"
    template = Store(f"sqlite:///{path}")
    template.upgrade()
    template.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A freshly migrated, empty store database for one test, on the parametrised backend."""
    if request.param == "sqlite":
        path = tmp_path / "lineup.db"
        path.write_bytes(sqlite_template.read_bytes())
        yield f"sqlite:///{path}"
        return
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.execute(f"CREATE DATABASE {name} TEMPLATE lineup_template")
    yield server.url(name)
    server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store(store_url)
    yield store
    store.dispose()


@pytest.fixture
def vault() -> Vault:
    return Vault(KeyRing.parse(f"test:{TEST_KEY}"))


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    """The three provider sandboxes on free ports for the whole session (`.base_url(p)`, `.state(p)`)."""
    with running_sandbox() as handle:
        yield handle


@pytest.fixture
def sandbox_reset(sandbox: SandboxHandle) -> SandboxHandle:
    """The session's sandbox, reset to a fresh state (no accounts, tokens, faults or counts) for this test."""
    sandbox.reset()
    return sandbox


@pytest.fixture
def engine(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[OAuthEngine]:
    """An OAuth engine on the test's store whose providers are the (fresh) sandbox's (see `sandbox_engine`)."""
    yield from sandbox_engine(store, vault, sandbox_reset, monkeypatch, tmp_path)


class SleepRecorder:
    """Stands in for time.sleep inside tenacity: records each wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def calendar_engine(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[OAuthEngine]:
    """An OAuth engine for calendar accounts (`account_factory`), on the test's store and fresh sandbox."""
    yield from sandbox_engine(store, vault, sandbox_reset, monkeypatch, tmp_path)


@pytest.fixture
def account_factory(calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle) -> Callable[..., CalendarAccount]:
    """`make(provider, user_id="ana", tenant_id="acme")`: a connected interviewer account (tests/calendar/accounts.py)."""

    def make(provider: str, user_id: str = "ana", tenant_id: str = "acme") -> CalendarAccount:
        return connect_account(calendar_engine, sandbox_reset, provider, user_id, tenant_id)

    return make
