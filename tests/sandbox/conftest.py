"""Fixtures for the sandbox's own tests: a plain HTTP client, as a provider client would use, and
every sandbox with the tests' redirect URI registered."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lineup_integrations.sandbox import SandboxHandle
from tests.sandbox.wire import REDIRECT_URI


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, follow_redirects=False) as client:
        yield client


@pytest.fixture
def sandbox_reset(sandbox: SandboxHandle) -> SandboxHandle:
    """The session's sandbox, fresh, with `REDIRECT_URI` (a registered URI that carries its own
    query, which the redirect must keep) added to every provider's client registration."""
    sandbox.reset()
    sandbox.register_redirect_uri(REDIRECT_URI)
    return sandbox
