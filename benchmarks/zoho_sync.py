"""Zoho contacts sync benchmark (issue 4 "Benchmark", issue 5's mapping figure). A script, not a test.

    .venv/bin/python benchmarks/zoho_sync.py        (or `make bench`)

What it measures, against the provider sandbox running in a separate process (so the server's
JSON encoding does not compete with the sync for this process's GIL, as it would not in production):

- **ratio_to_fetch_limit**, per store backend (SQLite file, throwaway PostgreSQL): a full sync of
  one tenant with 100,000 contacts — the sync job's step, `sync_and_map_contacts(full_refresh=True)`
  (pages landed and mapped as they land), through the real `ZohoResource.client_for` — divided by
  the *fetch limit*, a plain loop that only fetches and parses the same pages (same fields,
  per_page 200, page tokens) from the same sandbox. Each round runs the sync on a fresh migrated
  store between two runs of the fetch limit (their mean is the round's limit); the medians of the
  rounds are compared. Target ≤ 2.0.
- **mapping**: mapping 100,000 raw contacts (`apply_inbound`, the vectorised transform, over the
  raw payloads), as a fraction of the fetch-limit time. Target < 20 %. The time the sync spent
  mapping and writing contacts is printed too; it is part of the ratio.
- **cpu** (explains the ratio, no target): the CPU seconds the sync cost in this process, the
  sandbox and the PostgreSQL server. They share this machine's cores, so `total / cores / fetch
  limit` is the *ratio floor*: no overlap of the sync's work can do better on this machine.
- **memory**: peak RSS of a fresh child process that runs only the sync + mapping of one tenant,
  at 10,000 and at 200,000 contacts. Target: difference ≤ 50 MB (streaming pages, chunked mapping).

Every figure is printed on one plain line with PASS/FAIL; the exit code is 1 when a target fails.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
from harness import (  # the benchmarks' shared harness (this script's folder is on sys.path)
    CORES,
    postgres_urls,
    process_tree_cpu_s,
    run_memory_child,
    sandbox_process,
    sqlite_urls,
    verdict,
)
from sqlalchemy import select

from lineup_integrations.core.mapping import active_mapping, apply_inbound
from lineup_integrations.core.oauth import OAuthEngine, configured_providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import RawRecord, Store
from lineup_integrations.core.vault import KeyRing, Vault
from lineup_integrations.devtools.local_postgres import PostgresUnavailable, local_postgres
from lineup_integrations.orchestration.resources import StoreResource, VaultResource
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.zoho.client import ZohoClient
from lineup_integrations.zoho.contacts import CHUNK_SIZE
from lineup_integrations.zoho.pipeline import sync_and_map_contacts
from lineup_integrations.zoho.resource import ZohoResource
from lineup_integrations.zoho.sync import CONTACT_FIELDS, ENTITY, PROVIDER

RATIO_TARGET = 2.0
MAPPING_SHARE_TARGET = 0.20
MEMORY_GROWTH_TARGET_MB = 50.0
PER_PAGE = 200
DAILY_CREDITS = 10_000_000
SANDBOX_CLIENT_ID = "sandbox-zoho-client"
SANDBOX_CLIENT_SECRET = "sandbox-zoho-secret"
REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"
TENANT = "bench"


# -- the sandbox, in its own process ---------------------------------------------------------------


@dataclass(frozen=True)
class ZohoSandbox:
    base_url: str

    def control(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.base_url}/_sandbox/{path}", json=body, timeout=300.0)
        response.raise_for_status()
        return response.json()

    def organisation(self, login: str, contacts: int, *, dc: str = "eu") -> str:
        """A Zoho org with `contacts` seeded contacts and a budget no benchmark exhausts; its id."""
        org_id = self.control("accounts", {"login": login, "dc": dc})["account_id"]
        self.control(f"crm/orgs/{org_id}/seed", {"count": contacts, "seed": 7})
        self.control(f"crm/orgs/{org_id}/limits", {"daily_credits": DAILY_CREDITS})
        return org_id


# -- a connected tenant --------------------------------------------------------------------------


def point_at_sandbox(base_url: str, encryption_keys: str) -> None:
    """The documented variables that point settings, the vault and a child process at the sandbox."""
    os.environ.update({
        "LINEUP_ENVIRONMENT": "sandbox", "ZOHO_BASE_URL": base_url, "ZOHO_CLIENT_ID": SANDBOX_CLIENT_ID, "ZOHO_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "ZOHO_REDIRECT_URI": REDIRECT_URI, "ENCRYPTION_KEYS": encryption_keys,
    })  # fmt: skip


def connect_tenant(store: Store, tenant_id: str, login: str) -> None:
    """The real OAuth flow through `OAuthEngine`: begin → the sandbox approves (302) → complete."""
    with httpx.Client(timeout=30.0) as http:
        engine = OAuthEngine(
            store, Vault(KeyRing.from_env()), configured_providers(PROVIDERS, Settings.from_env(PROVIDERS)), http=http
        )
        auth_url = engine.begin(tenant_id, PROVIDER, actor="benchmark", login_hint=login)
        redirect = http.get(auth_url, follow_redirects=False)
        if redirect.status_code != 302:
            raise RuntimeError(f"the sandbox did not approve the authorization ({redirect.status_code})")
        engine.complete(PROVIDER, dict(httpx.URL(redirect.headers["location"]).params))


def fresh_store(url: str, login: str) -> Store:
    store = Store(url)
    store.upgrade()
    connect_tenant(store, TENANT, login)
    return store


@contextlib.contextmanager
def zoho_client(store_url: str) -> Iterator[ZohoClient]:
    """`ZohoResource.client_for` as a Dagster run gets it (pooled HTTP, OAuth engine, retries)."""
    zoho = ZohoResource(
        client_id=os.environ["ZOHO_CLIENT_ID"], client_secret=os.environ["ZOHO_CLIENT_SECRET"],
        redirect_uri=REDIRECT_URI, base_url=os.environ["ZOHO_BASE_URL"], daily_credit_budget=DAILY_CREDITS,
        store=StoreResource(database_url=store_url), vault=VaultResource(encryption_keys=os.environ["ENCRYPTION_KEYS"]),
    )  # fmt: skip
    context = dg.build_init_resource_context()
    zoho.setup_for_execution(context)
    try:
        yield zoho.client_for(TENANT)
    finally:
        zoho.teardown_after_execution(context)


# -- what is timed ---------------------------------------------------------------------------------


def fetch_limit(client: ZohoClient) -> tuple[float, int]:
    """Seconds to fetch and parse every page of the sync's query, doing nothing else; and the records."""
    started = time.perf_counter()
    records = 0
    for page in client.iter_contact_pages(
        fields=CONTACT_FIELDS, per_page=PER_PAGE, sort_by="Modified_Time", sort_order="asc"
    ):
        records += len(page.records)
    return time.perf_counter() - started, records


@dataclass(frozen=True)
class SyncTiming:
    sync_s: float  # the whole step
    raw_s: float  # the rest: landing the pages
    mapper_s: float  # mapping and writing the contacts (on PostgreSQL partly inside a page's COPY)
    fetched: int
    mapped: int


def full_sync(store: Store, client: ZohoClient) -> SyncTiming:
    """The sync job's step: land every page and map the records as they land."""
    started = time.perf_counter()
    stats, mapped = sync_and_map_contacts(store, client, TENANT, full_refresh=True, per_page=PER_PAGE)
    finished = time.perf_counter()
    return SyncTiming(
        finished - started, finished - started - mapped.duration_s, mapped.duration_s, stats.fetched, mapped.upserted
    )


def apply_inbound_alone(store: Store) -> tuple[float, int]:
    """Seconds `apply_inbound` alone takes over every raw payload (chunks as the mapper sizes them)."""
    mapping = active_mapping(store, TENANT, PROVIDER, ENTITY).mapping
    with store.session() as session:
        payloads = list(session.scalars(select(RawRecord.payload).where(
            RawRecord.tenant_id == TENANT, RawRecord.provider == PROVIDER, RawRecord.entity == ENTITY)))  # fmt: skip
    started = time.perf_counter()
    for start in range(0, len(payloads), CHUNK_SIZE):
        apply_inbound(payloads[start : start + CHUNK_SIZE], mapping)
    return time.perf_counter() - started, len(payloads)


# -- CPU: what the machine's cores allow --------------------------------------------------------------


@dataclass(frozen=True)
class SyncCpu:
    """CPU seconds a sync cost, by process. The sandbox and a PostgreSQL server share this
    machine's cores with the sync (in production the provider's servers are elsewhere), so however
    well the sync overlaps its work, it cannot finish in less than `total_s / CORES`: the floor."""

    client_s: float  # this process, every thread (SQLite works here)
    sandbox_s: float
    database_s: float  # the PostgreSQL server's processes; 0 for SQLite

    @property
    def total_s(self) -> float:
        return self.client_s + self.sandbox_s + self.database_s

    def minus(self, earlier: SyncCpu) -> SyncCpu:
        return SyncCpu(
            self.client_s - earlier.client_s, self.sandbox_s - earlier.sandbox_s, self.database_s - earlier.database_s
        )


def cpu_now(sandbox_pid: int, database_pid: int | None) -> SyncCpu:
    return SyncCpu(
        time.process_time(), process_tree_cpu_s(sandbox_pid), process_tree_cpu_s(database_pid) if database_pid else 0.0
    )


# -- per backend -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendResult:
    """One backend's figures, each the median over the rounds."""

    name: str
    contacts: int
    fetch_s: float
    sync_s: float  # raw sync + mapping
    raw_s: float
    mapper_s: float
    apply_inbound_s: float  # `apply_inbound` alone over the raw payloads
    cpu: SyncCpu  # of the sync

    @property
    def ratio(self) -> float:
        return self.sync_s / self.fetch_s

    @property
    def ratio_floor(self) -> float:
        """The lowest ratio this machine's cores allow the sync's CPU work (`SyncCpu`)."""
        return self.cpu.total_s / CORES / self.fetch_s


def bench_backend(
    name: str,
    new_store_url: Iterator[str],
    login: str,
    contacts: int,
    rounds: int,
    *,
    sandbox_pid: int,
    database_pid: int | None,
) -> BackendResult:
    """`rounds` times, on a fresh migrated store: the full sync (and the CPU it cost) between two
    runs of the fetch limit, then `apply_inbound` alone over the payloads the sync landed. The
    round's fetch limit is the mean of the two around its sync: this machine's speed drifts by
    10–30 % within a minute, and a baseline taken on one side only carries that drift into the ratio."""
    fetches: list[float] = []
    timings: list[SyncTiming] = []
    cpus: list[SyncCpu] = []
    applies: list[float] = []
    for _ in range(rounds):
        url = next(new_store_url)
        store = fresh_store(url, login)
        try:
            with zoho_client(url) as client:
                fetch_before_s = checked_fetch_limit(client, contacts)
                cpu_before = cpu_now(sandbox_pid, database_pid)
                timing = full_sync(store, client)
                cpus.append(cpu_now(sandbox_pid, database_pid).minus(cpu_before))
                fetches.append((fetch_before_s + checked_fetch_limit(client, contacts)) / 2)
            if (timing.fetched, timing.mapped) != (contacts, contacts):
                raise RuntimeError(f"the sync landed {timing.fetched} and mapped {timing.mapped}, expected {contacts}")
            timings.append(timing)
            apply_s, payloads = apply_inbound_alone(store)
            if payloads != contacts:
                raise RuntimeError(f"the store holds {payloads} raw payloads, expected {contacts}")
            applies.append(apply_s)
        finally:
            store.dispose()
    median = statistics.median
    cpu = SyncCpu(
        median(c.client_s for c in cpus), median(c.sandbox_s for c in cpus), median(c.database_s for c in cpus)
    )
    return BackendResult(
        name,
        contacts,
        median(fetches),
        median(t.sync_s for t in timings),
        median(t.raw_s for t in timings),
        median(t.mapper_s for t in timings),
        median(applies),
        cpu,
    )


def checked_fetch_limit(client: ZohoClient, contacts: int) -> float:
    seconds, records = fetch_limit(client)
    if records != contacts:
        raise RuntimeError(f"the fetch limit saw {records} records, expected {contacts}")
    return seconds


# -- memory: a fresh child process per size ----------------------------------------------------------


def memory_child(store_url: str) -> None:
    """The child's whole job: sync + map one tenant, then report its peak RSS (KiB on Linux) as JSON."""
    store = Store(store_url)
    with zoho_client(store_url) as client:
        timing = full_sync(store, client)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_kib": peak_kib, "fetched": timing.fetched, "mapped": timing.mapped}))


def peak_rss_mb(sandbox: ZohoSandbox, folder: Path, contacts: int) -> float:
    login = f"memory-{contacts}@bench.example"
    sandbox.organisation(login, contacts)
    url = f"sqlite:///{folder / f'memory-{contacts}.db'}"
    fresh_store(url, login).dispose()
    report = run_memory_child(__file__, "--memory-child", url)
    if report["mapped"] < contacts:
        raise RuntimeError(f"the memory run mapped {report['mapped']} of {contacts} contacts")
    return report["peak_rss_kib"] / 1024


# -- the run ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts of the timed full sync")
    parser.add_argument("--rounds", type=int, default=3, help="fetch-limit/sync rounds per backend (median)")
    parser.add_argument("--memory-sizes", type=int, nargs=2, default=(10_000, 200_000), metavar=("SMALL", "LARGE"))
    parser.add_argument("--backends", nargs="+", choices=("sqlite", "postgres"), default=("sqlite", "postgres"))
    parser.add_argument("--memory-child", metavar="STORE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return 0

    failed = False
    folder = Path(tempfile.mkdtemp(prefix="lineup-bench-"))
    try:
        with sandbox_process() as sandbox_server, contextlib.ExitStack() as stack:
            point_at_sandbox(sandbox_server.base_urls[PROVIDER], f"bench:{base64.b64encode(os.urandom(32)).decode()}")
            sandbox = ZohoSandbox(sandbox_server.base_urls[PROVIDER])
            login = "timed@bench.example"
            sandbox.organisation(login, args.contacts)
            results: list[BackendResult] = []
            for backend in args.backends:
                database_pid = None
                if backend == "sqlite":
                    urls = sqlite_urls(folder)
                else:
                    try:
                        server = stack.enter_context(local_postgres())
                    except PostgresUnavailable as error:
                        print(f"postgres  SKIPPED: {error}")
                        continue
                    urls, database_pid = postgres_urls(server), server.pid
                result = bench_backend(
                    backend,
                    urls,
                    login,
                    args.contacts,
                    args.rounds,
                    sandbox_pid=sandbox_server.pid,
                    database_pid=database_pid,
                )
                results.append(result)
                passed = result.ratio <= RATIO_TARGET
                failed |= not passed
                print(f"{backend:<8}  contacts={result.contacts}  records/s={result.contacts / result.sync_s:,.0f}  "
                      f"fetch_limit_s={result.fetch_s:.2f}  sync_s={result.sync_s:.2f}  "
                      f"(raw={result.raw_s:.2f} map={result.mapper_s:.2f})  "
                      f"ratio_to_fetch_limit={result.ratio:.2f}  target<={RATIO_TARGET}  {verdict(passed)}",
                      flush=True)  # fmt: skip
            for result in results:  # what the ratio can be on this machine, whatever the sync overlaps
                cpu = result.cpu
                print(
                    f"cpu       {result.name:<8}  sync CPU s: client={cpu.client_s:.2f} sandbox={cpu.sandbox_s:.2f} "
                    f"database={cpu.database_s:.2f} total={cpu.total_s:.2f}; on {CORES} cores it needs "
                    f">= {cpu.total_s / CORES:.2f} s: ratio floor {result.ratio_floor:.2f}  (not a target)",
                    flush=True,
                )
            for result in results:  # mapping and writing the contacts inside the sync (part of the ratio above)
                share = result.mapper_s / result.fetch_s
                print(
                    f"mapping   {result.name:<8}  contacts mapped + written in the sync {result.contacts} contacts: "
                    f"{result.mapper_s:.2f} s = {share:.1%} of fetch limit  (part of the ratio above)",
                    flush=True,
                )
            for result in results:
                share = result.apply_inbound_s / result.fetch_s
                failed |= share >= MAPPING_SHARE_TARGET
                print(
                    f"mapping   {result.name:<8}  apply_inbound alone {result.contacts} payloads: "
                    f"{result.apply_inbound_s:.2f} s = {share:.1%} of fetch limit  "
                    f"target<{MAPPING_SHARE_TARGET:.0%}  {verdict(share < MAPPING_SHARE_TARGET)}",
                    flush=True,
                )

            small, large = args.memory_sizes
            small_mb = peak_rss_mb(sandbox, folder, small)
            large_mb = peak_rss_mb(sandbox, folder, large)
            growth = large_mb - small_mb
            failed |= growth > MEMORY_GROWTH_TARGET_MB
            print(f"memory    sqlite  peak_rss_mb@{small}={small_mb:.1f}  peak_rss_mb@{large}={large_mb:.1f}  "
                  f"difference_mb={growth:.1f}  target<={MEMORY_GROWTH_TARGET_MB:.0f}  "
                  f"{verdict(growth <= MEMORY_GROWTH_TARGET_MB)}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("RESULT", verdict(not failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
