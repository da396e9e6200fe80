"""`lineup-integrations demo`: the whole system offline — sandbox, gateway and Dagster — with three tenants.

What it does, in order (each step over real HTTP, as a user and the Lineup backend would):
1. starts the provider sandbox, the gateway and `dagster dev` (SQLite store and Dagster instance
   under `.data/demo/`, a generated encryption key and JWT secret kept in `.data/demo/secrets.env`);
2. creates three Zoho organisations in different data centres and seeds their contacts;
3. connects each tenant through the real OAuth flow (gateway `connect` → sandbox authorize →
   gateway callback), which the `zoho_connected_tenants` sensor turns into a partition and a first sync;
4. waits for those runs, prints the URLs, a bearer token and a ready `curl` line, and keeps serving.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from lineup_integrations.gateway.auth import mint_token
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.zoho.provider import ZOHO

GATEWAY_PORT = 4000
DAGSTER_PORT = 3000
CHECKOUT = Path(__file__).resolve().parents[2]  # the demo runs from a checkout: dagster.yaml lives there
STARTUP_TIMEOUT_S = 120.0
SYNC_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: str
    login: str
    data_centre: str
    contacts: int


DEMO_TENANTS = (
    DemoTenant("acme", "admin@acme.example", "us", 500),
    DemoTenant("globex", "admin@globex.example", "eu", 5_000),
    DemoTenant("initech", "admin@initech.example", "in", 50_000),
)

RUNS_QUERY = """
query DemoRuns($filter: RunsFilter) { runsOrError(filter: $filter) { __typename
  ... on Runs { results { runId status tags { key value } } } } }
"""


def demo_environment(data_dir: Path) -> dict[str, str]:
    """The environment of every demo process; secrets are generated once and kept beside the data."""
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets_file = data_dir / "secrets.env"
    if not secrets_file.exists():
        secrets_file.write_text(
            f"ENCRYPTION_KEY={base64.b64encode(os.urandom(32)).decode()}\n"
            f"LINEUP_API_JWT_SECRET={secrets.token_urlsafe(48)}\n"
        )
        secrets_file.chmod(0o600)
    generated = dict(line.split("=", 1) for line in secrets_file.read_text().split())
    dagster_home = data_dir / "dagster_home"
    dagster_home.mkdir(exist_ok=True)
    shutil.copyfile(CHECKOUT / "dagster.yaml", dagster_home / "dagster.yaml")
    callback = f"http://127.0.0.1:{GATEWAY_PORT}/api/v1/integrations/callback"
    environment = {
        **os.environ,
        **generated,
        "LINEUP_ENVIRONMENT": "sandbox",
        "LINEUP_DATA_DIR": str(data_dir),
        "LINEUP_DATABASE_URL": f"sqlite:///{data_dir / 'lineup.db'}",
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_GRAPHQL_URL": f"http://127.0.0.1:{DAGSTER_PORT}/graphql",
    }
    for provider in PROVIDERS:
        for suffix in ("BASE_URL", "CLIENT_ID", "CLIENT_SECRET"):  # the sandbox's own, never a live client's
            environment.pop(f"{provider.env_prefix}_{suffix}", None)
        environment[f"{provider.env_prefix}_REDIRECT_URI"] = callback
    environment.pop("ENCRYPTION_KEYS", None)
    return environment


@contextmanager
def process_group() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Children in their own sessions, logging to files; all stopped (SIGINT, then SIGKILL) on exit."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        deadline = time.monotonic() + 20
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def start(processes: list[subprocess.Popen[bytes]], name: str, command: list[str], env: Mapping[str, str],
          log_dir: Path, cwd: Path = CHECKOUT) -> None:
    log = (log_dir / f"{name}.log").open("wb")
    processes.append(subprocess.Popen(command, env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))


def wait_until_up(url: str, processes: list[subprocess.Popen[bytes]], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise SystemExit(f"demo: a process exited while starting {what}; see .data/demo/logs/")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)  # polling a server's start-up, not synchronising threads
    raise SystemExit(f"demo: {what} did not start within {STARTUP_TIMEOUT_S:.0f} s (see .data/demo/logs/)")


def mint(env: Mapping[str, str], tenant_id: str) -> str:
    return mint_token(SecretStr(env["LINEUP_API_JWT_SECRET"]), tenant_id=tenant_id, subject="demo",
                      ttl=dt.timedelta(hours=12))


def connect_tenant(tenant: DemoTenant, env: Mapping[str, str]) -> None:
    """Seed the tenant's Zoho organisation, then connect it exactly as a browser would."""
    zoho = f"http://127.0.0.1:{ZOHO.sandbox_port}"
    gateway = f"http://127.0.0.1:{GATEWAY_PORT}"
    with httpx.Client(timeout=120) as http:
        account = http.post(f"{zoho}/_sandbox/accounts", json={"login": tenant.login, "dc": tenant.data_centre})
        account.raise_for_status()
        org_id = account.json()["account_id"]
        http.post(f"{zoho}/_sandbox/crm/orgs/{org_id}/seed", json={"count": tenant.contacts, "seed": 7}).raise_for_status()
        headers = {"Authorization": f"Bearer {mint(env, tenant.tenant_id)}"}
        started = http.post(f"{gateway}/api/v1/integrations/connect", headers=headers,
                            json={"provider": "zoho", "loginHint": tenant.login})
        started.raise_for_status()
        consent = http.get(started.json()["authUrl"])  # the sandbox approves at once and redirects
        callback = http.get(consent.headers["location"])
        if callback.status_code != 200:
            raise SystemExit(f"demo: connecting {tenant.tenant_id} failed: {callback.text}")


def wait_for_first_syncs(tenants: tuple[DemoTenant, ...], *, since: float) -> dict[str, str]:
    """The status of each tenant's latest finished run created after `since` (a Unix time): a demo
    run again over the same data sees this demo's syncs, not the history of the last one (whose
    runs still going when it stopped ended as failures)."""
    graphql = f"http://127.0.0.1:{DAGSTER_PORT}/graphql"
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    finished: dict[str, str] = {}
    while time.monotonic() < deadline and len(finished) < len(tenants):
        for tenant in tenants:
            if tenant.tenant_id in finished:
                continue
            response = httpx.post(graphql, json={"query": RUNS_QUERY, "variables": {
                "filter": {"tags": [{"key": "tenant", "value": tenant.tenant_id}], "createdAfter": since}}},
                timeout=10).json()
            runs = response["data"]["runsOrError"].get("results", [])
            done = [run["status"] for run in runs if run["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
            if done:
                finished[tenant.tenant_id] = done[0]
        time.sleep(2)  # polling Dagster's run status
    return finished


def run_demo(*, exit_when_synced: bool = False) -> None:
    data_dir = CHECKOUT / ".data" / "demo"
    env = demo_environment(data_dir)
    log_dir = data_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    exe = str(Path(sys.executable).with_name("lineup-integrations"))
    dagster = str(Path(sys.executable).with_name("dagster"))
    with process_group() as processes:
        start(processes, "sandbox", [exe, "sandbox"], env, log_dir)
        wait_until_up(f"http://127.0.0.1:{ZOHO.sandbox_port}/_sandbox/stats", processes, "the sandbox")
        start(processes, "gateway", [exe, "gateway", "--port", str(GATEWAY_PORT)], env, log_dir)
        wait_until_up(f"http://127.0.0.1:{GATEWAY_PORT}/healthz", processes, "the gateway")
        # From DAGSTER_HOME, so Dagster finds its dagster.yaml where it looks (the project's copy is the source).
        start(processes, "dagster", [dagster, "dev", "-w", str(CHECKOUT / "workspace.yaml"), "-p", str(DAGSTER_PORT)],
              env, log_dir, cwd=Path(env["DAGSTER_HOME"]))
        wait_until_up(f"http://127.0.0.1:{DAGSTER_PORT}/server_info", processes, "Dagster")
        connecting_since = time.time()
        for tenant in DEMO_TENANTS:
            print(f"demo: seeding {tenant.contacts:,} contacts for {tenant.tenant_id} ({tenant.data_centre.upper()}) "
                  "and connecting it through OAuth", flush=True)
            connect_tenant(tenant, env)
        print("demo: waiting for the first syncs (the zoho_connected_tenants sensor launches them)", flush=True)
        results = wait_for_first_syncs(DEMO_TENANTS, since=connecting_since)
        for tenant in DEMO_TENANTS:
            print(f"demo: {tenant.tenant_id}: first sync {results.get(tenant.tenant_id, 'NOT FINISHED')}")
        token = mint(env, DEMO_TENANTS[0].tenant_id)
        print(f"""
Dagster UI     http://127.0.0.1:{DAGSTER_PORT}   (Assets › zoho: three tenant partitions)
Gateway        http://127.0.0.1:{GATEWAY_PORT}/docs
Sandbox        {"  ".join(f"{p.name} http://127.0.0.1:{p.sandbox_port}" for p in PROVIDERS)}
Logs           {log_dir}

Bearer token for tenant '{DEMO_TENANTS[0].tenant_id}':
  export TOKEN={token}
  curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:{GATEWAY_PORT}/api/v1/integrations
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"provider":"zoho"}}' http://127.0.0.1:{GATEWAY_PORT}/api/v1/integrations/sync
""", flush=True)
        if exit_when_synced:
            if set(results.values()) != {"SUCCESS"} or len(results) != len(DEMO_TENANTS):
                raise SystemExit(1)
            return
        print("demo: running; Ctrl-C stops everything", flush=True)
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
