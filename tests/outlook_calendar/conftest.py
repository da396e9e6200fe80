"""Fixtures of the Graph tests (client, feed, sandbox wire): a mailbox signed in to the fresh sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lineup_integrations.sandbox import SandboxHandle
from tests.outlook_calendar.sandbox.graph_wire import PROVIDER, Mailbox, connect

LOGIN = "ada@contoso.example"


@pytest.fixture
def base(sandbox_reset: SandboxHandle) -> str:
    return sandbox_reset.base_url(PROVIDER)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture
def me(http: httpx.Client, base: str) -> Mailbox:
    """The signed-in user `LOGIN`'s mailbox."""
    return connect(http, base, LOGIN)
