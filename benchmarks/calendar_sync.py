"""Calendar sync benchmark (issue 15): Google Calendar and Outlook against their fetch limits. A script, not a test.

    .venv/bin/python benchmarks/calendar_sync.py        (or `make bench`)

What it measures, against the provider sandbox running in a separate process:

- **ratio_to_fetch_limit**, per provider (`google_calendar`, `outlook_calendar`) and store backend
  (SQLite file, throwaway PostgreSQL): a full sync of one interviewer account with 50,000 events —
  what a Dagster run calls, `CalendarAccountsSync.sync(tenant, full=True)`: raw events upserted,
  series rebuilt and mapped, a checkpoint per page — divided by the *fetch limit*, a plain loop
  that only fetches and parses the same API pages (same page size, endpoint and headers, through
  the same kind of pooled httpx client). Each round runs the sync on a fresh migrated store
  between two runs of the fetch limit (their mean is the round's limit); medians are compared.
  Target ≤ 2.0.
- **cpu** (explains the ratio, no target): CPU seconds of the sync in this process, the sandbox and
  the PostgreSQL server; `total / cores / fetch limit` is the lowest ratio this machine allows.
- **memory**: peak RSS of a fresh child process that only syncs one account, at 10,000 and 200,000
  events (SQLite). Target: difference ≤ 50 MB.

Page sizes are what production uses (the feeds' defaults): Google `maxResults=2500` (its maximum),
Graph `Prefer: odata.maxpagesize=200` (`outlook_calendar.feed.DEFAULT_PAGE_SIZE`).

Every figure is printed on one plain line with PASS/FAIL; the exit code is 1 when a target fails.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
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
from urllib.parse import quote

import httpx
from harness import (  # shared with zoho_sync.py (this script's folder is on sys.path)
    CORES,
    postgres_urls,
    process_tree_cpu_s,
    run_memory_child,
    sandbox_process,
    sqlite_urls,
    verdict,
)

from lineup_integrations.calendar.accounts import CalendarAccountsSync, CalendarSyncSettings
from lineup_integrations.calendar.feed import FeedFactory, Window
from lineup_integrations.core.http import HttpClientSettings
from lineup_integrations.core.oauth import OAuthEngine, configured_providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Integration, Store
from lineup_integrations.core.vault import KeyRing, Vault
from lineup_integrations.devtools.local_postgres import PostgresUnavailable, local_postgres
from lineup_integrations.google_calendar.client import MAX_EVENTS_PAGE
from lineup_integrations.google_calendar.feed import open_feed as open_google_feed
from lineup_integrations.outlook_calendar.client import graph_time
from lineup_integrations.outlook_calendar.feed import DEFAULT_PAGE_SIZE as GRAPH_PAGE_SIZE
from lineup_integrations.outlook_calendar.feed import open_feed as open_outlook_feed
from lineup_integrations.registry import PROVIDERS

RATIO_TARGET = 2.0
MEMORY_GROWTH_TARGET_MB = 50.0
GOOGLE, OUTLOOK = "google_calendar", "outlook_calendar"
FEEDS: dict[str, FeedFactory] = {GOOGLE: open_google_feed, OUTLOOK: open_outlook_feed}
PAGE_SIZES = {GOOGLE: MAX_EVENTS_PAGE, OUTLOOK: GRAPH_PAGE_SIZE}
SETTINGS = CalendarSyncSettings()  # the production window: 30 days back, 180 ahead
GOOGLE_SEED_MAX = 100_000  # the Google sandbox's cap per seed call
GOOGLE_RECURRING_SHARE = 0.02
GRAPH_SERIES = 20  # weekly / daily series (each with its occurrences in the window)
GRAPH_ALL_DAY_SHARE = 0.01
GRAPH_ALL_DAY_MAX = 1_000  # the Graph sandbox's cap per seed call
GRAPH_SEED_DAYS = 60  # single events within ±30 days of today: inside the window
TENANT = "bench"
USER = "interviewer"
REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"


# -- the sandbox's accounts ------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarSandbox:
    base_urls: dict[str, str]

    def control(self, provider: str, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.base_urls[provider]}/_sandbox/{path}", json=body, timeout=600.0)
        response.raise_for_status()
        return response.json()

    def account(self, provider: str, login: str, events: int) -> int:
        """A sandbox account with about `events` events in the sync window; the number seeded."""
        self.control(provider, "accounts", {"login": login})
        seeded = 0
        if provider == GOOGLE:
            for part, start in enumerate(range(0, events, GOOGLE_SEED_MAX)):
                count = min(GOOGLE_SEED_MAX, events - start)
                seeded += self.control(provider, f"calendar/accounts/{login}/seed", {
                    "count": count, "seed": 7 + part, "days_back": SETTINGS.days_back,
                    "days_ahead": SETTINGS.days_ahead, "recurring_share": GOOGLE_RECURRING_SHARE,
                })["seeded"]  # fmt: skip
            return seeded
        all_day = min(GRAPH_ALL_DAY_MAX, max(1, int(events * GRAPH_ALL_DAY_SHARE)))
        return int(self.control(provider, f"graph/mailboxes/{login}/seed", {
            "count": events - all_day - GRAPH_SERIES, "seed": 7, "days": GRAPH_SEED_DAYS,
            "recurring": GRAPH_SERIES, "all_day": all_day,
        })["seeded"])  # fmt: skip


def point_at_sandbox(base_urls: dict[str, str], encryption_keys: str) -> None:
    """The documented variables that point settings, the vault and a child process at the sandbox."""
    os.environ.update({"LINEUP_ENVIRONMENT": "sandbox", "ENCRYPTION_KEYS": encryption_keys})
    for provider in (GOOGLE, OUTLOOK):
        prefix = PROVIDERS[provider].env_prefix
        os.environ.update({
            f"{prefix}_BASE_URL": base_urls[provider], f"{prefix}_CLIENT_ID": f"sandbox-{provider}-client",
            f"{prefix}_CLIENT_SECRET": f"sandbox-{provider}-secret", f"{prefix}_REDIRECT_URI": REDIRECT_URI,
        })  # fmt: skip


@contextlib.contextmanager
def oauth_engine(store: Store) -> Iterator[OAuthEngine]:
    with httpx.Client(timeout=30.0) as http:
        yield OAuthEngine(
            store, Vault(KeyRing.from_env()), configured_providers(PROVIDERS, Settings.from_env(PROVIDERS)), http=http
        )


def connect_account(store: Store, provider: str, login: str) -> Integration:
    """The real OAuth flow through `OAuthEngine` for a Lineup user: begin → the sandbox approves → complete."""
    with oauth_engine(store) as engine, httpx.Client(timeout=30.0) as browser:
        auth_url = engine.begin(TENANT, provider, actor="benchmark", login_hint=login, user_id=USER)
        redirect = browser.get(auth_url, follow_redirects=False)
        if redirect.status_code != 302:
            raise RuntimeError(f"the sandbox did not approve the authorization ({redirect.status_code})")
        return engine.complete(provider, dict(httpx.URL(redirect.headers["location"]).params))


def fresh_store(url: str, provider: str, login: str) -> tuple[Store, Integration]:
    store = Store(url)
    store.upgrade()
    return store, connect_account(store, provider, login)


# -- what is timed ---------------------------------------------------------------------------------


def fetch_limit(http: httpx.Client, provider: str, token: str, window: Window) -> tuple[float, int]:
    """Seconds to fetch and parse (JSON only) every request of a full round of the feed; and its items.

    Google: calendarList, then `events.list` (`singleEvents=false`, `maxResults` 2500) from the
    first page to the one with `nextSyncToken`. Graph: `/me/calendar`, then calendarView delta from
    the window's first call to the `@odata.deltaLink` (`Prefer: odata.maxpagesize=200,
    outlook.timezone="UTC"`), and `GET /me/events/{id}` once per series master the pages name,
    as the feed does."""
    base = os.environ[f"{PROVIDERS[provider].env_prefix}_BASE_URL"]
    auth = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    items = 0
    if provider == GOOGLE:
        listing = http.get(f"{base}/calendar/v3/users/me/calendarList", params={"maxResults": 250}, headers=auth)
        calendar_id = next(
            c["id"] for c in listing.raise_for_status().json()["items"] if c.get("accessRole") == "owner"
        )
        url = f"{base}/calendar/v3/calendars/{quote(calendar_id, safe='')}/events"
        params: dict[str, Any] = {"maxResults": PAGE_SIZES[GOOGLE], "singleEvents": "false"}
        while True:
            page = http.get(url, params=params, headers=auth).raise_for_status().json()
            items += len(page.get("items", []))
            if not page.get("nextPageToken"):
                break
            params["pageToken"] = page["nextPageToken"]
    else:
        headers = {**auth, "Prefer": f'odata.maxpagesize={PAGE_SIZES[OUTLOOK]}, outlook.timezone="UTC"'}
        http.get(f"{base}/v1.0/me/calendar", headers=headers).raise_for_status().json()
        link: str | None = f"{base}/v1.0/me/calendarView/delta"
        first: dict[str, str] | None = {
            "startDateTime": graph_time(window.start),
            "endDateTime": graph_time(window.end),
        }
        masters: set[str] = set()
        while link is not None:
            page = http.get(link, params=first, headers=headers).raise_for_status().json()
            first = None  # the links carry the rest
            values = page.get("value", [])
            items += len(values)
            for master_id in dict.fromkeys(v["seriesMasterId"] for v in values if v.get("seriesMasterId")):
                if master_id not in masters:
                    masters.add(master_id)
                    http.get(f"{base}/v1.0/me/events/{quote(master_id, safe='')}", headers=headers).json()
                    items += 1
            link = page.get("@odata.nextLink")
    return time.perf_counter() - started, items


def accounts_sync(store: Store, engine: OAuthEngine, provider: str, http: httpx.Client) -> CalendarAccountsSync:
    """The accounts sync a Dagster run makes (`CalendarResource.accounts_sync`), on the sandbox."""
    return CalendarAccountsSync(
        store, engine, provider=provider, open_feed=FEEDS[provider],
        api_base_url=os.environ[f"{PROVIDERS[provider].env_prefix}_BASE_URL"], http=http, settings=SETTINGS,
    )  # fmt: skip


@dataclass(frozen=True)
class SyncTiming:
    sync_s: float
    fetched: int
    written: int  # Lineup's events written (occurrences expanded)
    pages: int


def full_sync(store: Store, provider: str, http: httpx.Client) -> SyncTiming:
    with oauth_engine(store) as engine:
        sync = accounts_sync(store, engine, provider, http)
        started = time.perf_counter()
        results = sync.sync(TENANT, full=True)
        elapsed = time.perf_counter() - started
    if len(results) != 1 or results[0].error is not None or results[0].stats is None:
        raise RuntimeError(f"the sync did not complete: {results}")
    stats = results[0].stats
    return SyncTiming(elapsed, stats.total("fetched"), stats.total("events_written"), stats.total("pages"))


# -- per provider and backend ----------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    provider: str
    backend: str
    events: int  # items of a full round (the fetch limit's count)
    written: int
    pages: int
    fetch_s: float
    sync_s: float
    cpu_client_s: float
    cpu_sandbox_s: float
    cpu_database_s: float

    @property
    def ratio(self) -> float:
        return self.sync_s / self.fetch_s

    @property
    def cpu_total_s(self) -> float:
        return self.cpu_client_s + self.cpu_sandbox_s + self.cpu_database_s


def cpu_now(sandbox_pid: int, database_pid: int | None) -> tuple[float, float, float]:
    database = process_tree_cpu_s(database_pid) if database_pid else 0.0
    return time.process_time(), process_tree_cpu_s(sandbox_pid), database


def bench(
    provider: str, backend: str, urls: Iterator[str], login: str, rounds: int, *, sandbox_pid: int,
    database_pid: int | None,
) -> Result:  # fmt: skip
    """`rounds` times, on a fresh migrated store: the full sync between two runs of the fetch limit."""
    fetches: list[float] = []
    syncs: list[SyncTiming] = []
    cpus: list[tuple[float, ...]] = []
    items = 0
    window = SETTINGS.window(dt.datetime.now(dt.UTC))
    http = HttpClientSettings().build_client()  # the pooled client a run's `shared_pool()` builds
    try:
        for _ in range(rounds):
            store, integration = fresh_store(next(urls), provider, login)
            try:
                with oauth_engine(store) as engine:
                    token = engine.token_holder(integration.id).current().value
                before_s, items = fetch_limit(http, provider, token, window)
                cpu_before = cpu_now(sandbox_pid, database_pid)
                timing = full_sync(store, provider, http)
                cpus.append(tuple(a - b for a, b in zip(cpu_now(sandbox_pid, database_pid), cpu_before, strict=True)))
                after_s, _ = fetch_limit(http, provider, token, window)
                fetches.append((before_s + after_s) / 2)
                if timing.fetched != items:
                    raise RuntimeError(f"the sync fetched {timing.fetched} events, the fetch limit {items}")
                syncs.append(timing)
            finally:
                store.dispose()
    finally:
        http.close()
    median = statistics.median
    return Result(
        provider, backend, items, syncs[0].written, syncs[0].pages, median(fetches), median(s.sync_s for s in syncs),
        *(median(c[i] for c in cpus) for i in range(3)),
    )  # fmt: skip


# -- memory: a fresh child process per size ----------------------------------------------------------


def memory_child(provider: str, store_url: str) -> None:
    """The child's whole job: sync one account, then report its peak RSS (KiB on Linux) as JSON."""
    store = Store(store_url)
    http = HttpClientSettings().build_client()
    timing = full_sync(store, provider, http)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_kib": peak_kib, "fetched": timing.fetched, "written": timing.written}))


def peak_rss_mb(sandbox: CalendarSandbox, folder: Path, provider: str, events: int) -> float:
    login = f"memory-{provider}-{events}@bench.example"
    seeded = sandbox.account(provider, login, events)
    url = f"sqlite:///{folder / f'memory-{provider}-{events}.db'}"
    fresh_store(url, provider, login)[0].dispose()
    report = run_memory_child(__file__, "--memory-child", provider, url)
    if report["fetched"] < seeded:
        raise RuntimeError(f"the memory run fetched {report['fetched']} of {seeded} events")
    return float(report["peak_rss_kib"]) / 1024


# -- the run ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="events per account of the timed full sync")
    parser.add_argument("--rounds", type=int, default=3, help="fetch-limit/sync rounds per provider and backend")
    parser.add_argument("--memory-sizes", type=int, nargs=2, default=(10_000, 200_000), metavar=("SMALL", "LARGE"))
    parser.add_argument("--providers", nargs="*", choices=(GOOGLE, OUTLOOK), default=(GOOGLE, OUTLOOK))
    parser.add_argument("--backends", nargs="*", choices=("sqlite", "postgres"), default=("sqlite", "postgres"))
    parser.add_argument("--memory-providers", nargs="*", choices=(GOOGLE, OUTLOOK), default=(GOOGLE, OUTLOOK))
    parser.add_argument("--memory-child", nargs=2, metavar=("PROVIDER", "STORE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return 0

    failed = False
    folder = Path(tempfile.mkdtemp(prefix="lineup-bench-calendar-"))
    try:
        with sandbox_process() as sandbox_server, contextlib.ExitStack() as stack:
            point_at_sandbox(sandbox_server.base_urls, f"bench:{base64.b64encode(os.urandom(32)).decode()}")
            sandbox = CalendarSandbox(sandbox_server.base_urls)
            logins = {provider: f"timed-{provider}@bench.example" for provider in args.providers}
            for provider, login in logins.items():
                sandbox.account(provider, login, args.events)
            results: list[Result] = []
            servers: dict[str, Any] = {}
            for backend in args.backends:
                if backend == "postgres":
                    try:
                        servers[backend] = stack.enter_context(local_postgres())
                    except PostgresUnavailable as error:
                        print(f"postgres  SKIPPED: {error}", flush=True)
                        continue
                for provider, login in logins.items():
                    server = servers.get(backend)
                    urls = sqlite_urls(folder) if server is None else postgres_urls(server)
                    result = bench(provider, backend, urls, login, args.rounds, sandbox_pid=sandbox_server.pid,
                                   database_pid=server.pid if server else None)  # fmt: skip
                    results.append(result)
                    passed = result.ratio <= RATIO_TARGET
                    failed |= not passed
                    print(f"{provider:<16}  {backend:<8}  events={result.events}  pages={result.pages}  "
                          f"written={result.written}  fetch_limit_s={result.fetch_s:.2f}  sync_s={result.sync_s:.2f}  "
                          f"ratio_to_fetch_limit={result.ratio:.2f}  target<={RATIO_TARGET}  {verdict(passed)}",
                          flush=True)  # fmt: skip
            for r in results:  # what the ratio can be on this machine, whatever the sync overlaps
                print(f"cpu       {r.provider:<16}  {r.backend:<8}  sync CPU s: client={r.cpu_client_s:.2f} "
                      f"sandbox={r.cpu_sandbox_s:.2f} database={r.cpu_database_s:.2f} total={r.cpu_total_s:.2f}; "
                      f"on {CORES} cores it needs >= {r.cpu_total_s / CORES:.2f} s: "
                      f"ratio floor {r.cpu_total_s / CORES / r.fetch_s:.2f}  (not a target)", flush=True)  # fmt: skip

            small, large = args.memory_sizes
            for provider in args.memory_providers:
                small_mb = peak_rss_mb(sandbox, folder, provider, small)
                large_mb = peak_rss_mb(sandbox, folder, provider, large)
                growth = large_mb - small_mb
                failed |= growth > MEMORY_GROWTH_TARGET_MB
                print(f"memory    {provider:<16}  sqlite  peak_rss_mb@{small}={small_mb:.1f}  "
                      f"peak_rss_mb@{large}={large_mb:.1f}  difference_mb={growth:.1f}  "
                      f"target<={MEMORY_GROWTH_TARGET_MB:.0f}  {verdict(growth <= MEMORY_GROWTH_TARGET_MB)}",
                      flush=True)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("RESULT", verdict(not failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
