"""Availability latency over stored busy blocks (issue 16: "10 interviewers and 2 weeks answers in
≤ 100 ms p95"). A script, not a test.

    .venv/bin/python benchmarks/availability.py

A SQLite store (a file, as the embedded default) holds 10 interviewers with a connected calendar
each and their busy blocks over two weeks (2 a day, merged as the sync leaves them); the
gateway answers `POST /api/v1/availability` for the panel over those two weeks — 30-minute slots on
a 15-minute grid, buffers, working hours in three zones — through FastAPI's test client (the
request's whole path in the app: validation, auth, store reads, computation, serialisation; no
socket). 20 warm-up requests, then `--requests` timed ones: p50 and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from any directory
    sys.path.insert(0, str(ROOT))

from lineup_integrations.core.oauth import OAuthEngine  # noqa: E402
from lineup_integrations.core.settings import Settings  # noqa: E402
from lineup_integrations.core.store import BusyBlock, Integration, IntegrationStatus, Store  # noqa: E402
from lineup_integrations.core.vault import KeyRing, Vault  # noqa: E402
from lineup_integrations.gateway.app import create_app  # noqa: E402
from lineup_integrations.gateway.auth import mint_token  # noqa: E402

TARGET_MS = 100.0
USERS = [f"interviewer-{n}" for n in range(10)]
ZONES = ("Europe/Paris", "Europe/London", "America/New_York")
SECRET = SecretStr("availability-benchmark-secret-0123456789")
START = dt.datetime(2026, 3, 23, tzinfo=dt.UTC)
END = START + dt.timedelta(days=14)


def seed(store: Store) -> None:
    draw = random.Random(16)
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        for user in USERS:
            session.add(Integration(tenant_id="acme", provider="google_calendar", user_id=user,
                                    status=IntegrationStatus.CONNECTED.value, connected_at=now, last_synced_at=now))  # fmt: skip
            for day in range(14):
                starts = sorted(draw.sample(range(28, 92), 2))  # quarter hours of a working day (UTC)
                ends = [begin + draw.randrange(1, 4) for begin in starts]
                for begin, end in merged(starts, ends):
                    midnight = START + dt.timedelta(days=day)
                    session.add(BusyBlock(tenant_id="acme", user_id=user, start_utc=midnight + dt.timedelta(minutes=15 * begin),
                                          end_utc=midnight + dt.timedelta(minutes=15 * end)))  # fmt: skip


def merged(starts: list[int], ends: list[int]) -> list[tuple[int, int]]:
    blocks: list[tuple[int, int]] = []
    for begin, end in zip(starts, ends, strict=True):
        if blocks and begin <= blocks[-1][1]:
            blocks[-1] = (blocks[-1][0], max(blocks[-1][1], end))
        else:
            blocks.append((begin, end))
    return blocks


def request_body() -> dict[str, object]:
    hours = {user: {"timeZone": ZONES[n % len(ZONES)], "days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}
             for n, user in enumerate(USERS)}  # fmt: skip
    return {"userIds": USERS, "start": START.isoformat(), "end": END.isoformat(), "durationMinutes": 30,
            "bufferBeforeMinutes": 10, "bufferAfterMinutes": 10, "slotStepMinutes": 15, "workingHours": hours}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lineup-availability-") as folder:
        store = Store(f"sqlite:///{Path(folder) / 'lineup.db'}")
        store.upgrade()
        seed(store)
        settings = Settings(data_dir=Path(folder), database_url=store.url, api_jwt_secret=SECRET)
        vault = Vault(KeyRing.parse(f"bench:{base64.b64encode(bytes(32)).decode()}"))  # no secret is stored
        app = create_app(store, OAuthEngine(store, vault, {}), settings)
        token = mint_token(SECRET, tenant_id="acme", subject="bench", ttl=dt.timedelta(hours=1))
        headers, body = {"Authorization": f"Bearer {token}"}, request_body()
        with TestClient(app) as client:
            slots = 0
            for _ in range(20):
                response = client.post("/api/v1/availability", json=body, headers=headers)
                response.raise_for_status()
                slots = len(response.json()["slots"])
            timings = []
            for _ in range(args.requests):
                started = time.perf_counter()
                client.post("/api/v1/availability", json=body, headers=headers).raise_for_status()
                timings.append((time.perf_counter() - started) * 1000)
        store.dispose()
    p50 = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[-1]
    verdict = "PASS" if p95 <= TARGET_MS else "FAIL"
    print(f"availability  users={len(USERS)}  days=14  slots={slots}  requests={args.requests}  "
          f"p50_ms={p50:.1f}  p95_ms={p95:.1f}  target_p95<={TARGET_MS:g}  {verdict}")  # fmt: skip
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
