"""A throwaway PostgreSQL server in a temporary folder, for tests and benchmarks.

It runs the system's `initdb`/`pg_ctl` (PostgreSQL 15 from the distribution's packages). The
server refuses to run as root, so under root it runs as the `postgres` system user. It listens
on loopback only, on a free port, with trust authentication (nothing else can reach it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_pg_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise PostgresUnavailable("pg_ctl not found: install the PostgreSQL server (apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class LocalPostgres:
    port: int
    pid: int  # the postmaster's: its children are the server's backends and workers
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement in autocommit (CREATE/DROP DATABASE cannot run in a transaction)."""
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()


@contextlib.contextmanager
def local_postgres() -> Iterator[LocalPostgres]:
    """Start a server, yield it, and stop it and remove its files on exit."""
    pg_bin = find_pg_bin()
    as_root = os.geteuid() == 0
    workdir = Path(tempfile.mkdtemp(prefix="lineup-pg-"))
    datadir = workdir / "data"
    if as_root:
        shutil.chown(workdir, user="postgres", group="postgres")

    def run(*args: str) -> None:
        command = list(args)
        if as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    port = _free_port()
    run(str(pg_bin / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    run(
        str(pg_bin / "pg_ctl"), "-D", str(datadir), "-o", options, "-l", str(workdir / "log"), "-w", "-t", "60", "start"
    )
    try:
        # The first line of postmaster.pid is the postmaster's process id.
        yield LocalPostgres(port=port, pid=int((datadir / "postmaster.pid").read_text().split()[0]))
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            run(str(pg_bin / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(workdir, ignore_errors=True)
