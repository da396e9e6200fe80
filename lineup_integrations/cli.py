"""`lineup-integrations`: the console command (gateway, sandbox, database, keys, local tokens).

Configuration problems (a missing or malformed encryption key, no JWT secret) end the command
with one line on stderr and exit code 2 — never a traceback, never a silent default.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import typer
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from lineup_integrations.core.key_rotation import count_stale_credentials, rotate_keys
from lineup_integrations.core.oauth import OAuthConfigError, OAuthEngine, configured_providers
from lineup_integrations.core.provider import Providers
from lineup_integrations.core.settings import Settings
from lineup_integrations.core.store import Store
from lineup_integrations.core.vault import Vault, VaultConfigError
from lineup_integrations.gateway.app import create_app, server_config
from lineup_integrations.gateway.auth import AuthConfigError, mint_token
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox.server import default_ports, serve_forever

CONFIG_ERROR_EXIT = 2


@contextmanager
def _config_errors() -> Iterator[None]:
    """Turn a configuration error into one line on stderr and exit code 2."""
    try:
        yield
    except (VaultConfigError, AuthConfigError, OAuthConfigError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(CONFIG_ERROR_EXIT) from None


def build_cli(providers: Providers = PROVIDERS) -> typer.Typer:
    """The command line for `providers` (the registry's; a test passes its own set)."""
    cli = typer.Typer(
        name="lineup-integrations",
        help="Lineup's integrations framework: Zoho CRM, Google Calendar and Outlook Calendar per tenant.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    db_app = typer.Typer(help="The integration store's schema.", no_args_is_help=True)
    keys_app = typer.Typer(help="The token vault's encryption keys.", no_args_is_help=True)
    cli.add_typer(db_app, name="db")
    cli.add_typer(keys_app, name="keys")

    @cli.command("providers")
    def list_providers() -> None:
        """The registered providers: name, environment prefix, sandbox port and sync job."""
        for provider in providers:
            sync = provider.sync.job if provider.sync else "-"
            typer.echo(
                f"{provider.name:<20} {provider.env_prefix + '_*':<12} sandbox :{provider.sandbox_port:<6} "
                f"sync {sync}  ({provider.title})"
            )

    @cli.command()
    def gateway(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(4000, help="Port to listen on (the spec's redirect URIs use 4000)."),
    ) -> None:
        """Serve the HTTP API (migrates the store first)."""
        with _config_errors():
            settings = Settings.from_env(providers)
            store = Store(settings.database_url)
            oauth = OAuthEngine(
                store, Vault.from_env(), configured_providers(providers, settings), state_ttl=settings.oauth_state_ttl
            )
            application = create_app(store, oauth, settings, providers)
            store.upgrade()
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        uvicorn.Server(server_config(application, host=host, port=port)).run()

    @cli.command()
    def sandbox(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: list[str] = typer.Option(
            [],
            metavar="PROVIDER=PORT",
            help="A provider's port (repeatable); defaults: "
            + ", ".join(f"{p.name}={p.sandbox_port}" for p in providers)
            + ".",
        ),
    ) -> None:
        """Serve the offline provider sandbox (one port per provider) until interrupted."""
        with _config_errors():
            ports = {**default_ports(providers), **_parse_ports(port, providers)}
        serve_forever(host=host, providers=providers, ports=ports)

    @db_app.command("upgrade")
    def db_upgrade() -> None:
        """Bring the store's schema to the newest migration (idempotent)."""
        with _config_errors():
            settings = Settings.from_env()
            Store(settings.database_url).upgrade()
        typer.echo(f"store schema is up to date ({_safe_url(settings.database_url)})")

    keys_app.command("rotate")(keys_rotate)
    cli.command()(token)
    cli.command()(demo)
    return cli


def _parse_ports(values: list[str], providers: Providers) -> dict[str, int]:
    ports = {}
    for value in values:
        name, _, number = value.partition("=")
        if name not in providers or not number.isdigit() or not 0 < int(number) < 65536:
            raise ValueError(f"--port takes PROVIDER=PORT with one of {', '.join(providers.names)}, not {value!r}")
        ports[name] = int(number)
    return ports


def keys_rotate(
    batch_size: int = typer.Option(500, min=1, help="Credentials re-encrypted per transaction."),
) -> None:
    """Re-encrypt every credential under the active key (the first in ENCRYPTION_KEYS); resumable, idempotent."""
    with _config_errors():
        vault = Vault.from_env()
        store = Store(Settings.from_env().database_url)
    total = count_stale_credentials(store, vault)
    with Progress(
        TextColumn("re-encrypting under key [bold]{task.fields[key]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task("rotate", total=total, key=vault.active_key_id)
        report = rotate_keys(store, vault, batch_size=batch_size, on_batch=lambda n: progress.advance(task, n))
    typer.echo(
        f"re-encrypted {report.credentials_resealed} credential(s) and {report.oauth_states_resealed} pending "
        f"OAuth state(s) under key {report.active_key_id!r}"
    )
    if report.unreadable:
        typer.echo(
            f"error: {len(report.unreadable)} credential(s) could not be opened with the key ring and were left "
            f"as they are: {', '.join(report.unreadable)}",
            err=True,
        )
        raise typer.Exit(1)


def token(
    tenant: str = typer.Option(..., help="Tenant id the token acts for."),
    subject: str = typer.Option("local-dev", help="The acting user (the audit log's actor)."),
    ttl: int = typer.Option(3600, min=1, help="Lifetime in seconds."),
) -> None:
    """Mint a bearer token for the gateway (signed with LINEUP_API_JWT_SECRET) and print it."""
    with _config_errors():
        minted = mint_token(
            Settings.from_env().api_jwt_secret, tenant_id=tenant, subject=subject, ttl=dt.timedelta(seconds=ttl)
        )
    typer.echo(minted)


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def demo(
    exit_when_synced: bool = typer.Option(
        False, help="Stop once the demo tenants' first syncs finished (exit 1 if one failed)."
    ),
) -> None:
    """Run everything offline: sandbox, gateway and Dagster, with three demo tenants connected and synced."""
    from lineup_integrations.devtools.demo import run_demo

    run_demo(exit_when_synced=exit_when_synced)


app = build_cli()
