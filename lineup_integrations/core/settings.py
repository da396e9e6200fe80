"""Process-wide settings, read once from the environment.

Secrets (client secrets, encryption keys, the JWT secret) are only ever read from the
environment, never from files in the repository.

`LINEUP_ENVIRONMENT` chooses where provider calls go, explicitly:
- `live` (the default): the providers' real hosts, with the client registrations from
  `<PREFIX>_CLIENT_ID` / `_CLIENT_SECRET` / `_REDIRECT_URI`; a missing id or secret is an error
  that names the variable, raised when the settings are read (so at start-up, or when Dagster
  loads the code location), never a silent fallback to localhost.
- `sandbox`: the local provider sandbox (`lineup-integrations sandbox`) on each provider's
  default port, with the sandbox's built-in client registrations; the demo and the tests use it.
In both, `<PREFIX>_BASE_URL` overrides the hosts (a sandbox on another port, say).

`LINEUP_PROVIDERS` (comma-separated names, default: all registered) says which providers this
deployment enables; only those need credentials.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from lineup_integrations.core.provider import Provider

DEFAULT_REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"
DEFAULT_GRAPHQL_URL = "http://127.0.0.1:3000/graphql"
DEFAULT_OAUTH_STATE_TTL = dt.timedelta(minutes=10)
_BASE_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


class SettingsError(ValueError):
    """The environment does not describe a usable configuration; the message names the variable."""


class Environment(StrEnum):
    LIVE = "live"
    SANDBOX = "sandbox"


class ProviderSettings(BaseModel):
    """One provider's client registration and hosts (`base_url` None: its real hosts)."""

    name: str
    client_id: str
    client_secret: SecretStr
    redirect_uri: str = DEFAULT_REDIRECT_URI
    base_url: str | None = None


class Settings(BaseModel):
    environment: Environment = Environment.LIVE
    data_dir: Path
    database_url: str
    api_jwt_secret: SecretStr | None = None
    dagster_graphql_url: str = DEFAULT_GRAPHQL_URL
    oauth_state_ttl: dt.timedelta = DEFAULT_OAUTH_STATE_TTL
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)

    @classmethod
    def from_env(cls, providers: Iterable[Provider] = (), environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default `os.environ`), with a `ProviderSettings` for each of
        `providers` that `LINEUP_PROVIDERS` enables; `SettingsError` for anything unusable."""
        env = _Environment(os.environ if environ is None else environ)
        environment = env.choice("LINEUP_ENVIRONMENT", Environment, Environment.LIVE)
        data_dir = Path(env.get("LINEUP_DATA_DIR") or Path.cwd() / ".data")
        enabled = _enabled(list(providers), env.get("LINEUP_PROVIDERS"))
        jwt_secret = env.get("LINEUP_API_JWT_SECRET")
        return cls(
            environment=environment,
            data_dir=data_dir,
            database_url=env.get("LINEUP_DATABASE_URL") or f"sqlite:///{data_dir / 'lineup.db'}",
            api_jwt_secret=SecretStr(jwt_secret) if jwt_secret else None,
            dagster_graphql_url=env.get("DAGSTER_GRAPHQL_URL") or DEFAULT_GRAPHQL_URL,
            oauth_state_ttl=dt.timedelta(
                seconds=env.positive_int("LINEUP_OAUTH_STATE_TTL_SECONDS", int(DEFAULT_OAUTH_STATE_TTL.total_seconds()))
            ),
            providers={p.name: _provider_settings(p, environment, env) for p in enabled},
        )

    def provider(self, name: str) -> ProviderSettings:
        try:
            return self.providers[name]
        except KeyError:
            raise SettingsError(f"provider {name!r} is not enabled (LINEUP_PROVIDERS)") from None


def _enabled(providers: list[Provider], names: str | None) -> list[Provider]:
    if not names:
        return providers
    by_name = {p.name: p for p in providers}
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise SettingsError(
            f"LINEUP_PROVIDERS names unknown provider(s) {', '.join(unknown)}; known: {', '.join(by_name)}"
        )
    return [by_name[name] for name in wanted]


def _provider_settings(provider: Provider, environment: Environment, env: _Environment) -> ProviderSettings:
    prefix = provider.env_prefix
    base_url = env.url(f"{prefix}_BASE_URL")
    redirect_uri = env.get(f"{prefix}_REDIRECT_URI") or DEFAULT_REDIRECT_URI
    if environment is Environment.SANDBOX:
        return ProviderSettings(
            name=provider.name,
            client_id=env.get(f"{prefix}_CLIENT_ID") or provider.sandbox_client_id,
            client_secret=SecretStr(env.get(f"{prefix}_CLIENT_SECRET") or provider.sandbox_client_secret),
            redirect_uri=redirect_uri,
            base_url=base_url or f"http://127.0.0.1:{provider.sandbox_port}",
        )
    return ProviderSettings(
        name=provider.name,
        client_id=env.required(f"{prefix}_CLIENT_ID", f"{provider.title} in LINEUP_ENVIRONMENT=live"),
        client_secret=SecretStr(
            env.required(f"{prefix}_CLIENT_SECRET", f"{provider.title} in LINEUP_ENVIRONMENT=live")
        ),
        redirect_uri=redirect_uri,
        base_url=base_url,
    )


class _Environment:
    """Reads variables, treating empty as unset, with errors that name the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def required(self, name: str, needed_by: str) -> str:
        value = self.get(name)
        if value is None:
            raise SettingsError(
                f"{name} is not set (needed by {needed_by}; "
                f"set LINEUP_ENVIRONMENT=sandbox to use the local sandbox instead)"
            )
        return value

    def choice(self, name: str, kind: type[Environment], default: Environment) -> Environment:
        value = self.get(name)
        if value is None:
            return default
        try:
            return kind(value.lower())
        except ValueError:
            raise SettingsError(f"{name} must be one of {', '.join(k.value for k in kind)}, not {value!r}") from None

    def positive_int(self, name: str, default: int) -> int:
        value = self.get(name)
        if value is None:
            return default
        if not value.isdigit() or int(value) <= 0:
            raise SettingsError(f"{name} must be a positive whole number of seconds, not {value!r}")
        return int(value)

    def url(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if not _BASE_URL.match(value):
            raise SettingsError(f"{name} must be an http(s) URL without query or fragment")
        return value.rstrip("/")
