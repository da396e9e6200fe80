"""What the benchmarks share: the sandbox in its own process, store URLs per round, CPU by process,
a memory child started from a small address space, and the PASS/FAIL words.

Used by `zoho_sync.py` and `calendar_sync.py` (run as plain scripts: this folder is on their path).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from any directory
    sys.path.insert(0, str(ROOT))

from lineup_integrations.devtools.local_postgres import LocalPostgres  # noqa: E402
from lineup_integrations.registry import PROVIDERS  # noqa: E402

SANDBOX_STARTUP_SECONDS = 60.0
CORES = len(os.sched_getaffinity(0))


# -- the sandbox, in its own process ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class SandboxProcess:
    base_urls: dict[str, str]  # provider name → its `http://127.0.0.1:PORT`
    pid: int


@contextlib.contextmanager
def sandbox_process() -> Iterator[SandboxProcess]:
    """Run `lineup-integrations sandbox` on free ports; yield it once it serves every provider.

    Readiness is the server's own announcements (`<provider> sandbox: http://…`, printed after its
    sockets accept connections), read from its stdout; the process is stopped on exit."""
    ports = [f"--port={provider.name}={free_port()}" for provider in PROVIDERS]
    command = [sys.executable, "-c", "from lineup_integrations.cli import app; app()", "sandbox", *ports]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        yield SandboxProcess(_announced_urls(process), process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _announced_urls(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stdout is not None
    wanted = set(PROVIDERS.names)
    urls: dict[str, str] = {}
    deadline = time.monotonic() + SANDBOX_STARTUP_SECONDS
    while time.monotonic() < deadline and set(urls) != wanted:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox exited before serving (exit code {process.wait()})")
        name, _, rest = line.partition(" sandbox: ")
        if name in wanted and rest:
            urls[name] = rest.split()[0]
    if set(urls) != wanted:
        raise RuntimeError(f"the sandbox did not announce {sorted(wanted - set(urls))} in time")
    return urls


# -- stores, one fresh per round -------------------------------------------------------------------


def sqlite_urls(folder: Path) -> Iterator[str]:
    while True:
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"


def postgres_urls(server: LocalPostgres) -> Iterator[str]:
    while True:
        database = f"bench_{uuid.uuid4().hex[:8]}"
        server.execute(f"CREATE DATABASE {database}")
        yield server.url(database)


# -- CPU: what the machine's cores allow --------------------------------------------------------------


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its reaped children, plus those of its live children (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:  # it ended meanwhile: its time went to its parent's reaped children
        return 0.0
    own_and_reaped = sum(int(ticks) for ticks in fields[11:15])  # utime, stime, cutime, cstime
    return own_and_reaped / os.sysconf("SC_CLK_TCK") + sum(process_tree_cpu_s(int(child)) for child in children)


# -- memory: a fresh child process ---------------------------------------------------------------------

# Linux carries a process's peak RSS across fork and exec into the new program's `ru_maxrss`, so a
# child started by a (large) benchmark process would report at least that process's peak. A minimal
# launcher in between starts the measured child from a small address space.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def run_memory_child(script: str, *args: str) -> dict[str, Any]:
    """Run `script *args` through the launcher; its last stdout line, a JSON report."""
    child = [sys.executable, script, *args]
    output = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *child], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    return dict(json.loads(output.strip().splitlines()[-1]))


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"
