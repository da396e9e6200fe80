"""A non-editable install works away from the checkout: the wheel carries the migrations and the
default mappings as package data, so `db upgrade`, loading the Dagster definitions and serving the
gateway need no file of the repository.

The wheel is built once (`pip wheel --no-deps`, with pip's build isolation, from a copy of
`pyproject.toml` and the package) and unpacked with `pip install --no-deps --target`;
its dependencies come from the project's virtualenv. Every command runs from a directory outside
the checkout with the install first on `PYTHONPATH`, and the test checks that the package really
is imported from there.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 240
COMMAND_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `site` directory of a non-editable install of the project built from the checkout."""
    root = tmp_path_factory.mktemp("packaging")
    source, wheels, site = root / "source", root / "wheels", root / "site"
    # Built from a copy: setuptools builds in the source tree (build/, *.egg-info), which is shared.
    source.mkdir()
    shutil.copy(CHECKOUT / "pyproject.toml", source)
    shutil.copytree(
        CHECKOUT / "lineup_integrations",
        source / "lineup_integrations",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        timeout=BUILD_TIMEOUT_S,
        cwd=root,
        capture_output=True,
    )
    (wheel,) = wheels.glob("lineup_integrations-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, timeout=BUILD_TIMEOUT_S, cwd=root
    )
    return site


@pytest.fixture
def outside(tmp_path: Path, installed: Path) -> tuple[Path, dict[str, str]]:
    """A working directory outside the checkout, and an environment that imports the install."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LINEUP_", "ENCRYPTION_KEY", "ZOHO_", "GOOGLE_", "OUTLOOK_", "DAGSTER_"))
    }
    env |= {
        "PYTHONPATH": str(installed),
        "PYTHONSAFEPATH": "1",  # `python -c`/`-m` would otherwise put the cwd first on the path
        "LINEUP_ENVIRONMENT": "sandbox",
        "LINEUP_DATA_DIR": str(workdir / "data"),
        "LINEUP_DATABASE_URL": f"sqlite:///{workdir / 'fresh.db'}",
        "ENCRYPTION_KEY": base64.b64encode(b"p" * 32).decode(),
        "LINEUP_API_JWT_SECRET": "packaging-test-secret-of-at-least-32-bytes",
    }
    return workdir, env


def _python(code: str, workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
    )


def _cli(*args: str) -> list[str]:
    """The console command of the install (its entry point, run by the venv's interpreter)."""
    return [sys.executable, "-c", "from lineup_integrations.cli import app; app()", *args]


def test_the_package_is_imported_from_the_install(outside: tuple[Path, dict[str, str]], installed: Path) -> None:
    workdir, env = outside
    result = _python("import lineup_integrations; print(lineup_integrations.__file__)", workdir, env)
    assert result.returncode == 0, result.stderr
    location = Path(result.stdout.strip()).resolve()
    assert location.is_relative_to(installed.resolve()) and not location.is_relative_to(CHECKOUT)


def test_the_wheel_carries_the_migrations_and_the_mappings(installed: Path) -> None:
    package = installed / "lineup_integrations"
    assert (package / "core" / "store" / "migrations" / "env.py").is_file()
    assert list((package / "core" / "store" / "migrations" / "versions").glob("*.py"))
    assert (package / "mappings" / "zoho" / "contacts.yaml").is_file()


def test_db_upgrade_migrates_a_new_sqlite_file(outside: tuple[Path, dict[str, str]]) -> None:
    workdir, env = outside
    result = subprocess.run(
        _cli("db", "upgrade"), cwd=workdir, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "store schema is up to date" in result.stdout
    tables = _python(
        "import sqlalchemy as sa, os; engine = sa.create_engine(os.environ['LINEUP_DATABASE_URL']);"
        "print(sorted(sa.inspect(engine).get_table_names()))",
        workdir,
        env,
    )
    assert "integrations" in tables.stdout and "alembic_version" in tables.stdout, tables.stdout + tables.stderr


def test_the_dagster_definitions_load_and_validate(outside: tuple[Path, dict[str, str]]) -> None:
    workdir, env = outside
    result = _python(
        "import dagster as dg\n"
        "from lineup_integrations.definitions import defs\n"
        "definitions = defs()\n"
        "with dg.instance_for_test():\n"
        "    dg.Definitions.validate_loadable(definitions)\n"
        "print(sorted(job.name for job in definitions.get_repository_def().get_all_jobs()))\n",
        workdir,
        env,
    )
    assert result.returncode == 0, result.stderr
    assert "zoho_contacts_sync" in result.stdout


def test_the_default_mapping_loads_from_the_package(outside: tuple[Path, dict[str, str]]) -> None:
    workdir, env = outside
    result = _python(
        "from lineup_integrations.core.mapping.defaults import default_mapping_path, load_default_mapping\n"
        "print(default_mapping_path('zoho', 'contacts'))\n"
        "print(len(load_default_mapping('zoho', 'contacts').rules))\n",
        workdir,
        env,
    )
    assert result.returncode == 0, result.stderr
    path, rules = result.stdout.split()
    assert not Path(path).resolve().is_relative_to(CHECKOUT) and int(rules) > 0


def test_the_gateway_serves(outside: tuple[Path, dict[str, str]]) -> None:
    workdir, env = outside
    port = _free_port()
    gateway = subprocess.Popen(
        _cli("gateway", "--port", str(port)), cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while True:
            assert gateway.poll() is None, gateway.stdout.read().decode() if gateway.stdout else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.2)  # polling the child's port, bounded by the deadline
        assert health.status_code == 200
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
