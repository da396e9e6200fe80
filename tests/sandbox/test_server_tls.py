"""The https twin of a `SANDBOX_TLS` provider (Microsoft): same app and state as its http port,
a certificate only the sandbox's CA vouches for, and the CA kept across restarts of the command."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox import SandboxHandle, running_sandbox

MICROSOFT = "outlook_calendar"


def test_the_microsoft_sandbox_also_serves_https_from_the_same_state(sandbox_reset: SandboxHandle) -> None:
    assert sandbox_reset.tls_providers == (MICROSOFT,)
    assert sandbox_reset.ca_file is not None and sandbox_reset.ca_bundle_file is not None
    trusted = ssl.create_default_context(cafile=str(sandbox_reset.ca_file))
    secure = sandbox_reset.tls_base_url(MICROSOFT)

    with httpx.Client(verify=trusted) as client:
        created = client.post(f"{secure}/_sandbox/accounts", json={"login": "tls@contoso.example"})
    plain = httpx.get(f"{sandbox_reset.base_url(MICROSOFT)}/_sandbox/accounts").json()

    assert secure.startswith("https://127.0.0.1:")
    assert created.status_code == 200
    assert [account["login"] for account in plain] == ["tls@contoso.example"]  # one state behind both ports
    public_cas_only = httpx.Client(verify=ssl.create_default_context(), trust_env=False)
    with pytest.raises(httpx.ConnectError), public_cas_only:
        public_cas_only.get(f"{secure}/_sandbox/stats")  # the public CAs do not vouch for the sandbox
    with pytest.raises(KeyError):
        sandbox_reset.tls_base_url("zoho")


def test_a_tls_folder_keeps_its_ca_across_starts(tmp_path: Path) -> None:
    only = PROVIDERS.only([MICROSOFT])

    with running_sandbox(only, tls_dir=tmp_path) as first:
        assert first.ca_file is not None
        ca = first.ca_file.read_bytes()
    with running_sandbox(only, tls_dir=tmp_path) as second:
        assert second.ca_file is not None and second.ca_file.read_bytes() == ca
        trusted = ssl.create_default_context(cafile=str(second.ca_file))
        assert httpx.get(f"{second.tls_base_url(MICROSOFT)}/_sandbox/stats", verify=trusted).status_code == 200


def test_serve_forever_prints_the_https_url_and_the_ca_it_keeps_in_the_data_dir(tmp_path: Path) -> None:
    script = (
        "from lineup_integrations.sandbox import serve_forever; from lineup_integrations.registry import PROVIDERS; "
        f"serve_forever(providers=PROVIDERS.only(['{MICROSOFT}']), ports={{'{MICROSOFT}': 0}})"
    )
    env = os.environ.copy() | {"LINEUP_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(f"{MICROSOFT} sandbox: http://127.0.0.1:")
        line = process.stdout.readline()
        ca_file = tmp_path / "sandbox-tls" / "ca.pem"
        assert line.startswith(f"{MICROSOFT} over TLS: https://127.0.0.1:"), line
        assert f"trust the CA {ca_file}" in line
        url = line.split()[3]
        assert httpx.get(f"{url}/_sandbox/stats", verify=ssl.create_default_context(cafile=str(ca_file))).is_success

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
