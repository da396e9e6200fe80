"""Fixtures of the Google client, feed and expansion tests: a connected sandbox user and the retrying client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lineup_integrations.core.http import RetryingClient, RetrySettings
from lineup_integrations.sandbox import SandboxHandle
from tests.conftest import SleepRecorder
from tests.google_calendar.sandbox.conftest import PROVIDER, CalendarUser, connect

LOGIN = "recruiter@acme.example"


@pytest.fixture
def user(sandbox_reset: SandboxHandle) -> Iterator[CalendarUser]:
    """A Google user connected to the fresh sandbox through its OAuth flow."""
    base = sandbox_reset.base_url(PROVIDER)
    with httpx.Client(timeout=10.0) as http:
        http.post(f"{base}/_sandbox/accounts", json={"login": LOGIN}).raise_for_status()
        yield CalendarUser(login=LOGIN, base=base, access_token=connect(http, base, LOGIN), http=http)


@pytest.fixture
def retrying(sleep: SleepRecorder) -> Iterator[RetryingClient]:
    """The shared retrying client, its waits recorded instead of slept."""
    with httpx.Client(timeout=10.0) as client:
        yield RetryingClient(
            client, provider=PROVIDER, settings=RetrySettings(backoff_base=0, backoff_max=0), sleep=sleep
        )
