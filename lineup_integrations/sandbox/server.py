"""Serving the provider sandboxes: one port per provider, all on one background event loop.

`running_sandbox()` is for tests and the demo (returns once every port accepts connections and
stops the servers on exit); `serve_forever()` backs the `lineup-integrations sandbox` command.
Each provider's sandbox package (its contract's `sandbox`) supplies `SANDBOX_PROFILE` (its
kit-level defaults) and `create_sandbox_app(state)`; a port is bound before its server starts, so a busy port fails at
once in the caller and `ports=None` means free ports chosen by the OS.

A provider whose sandbox module sets `SANDBOX_TLS = True` (Microsoft: MSAL refuses a non-https
authority) is also served over https on a second port, from the same app and state, with a leaf
certificate signed by the sandbox's own CA (`tls.ensure_tls`); `SandboxHandle.tls_base_url` and
`.ca_file` tell clients where and what to trust. Plain http stays on the provider's port, so
`<PREFIX>_BASE_URL` and every client configured with it are unchanged.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from lineup_integrations.core.provider import Provider, Providers
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox.kit import SandboxState
from lineup_integrations.sandbox.tls import SandboxTls, default_tls_dir, ensure_tls

STARTUP_TIMEOUT_SECONDS = 30.0
TLS_PORT_OFFSET = 1000
"""`lineup-integrations sandbox` serves a provider's https twin on its default port + this (8803 → 9803)."""


class SandboxStartupError(RuntimeError):
    """A sandbox server did not start (its exception is chained)."""


class ReadyServer(uvicorn.Server):
    """uvicorn's server, with an event set once it serves its socket (or has failed to)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@dataclass(frozen=True)
class SandboxHandle:
    """The running sandbox: where each provider listens and the state behind it."""

    _states: Mapping[str, SandboxState]
    _base_urls: Mapping[str, str]
    _providers: Mapping[str, Provider]
    _tls_base_urls: Mapping[str, str] = field(default_factory=dict)
    _tls: SandboxTls | None = None

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(self._states)

    def base_url(self, provider: str) -> str:
        """`http://127.0.0.1:PORT`: the value of `<PROVIDER>_BASE_URL` for clients."""
        return self._base_urls[provider]

    @property
    def tls_providers(self) -> tuple[str, ...]:
        """The providers also served over https (`SANDBOX_TLS`)."""
        return tuple(self._tls_base_urls)

    def tls_base_url(self, provider: str) -> str:
        """`https://127.0.0.1:PORT` of a provider whose sandbox also serves TLS (KeyError for the others)."""
        return self._tls_base_urls[provider]

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate (PEM) that signs the https listeners' certificate; what a client trusts
        (`verify=`). None when no provider serves TLS."""
        return self._tls.ca_file if self._tls else None

    @property
    def ca_bundle_file(self) -> Path | None:
        """certifi's public CAs plus `ca_file`: a value for `SSL_CERT_FILE` / `REQUESTS_CA_BUNDLE`."""
        return self._tls.bundle_file if self._tls else None

    def state(self, provider: str) -> SandboxState:
        return self._states[provider]

    def reset(self) -> None:
        """Every provider back to a fresh sandbox (what `POST /_sandbox/reset` does per port)."""
        for state in self._states.values():
            state.reset()

    def register_redirect_uri(self, redirect_uri: str) -> None:
        """Register `redirect_uri` with every provider's client (what `POST /_sandbox/config
        {"redirect_uris"}` does per port), for a gateway whose callback is not a default one.
        A reset forgets it."""
        for state in self._states.values():
            state.register_redirect_uri(redirect_uri)

    def environment(self) -> dict[str, str]:
        """The variables that point `Settings.from_env` at this sandbox: `LINEUP_ENVIRONMENT=sandbox`
        and each provider's `<PREFIX>_BASE_URL`, `_CLIENT_ID` and `_CLIENT_SECRET`."""
        variables: dict[str, str] = {"LINEUP_ENVIRONMENT": "sandbox"}
        for provider, state in self._states.items():
            prefix = self._providers[provider].env_prefix
            variables[f"{prefix}_BASE_URL"] = self.base_url(provider)
            variables[f"{prefix}_CLIENT_ID"] = state.config.client_id
            variables[f"{prefix}_CLIENT_SECRET"] = state.config.client_secret.get_secret_value()
        return variables


@contextmanager
def running_sandbox(
    providers: Providers = PROVIDERS,
    ports: Mapping[str, int] | None = None,
    host: str = "127.0.0.1",
    *,
    tls_ports: Mapping[str, int] | None = None,
    tls_dir: Path | None = None,
) -> Iterator[SandboxHandle]:
    """Serve `providers` in a daemon thread for the duration of the `with` block, each on its port
    in `ports` (a free port for a provider not named there). A `SANDBOX_TLS` provider is also
    served over https on its port in `tls_ports` (free when not named or taken), with the CA and
    leaf kept in `tls_dir` (a temporary folder, removed on exit, when None)."""
    states: dict[str, SandboxState] = {}
    servers: list[tuple[ReadyServer, socket.socket]] = []
    base_urls: dict[str, str] = {}
    tls_base_urls: dict[str, str] = {}
    tls: SandboxTls | None = None
    temporary: tempfile.TemporaryDirectory[str] | None = None
    try:
        for provider in providers:
            module = provider.sandbox.load()
            state = SandboxState(module.SANDBOX_PROFILE)
            app = module.create_sandbox_app(state)
            listener = _listen(host, (ports or {}).get(provider.name, 0))
            servers.append((ReadyServer(_server_config(app)), listener))
            states[provider.name] = state
            base_urls[provider.name] = f"http://{host}:{listener.getsockname()[1]}"
            if getattr(module, "SANDBOX_TLS", False):
                if tls is None:
                    if tls_dir is None:
                        temporary = tempfile.TemporaryDirectory(prefix="lineup-sandbox-tls-")
                        tls_dir = Path(temporary.name)
                    tls = ensure_tls(tls_dir)
                secure = _listen_or_free(host, (tls_ports or {}).get(provider.name, 0))
                servers.append((ReadyServer(_server_config(app, tls)), secure))
                tls_base_urls[provider.name] = f"https://{host}:{secure.getsockname()[1]}"
    except BaseException:
        for _, listener in servers:
            listener.close()
        if temporary is not None:
            temporary.cleanup()
        raise

    failure: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(_serve_all(servers))
        except BaseException as error:
            failure.append(error)
        finally:
            for server, _ in servers:
                server.ready.set()

    thread = threading.Thread(target=serve, name="provider-sandbox", daemon=True)
    thread.start()
    try:
        for server, _ in servers:
            if not server.ready.wait(STARTUP_TIMEOUT_SECONDS) or failure or not server.started:
                raise SandboxStartupError("the provider sandbox did not start") from (failure[0] if failure else None)
        yield SandboxHandle(states, base_urls, {provider.name: provider for provider in providers}, tls_base_urls, tls)
    finally:
        for server, _ in servers:
            server.should_exit = True
        thread.join(STARTUP_TIMEOUT_SECONDS)
        if temporary is not None:
            temporary.cleanup()


def _listen_or_free(host: str, port: int) -> socket.socket:
    """`_listen` on `port`, or on a free port when it is taken: an https twin's port is a convenience,
    not a contract (the handle and `serve_forever`'s output say where it listens)."""
    try:
        return _listen(host, port)
    except OSError:
        if port == 0:
            raise
        return _listen(host, 0)


def _server_config(app: FastAPI, tls: SandboxTls | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
    )


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Built from `getaddrinfo` so that its `proto` is TCP: asyncio only
    sets TCP_NODELAY on connections of such sockets, and without it every response waits ~40 ms
    for a delayed ACK (`socket.create_server` leaves `proto` 0)."""
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    family, kind, proto, _, address = addresses[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen()
    except BaseException:
        listener.close()
        raise
    return listener


async def _serve_all(servers: Sequence[tuple[ReadyServer, socket.socket]]) -> None:
    await asyncio.gather(*(server.serve(sockets=[listener]) for server, listener in servers))


def default_ports(providers: Providers = PROVIDERS) -> dict[str, int]:
    """Each provider's own sandbox port (`Provider.sandbox_port`)."""
    return {provider.name: provider.sandbox_port for provider in providers}


def serve_forever(
    host: str = "127.0.0.1", providers: Providers = PROVIDERS, ports: Mapping[str, int] | None = None
) -> None:
    """Serve `providers` on their ports (`ports` over their defaults) until SIGINT or SIGTERM,
    printing where each listens."""
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        chosen = {**default_ports(providers), **(ports or {})}
        # the https twin of a provider on its default port gets a fixed port too; otherwise a free one
        tls_ports = {
            provider.name: provider.sandbox_port + TLS_PORT_OFFSET
            for provider in providers
            if chosen.get(provider.name) == provider.sandbox_port
        }
        with running_sandbox(
            providers=providers, ports=chosen, host=host, tls_ports=tls_ports, tls_dir=default_tls_dir()
        ) as handle:
            for provider in handle.providers:
                print(f"{provider} sandbox: {handle.base_url(provider)}  (control API: /_sandbox/)", flush=True)
            for provider in handle.tls_providers:
                print(
                    f"{provider} over TLS: {handle.tls_base_url(provider)}  (trust the CA {handle.ca_file}, "
                    f"or SSL_CERT_FILE={handle.ca_bundle_file})",
                    flush=True,
                )
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
