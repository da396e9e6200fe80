"""`lineup-integrations demo` stopped by a signal, as a service manager (SIGTERM), a closing terminal
(SIGHUP) or a CI script (SIGTERM to a job a shell started in the background, with SIGINT ignored)
stops it: every process the demo started must end with it, grandchildren included.

The processes are found from /proc: every descendant of the demo, and every member of the sessions
its children lead (`start()` gives each child its own session), so a grandchild that was re-parented
to init after its parent died still counts as left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lineup_integrations.devtools.demo import SHUTDOWN_TIMEOUT_S
from lineup_integrations.registry import PROVIDERS

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")

CLI = str(Path(sys.executable).with_name("lineup-integrations"))
EXIT_TIMEOUT_S = SHUTDOWN_TIMEOUT_S + 30


def _process_table() -> dict[int, tuple[int, int, str]]:
    """pid → (parent pid, session id, state) of every process now."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        table[int(entry.name)] = (int(fields[1]), int(fields[3]), fields[0])
    return table


def _tree(root: int) -> tuple[set[int], set[int]]:
    """The live descendants of `root`, and the sessions its children lead."""
    table = _process_table()
    descendants: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _, state) in table.items() if ppid == parent and state != "Z"]
        descendants.update(children)
        frontier.extend(children)
    sessions = {pid for pid in descendants if table[pid][0] == root and table[pid][1] == pid}
    return descendants, sessions


def _survivors(pids: set[int], sessions: set[int]) -> set[int]:
    """Which of `pids`, or of any process in `sessions`, still runs (a zombie has ended)."""
    return {
        pid for pid, (_, sid, state) in _process_table().items() if state != "Z" and (pid in pids or sid in sessions)
    }


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)  # polling child processes' state, bounded by the deadline


def _assert_nothing_left(pids: set[int], sessions: set[int]) -> None:
    # SIGKILLed or just-exited members may need a moment to be gone from the table.
    deadline = time.monotonic() + 5
    while _survivors(pids, sessions) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the process table, bounded by the deadline
    left = _survivors(pids, sessions)
    assert not left, f"processes left behind: {_describe(left)}"


def _describe(pids: set[int]) -> list[str]:
    described = []
    for pid in sorted(pids):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            described.append(f"{pid}: {command[:160]}")
        except OSError:
            described.append(f"{pid}: (gone)")
    return described


def _kill_all(pids: set[int]) -> None:
    """Test clean-up after a failure: nothing may outlive the test."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _ignore_sigint() -> None:
    """What a shell does to a job it starts with `&` in a script."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def launched() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, and everything they start, are killed at the end whatever happened."""
    processes: list[subprocess.Popen[bytes]] = []
    seen: set[int] = set()
    yield processes
    for process in processes:
        seen |= _tree(process.pid)[0]
        if process.poll() is None:
            seen.add(process.pid)
    _kill_all(seen)
    for process in processes:
        process.wait(timeout=10)


# A parent that starts `lineup-integrations sandbox` children through the demo's own `start()` under
# `process_group()`, run as the demo runs (`run_until_stopped`), then waits in a loop to be stopped.
HARNESS = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from lineup_integrations.devtools.demo import process_group, run_until_stopped, start

    def main() -> None:
        with process_group() as processes:
            for index, command in enumerate(json.loads(sys.argv[2])):
                start(processes, f"sandbox{index}", command, os.environ, Path(sys.argv[1]))
            print("started", flush=True)
            while True:
                time.sleep(1)  # the demo's run loop

    run_until_stopped(main)
""")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def _sandbox_command(ports: list[int]) -> list[str]:
    return [CLI, "sandbox", *(f"--port={p.name}={port}" for p, port in zip(PROVIDERS, ports, strict=True))]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_ends_every_child_of_the_run_loop(
    stop: signal.Signals, tmp_path: Path, launched: list[subprocess.Popen[bytes]]
) -> None:
    ports = _free_ports(2 * len(PROVIDERS))
    commands = [_sandbox_command(ports[: len(PROVIDERS)]), _sandbox_command(ports[len(PROVIDERS) :])]
    parent = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(tmp_path), json.dumps(commands)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_ignore_sigint,
    )
    launched.append(parent)
    _wait_for(lambda: all(_listening(port) for port in ports), 60, "both sandboxes to listen")
    children, sessions = _tree(parent.pid)
    assert len(sessions) == 2, _describe(children)

    parent.send_signal(stop)

    assert parent.wait(timeout=EXIT_TIMEOUT_S) == 128 + stop
    output = parent.stdout.read().decode() if parent.stdout else ""
    assert f"stopped by {stop.name}" in output, output
    _assert_nothing_left(children, sessions)
    assert not any(_listening(port) for port in ports)
