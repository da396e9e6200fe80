"""Serving the provider sandboxes: one port per provider, all on one background event loop.

`running_sandbox()` is for tests and the demo (returns once every port accepts connections and
stops the servers on exit); `serve_forever()` backs the `lineup-integrations sandbox` command.
Each provider's sandbox package (its contract's `sandbox`) supplies `SANDBOX_PROFILE` (its
kit-level defaults) and `create_sandbox_app(state)`; a port is bound before its server starts, so a busy port fails at
once in the caller and `ports=None` means free ports chosen by the OS.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

import uvicorn

from lineup_integrations.core.provider import Provider, Providers
from lineup_integrations.registry import PROVIDERS
from lineup_integrations.sandbox.kit import SandboxState

STARTUP_TIMEOUT_SECONDS = 30.0


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

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(self._states)

    def base_url(self, provider: str) -> str:
        """`http://127.0.0.1:PORT`: the value of `<PROVIDER>_BASE_URL` for clients."""
        return self._base_urls[provider]

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
) -> Iterator[SandboxHandle]:
    """Serve `providers` in a daemon thread for the duration of the `with` block, each on its port
    in `ports` (a free port for a provider not named there)."""
    states: dict[str, SandboxState] = {}
    servers: list[tuple[ReadyServer, socket.socket]] = []
    base_urls: dict[str, str] = {}
    try:
        for provider in providers:
            module = provider.sandbox.load()
            state = SandboxState(module.SANDBOX_PROFILE)
            listener = _listen(host, (ports or {}).get(provider.name, 0))
            config = uvicorn.Config(
                module.create_sandbox_app(state),
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
            servers.append((ReadyServer(config), listener))
            states[provider.name] = state
            base_urls[provider.name] = f"http://{host}:{listener.getsockname()[1]}"
    except BaseException:
        for _, listener in servers:
            listener.close()
        raise

    failure: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(_serve_all(servers))
        except BaseException as error:  # noqa: BLE001 - reported to the caller's thread
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
        yield SandboxHandle(states, base_urls, {provider.name: provider for provider in providers})
    finally:
        for server, _ in servers:
            server.should_exit = True
        thread.join(STARTUP_TIMEOUT_SECONDS)


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


def serve_forever(host: str = "127.0.0.1", providers: Providers = PROVIDERS,
                  ports: Mapping[str, int] | None = None) -> None:
    """Serve `providers` on their ports (`ports` over their defaults) until SIGINT or SIGTERM,
    printing where each listens."""
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with running_sandbox(providers=providers, ports={**default_ports(providers), **(ports or {})}, host=host) as handle:
            for provider in handle.providers:
                print(f"{provider} sandbox: {handle.base_url(provider)}  (control API: /_sandbox/)", flush=True)
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
