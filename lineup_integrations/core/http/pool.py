"""One pooled `httpx.Client` per provider, shared by all tenants and threads of a process.

Reusing connections (HTTP keep-alive) matters: a Zoho sync is hundreds of sequential calls to the
same host, and a TLS handshake per call would dominate. Limits bound the sockets a process opens
per provider; timeouts make a stalled provider a retryable `TransportFailure` instead of a hang.
"""

from __future__ import annotations

import threading

import httpx
from pydantic import BaseModel, ConfigDict, Field


class HttpClientSettings(BaseModel):
    """Connection pool and timeout settings of one provider's client."""

    model_config = ConfigDict(frozen=True)

    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    write_timeout: float = Field(default=30.0, gt=0)
    pool_timeout: float = Field(default=30.0, gt=0, description="wait for a free pooled connection")
    max_connections: int = Field(default=50, ge=1)
    max_keepalive_connections: int = Field(default=20, ge=0)
    keepalive_expiry: float = Field(default=30.0, ge=0)
    user_agent: str = "lineup-integrations/0.1"

    def build_client(self) -> httpx.Client:
        return httpx.Client(
            timeout=httpx.Timeout(
                connect=self.connect_timeout, read=self.read_timeout, write=self.write_timeout, pool=self.pool_timeout
            ),
            limits=httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_keepalive_connections,
                keepalive_expiry=self.keepalive_expiry,
            ),
            headers={"User-Agent": self.user_agent},
            follow_redirects=False,  # a redirect would resend the Authorization header elsewhere
        )


class HttpClientPool:
    """Lazily builds and keeps one client per provider name; `close()` releases every socket."""

    def __init__(self, settings: dict[str, HttpClientSettings] | None = None) -> None:
        self._settings = settings or {}
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def client(self, provider: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(provider)
            if client is None or client.is_closed:
                client = self._settings.get(provider, HttpClientSettings()).build_client()
                self._clients[provider] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


_shared_pool = HttpClientPool()


def shared_pool() -> HttpClientPool:
    """The process-wide pool (a Dagster run process, the gateway): one client per provider."""
    return _shared_pool
