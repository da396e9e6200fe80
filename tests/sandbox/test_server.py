"""Starting and stopping the sandbox servers: `running_sandbox` and the CLI's `serve_forever`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox import SandboxHandle, running_sandbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_running_sandbox_serves_the_given_ports_and_releases_them() -> None:
    port = free_port()

    with running_sandbox(providers=PROVIDERS.only(["google_calendar"]), ports={"google_calendar": port}) as handle:
        assert handle.providers == ("google_calendar",)
        assert handle.base_url("google_calendar") == f"http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/_sandbox/stats").json()["provider"] == "google_calendar"

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/_sandbox/stats")


def test_a_busy_port_fails_at_once() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(OSError), running_sandbox(ports={"outlook_calendar": port}):
            pass


def test_handle_environment_points_clients_at_the_sandbox(sandbox_reset: SandboxHandle) -> None:
    sandbox_reset.state("zoho").configure(client_id="custom-client")
    environment = sandbox_reset.environment()

    assert environment["ZOHO_BASE_URL"] == sandbox_reset.base_url("zoho")
    assert environment["GOOGLE_BASE_URL"] == sandbox_reset.base_url("google_calendar")
    assert environment["OUTLOOK_BASE_URL"] == sandbox_reset.base_url("outlook_calendar")
    assert environment["ZOHO_CLIENT_ID"] == "custom-client"
    assert environment["OUTLOOK_CLIENT_SECRET"] == "sandbox-outlook_calendar-secret"


def test_serve_forever_prints_its_urls_and_stops_on_sigterm() -> None:
    port = free_port()
    script = f"from lineup_integrations.sandbox import serve_forever; from lineup_integrations.registry import PROVIDERS; serve_forever(providers=PROVIDERS.only(['zoho']), ports={{'zoho': {port}}})"
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"zoho sandbox: http://127.0.0.1:{port}")
        assert httpx.get(f"http://127.0.0.1:{port}/_sandbox/stats").json()["provider"] == "zoho"

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
