"""`lineup-integrations demo`: the whole system offline — sandbox, gateway and Dagster — with three tenants.

What it does, in order (each step over real HTTP, as a user and the Lineup backend would):
1. starts the provider sandbox, the gateway and `dagster dev` (SQLite store and Dagster instance
   under `.data/demo/`, a generated encryption key and JWT secret kept in `.data/demo/secrets.env`);
2. creates three Zoho organisations in different data centres and seeds their contacts;
3. connects each tenant through the real OAuth flow (gateway `connect` → sandbox authorize →
   gateway callback), which the `zoho_connected_tenants` sensor turns into a partition and a first sync;
4. waits for those runs, prints the URLs, a bearer token and a ready `curl` line, and keeps serving.

Ctrl-C, SIGTERM and SIGHUP (a terminal closing, a service manager or CI stopping it) all end in
the same orderly shutdown: every process the demo started is stopped with its whole process group
(`dagster dev` and its webserver, daemon and run workers included), so nothing is left behind.

`LINEUP_DEMO_DIR` moves the data (default `.data/demo/` in the checkout) and
`LINEUP_DEMO_PORT_OFFSET` shifts every port (3000, 4000, 8801–8803), so a second demo or a test
can run beside a first one.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
from pydantic import SecretStr

from lineup_integrations.core.provider import Provider
from lineup_integrations.gateway.auth import mint_token
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.zoho.provider import ZOHO

GATEWAY_PORT = 4000
DAGSTER_PORT = 3000
CHECKOUT = Path(__file__).resolve().parents[2]  # the demo runs from a checkout: dagster.yaml lives there
STARTUP_TIMEOUT_S = 120.0
SYNC_TIMEOUT_S = 900.0
SHUTDOWN_TIMEOUT_S = 20.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that stop the demo like Ctrl-C does (SIGINT raises KeyboardInterrupt by itself)."""


@dataclass(frozen=True)
class DemoPorts:
    """Where the demo's servers listen: the defaults shifted by `LINEUP_DEMO_PORT_OFFSET`."""

    offset: int = 0

    @property
    def dagster(self) -> int:
        return DAGSTER_PORT + self.offset

    @property
    def gateway(self) -> int:
        return GATEWAY_PORT + self.offset

    def sandbox(self, provider: Provider) -> int:
        return provider.sandbox_port + self.offset

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DemoPorts:
        value = environ.get("LINEUP_DEMO_PORT_OFFSET", "").strip() or "0"
        if not value.isdigit() or int(value) + max(p.sandbox_port for p in PROVIDERS) > 65535:
            raise SystemExit(f"demo: LINEUP_DEMO_PORT_OFFSET must be a small whole number, not {value!r}")
        return cls(int(value))


class DemoStopped(Exception):
    """SIGTERM or SIGHUP arrived: unwinds the demo like a KeyboardInterrupt, through `process_group`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_on_signals(signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> Iterator[None]:
    """Turn `signals` into `DemoStopped` in the main thread while the block runs (their default
    action kills Python on the spot, skipping every `finally`, which left the children running),
    and make sure SIGINT is not ignored, so that the children it starts can be stopped."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise DemoStopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in signals}
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # A shell starts a background job (`lineup-integrations demo &` in a CI script) with SIGINT
        # ignored, and an ignored signal stays ignored across exec: the children would ignore the
        # SIGINT that stops them, and `dagster dev` its SIGTERM too (Dagster maps SIGTERM onto
        # SIGINT's handler). Handled here, the children start with SIGINT at its default.
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ignore the stop signals while the children are stopped: a second Ctrl-C or SIGTERM must not
    cut the shutdown short (it is bounded by SHUTDOWN_TIMEOUT_S, then SIGKILL)."""
    held = (signal.SIGINT, *STOP_SIGNALS)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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


def demo_data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """`LINEUP_DEMO_DIR`, or `.data/demo/` in the checkout."""
    configured = environ.get("LINEUP_DEMO_DIR", "").strip()
    return Path(configured).resolve() if configured else CHECKOUT / ".data" / "demo"


def demo_environment(data_dir: Path, ports: DemoPorts = DemoPorts()) -> dict[str, str]:
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
    callback = f"http://127.0.0.1:{ports.gateway}/api/v1/integrations/callback"
    environment = {
        **os.environ,
        **generated,
        "LINEUP_ENVIRONMENT": "sandbox",
        "LINEUP_DATA_DIR": str(data_dir),
        "LINEUP_DATABASE_URL": f"sqlite:///{data_dir / 'lineup.db'}",
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_GRAPHQL_URL": f"http://127.0.0.1:{ports.dagster}/graphql",
    }
    for provider in PROVIDERS:
        for suffix in ("BASE_URL", "CLIENT_ID", "CLIENT_SECRET"):  # the sandbox's own, never a live client's
            environment.pop(f"{provider.env_prefix}_{suffix}", None)
        environment[f"{provider.env_prefix}_REDIRECT_URI"] = callback
        if ports.offset:
            environment[f"{provider.env_prefix}_BASE_URL"] = f"http://127.0.0.1:{ports.sandbox(provider)}"
    environment.pop("ENCRYPTION_KEYS", None)
    return environment


@contextmanager
def process_group() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Children in their own sessions, logging to files; on exit — normal, an exception, Ctrl-C or
    `DemoStopped` — each child's whole process group gets SIGINT (what Ctrl-C in a terminal sends),
    and SIGKILL if it is still there after SHUTDOWN_TIMEOUT_S."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        yield processes
    finally:
        with _signals_held():
            _stop_all(processes)


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGINT)
    deadline = time.monotonic() + SHUTDOWN_TIMEOUT_S
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    # A group outlives its leader when a grandchild ignores SIGINT: the leader's exit is not enough.
    for process in processes:
        while _signal_group(process.pid, 0) and time.monotonic() < deadline:
            time.sleep(0.1)  # polling the group's remaining members, bounded by the deadline
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False once no member is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def start(
    processes: list[subprocess.Popen[bytes]],
    name: str,
    command: list[str],
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path = CHECKOUT,
) -> None:
    """Start `command` in its own session (so its process group is its whole tree and a terminal's
    Ctrl-C reaches only the demo, which then stops it), logging to `log_dir/name.log`."""
    with (log_dir / f"{name}.log").open("wb") as log:
        processes.append(
            subprocess.Popen(
                command, env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )


def wait_until_up(url: str, processes: list[subprocess.Popen[bytes]], what: str, log_dir: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise SystemExit(f"demo: a process exited while starting {what}; see {log_dir}/")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)  # polling a server's start-up, not synchronising threads
    raise SystemExit(f"demo: {what} did not start within {STARTUP_TIMEOUT_S:.0f} s (see {log_dir}/)")


def mint(env: Mapping[str, str], tenant_id: str) -> str:
    return mint_token(
        SecretStr(env["LINEUP_API_JWT_SECRET"]), tenant_id=tenant_id, subject="demo", ttl=dt.timedelta(hours=12)
    )


def connect_tenant(tenant: DemoTenant, env: Mapping[str, str], ports: DemoPorts = DemoPorts()) -> None:
    """Seed the tenant's Zoho organisation, then connect it exactly as a browser would."""
    zoho = f"http://127.0.0.1:{ports.sandbox(ZOHO)}"
    gateway = f"http://127.0.0.1:{ports.gateway}"
    with httpx.Client(timeout=120) as http:
        account = http.post(f"{zoho}/_sandbox/accounts", json={"login": tenant.login, "dc": tenant.data_centre})
        account.raise_for_status()
        org_id = account.json()["account_id"]
        http.post(
            f"{zoho}/_sandbox/crm/orgs/{org_id}/seed", json={"count": tenant.contacts, "seed": 7}
        ).raise_for_status()
        headers = {"Authorization": f"Bearer {mint(env, tenant.tenant_id)}"}
        started = http.post(
            f"{gateway}/api/v1/integrations/connect",
            headers=headers,
            json={"provider": "zoho", "loginHint": tenant.login},
        )
        started.raise_for_status()
        consent = http.get(started.json()["authUrl"])  # the sandbox approves at once and redirects
        callback = http.get(consent.headers["location"])
        if callback.status_code != 200:
            raise SystemExit(f"demo: connecting {tenant.tenant_id} failed: {callback.text}")


def wait_for_first_syncs(
    tenants: tuple[DemoTenant, ...], *, since: float, ports: DemoPorts = DemoPorts()
) -> dict[str, str]:
    """The status of each tenant's latest finished run created after `since` (a Unix time): a demo
    run again over the same data sees this demo's syncs, not the history of the last one (whose
    runs still going when it stopped ended as failures)."""
    graphql = f"http://127.0.0.1:{ports.dagster}/graphql"
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    finished: dict[str, str] = {}
    while time.monotonic() < deadline and len(finished) < len(tenants):
        for tenant in tenants:
            if tenant.tenant_id in finished:
                continue
            response = httpx.post(
                graphql,
                json={
                    "query": RUNS_QUERY,
                    "variables": {
                        "filter": {"tags": [{"key": "tenant", "value": tenant.tenant_id}], "createdAfter": since}
                    },
                },
                timeout=10,
            ).json()
            runs = response["data"]["runsOrError"].get("results", [])
            done = [run["status"] for run in runs if run["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
            if done:
                finished[tenant.tenant_id] = done[0]
        time.sleep(2)  # polling Dagster's run status
    return finished


def run_demo(*, exit_when_synced: bool = False) -> None:
    """The demo, stopped in order by Ctrl-C, SIGTERM or SIGHUP."""
    run_until_stopped(functools.partial(_run_demo, exit_when_synced=exit_when_synced))


def run_until_stopped(main: Callable[[], None]) -> None:
    """Run `main` (which starts its children under `process_group`) so that SIGTERM and SIGHUP unwind
    it like Ctrl-C; then exit with status 128 + the signal's number, as a shell reports a process
    that a signal ended."""
    try:
        with stop_on_signals():
            main()
    except DemoStopped as stopped:
        print(f"demo: stopped by {signal.Signals(stopped.signum).name}; every process it started has ended", flush=True)
        raise SystemExit(128 + stopped.signum) from None


def _run_demo(*, exit_when_synced: bool) -> None:
    data_dir = demo_data_dir()
    ports = DemoPorts.from_env()
    env = demo_environment(data_dir, ports)
    log_dir = data_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    exe = str(Path(sys.executable).with_name("lineup-integrations"))
    dagster = str(Path(sys.executable).with_name("dagster"))
    sandbox_ports = [f"--port={p.name}={ports.sandbox(p)}" for p in PROVIDERS]
    with process_group() as processes:
        start(processes, "sandbox", [exe, "sandbox", *sandbox_ports], env, log_dir)
        wait_until_up(f"http://127.0.0.1:{ports.sandbox(ZOHO)}/_sandbox/stats", processes, "the sandbox", log_dir)
        start(processes, "gateway", [exe, "gateway", "--port", str(ports.gateway)], env, log_dir)
        wait_until_up(f"http://127.0.0.1:{ports.gateway}/healthz", processes, "the gateway", log_dir)
        # From DAGSTER_HOME, so Dagster finds its dagster.yaml where it looks (the project's copy is the source).
        start(
            processes,
            "dagster",
            [dagster, "dev", "-w", str(CHECKOUT / "workspace.yaml"), "-p", str(ports.dagster)],
            env,
            log_dir,
            cwd=Path(env["DAGSTER_HOME"]),
        )
        wait_until_up(f"http://127.0.0.1:{ports.dagster}/server_info", processes, "Dagster", log_dir)
        connecting_since = time.time()
        for tenant in DEMO_TENANTS:
            print(
                f"demo: seeding {tenant.contacts:,} contacts for {tenant.tenant_id} ({tenant.data_centre.upper()}) "
                "and connecting it through OAuth",
                flush=True,
            )
            connect_tenant(tenant, env, ports)
        print("demo: waiting for the first syncs (the zoho_connected_tenants sensor launches them)", flush=True)
        results = wait_for_first_syncs(DEMO_TENANTS, since=connecting_since, ports=ports)
        for tenant in DEMO_TENANTS:
            print(f"demo: {tenant.tenant_id}: first sync {results.get(tenant.tenant_id, 'NOT FINISHED')}")
        token = mint(env, DEMO_TENANTS[0].tenant_id)
        gateway = f"http://127.0.0.1:{ports.gateway}"
        print(
            f"""
Dagster UI     http://127.0.0.1:{ports.dagster}   (Assets › zoho: three tenant partitions)
Gateway        {gateway}/docs
Sandbox        {"  ".join(f"{p.name} http://127.0.0.1:{ports.sandbox(p)}" for p in PROVIDERS)}
Logs           {log_dir}

Bearer token for tenant '{DEMO_TENANTS[0].tenant_id}':
  export TOKEN={token}
  curl -s -H "Authorization: Bearer $TOKEN" {gateway}/api/v1/integrations
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"provider":"zoho"}}' {gateway}/api/v1/integrations/sync
""",
            flush=True,
        )
        if exit_when_synced:
            if set(results.values()) != {"SUCCESS"} or len(results) != len(DEMO_TENANTS):
                raise SystemExit(1)
            return
        print("demo: running; Ctrl-C (or SIGTERM) stops everything", flush=True)
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(1)  # watching the children: the demo ends if one of them dies
        except KeyboardInterrupt:
            pass
