"""The provider contract: what a provider package declares so that every other part can use it.

Each provider package (`zoho/`, `google_calendar/`, `outlook_calendar/`) exports one `Provider`
from its `provider.py`; `lineup_integrations.registry` lists them. Settings, the gateway, the CLI,
the sandbox server, the demo and the Dagster code location read everything provider-specific
from these objects, so adding a provider is its folder plus one line in the registry.

The object is framework-free on purpose: the gateway reads it and must not import Dagster, and
production code must not import the sandboxes. Their parts are therefore named by `ObjectRef`
("module:attribute") and imported only by whoever needs them (the code location, the sandbox
server).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lineup_integrations.core.mapping import ProviderField
    from lineup_integrations.core.oauth import OAuthEngine, OAuthProviderConfig
    from lineup_integrations.core.settings import ProviderSettings
    from lineup_integrations.core.store import Store

TENANTS_PARTITION_SET = "tenants"
"""The Dagster dynamic partition set every provider's assets share: one key per tenant."""

OAuthConfigFactory = Callable[["ProviderSettings"], "OAuthProviderConfig"]
FieldSource = Callable[["Store", "OAuthEngine", str, str], Sequence["ProviderField"]]
"""`(store, oauth, tenant_id, entity)` → the provider's field metadata, for mapping validation."""


@dataclass(frozen=True)
class ObjectRef:
    """`"package.module:attribute"`, imported on `load()`: naming a part imports nothing."""

    path: str

    def load(self) -> Any:
        module, _, attribute = self.path.partition(":")
        loaded = importlib.import_module(module)
        return getattr(loaded, attribute) if attribute else loaded


@dataclass(frozen=True)
class SyncJob:
    """The Dagster job a manual sync (`POST /sync`) launches, and the op whose config takes
    `since` / `full_refresh`."""

    job: str
    op: str


@dataclass(frozen=True)
class Provider:
    """One provider, as the rest of the system sees it.

    - `env_prefix`: its variables are `<PREFIX>_CLIENT_ID`, `_CLIENT_SECRET`, `_REDIRECT_URI`,
      `_BASE_URL`.
    - `oauth_config`: its OAuth client for the engine, from its settings (credentials, hosts).
    - `sandbox`: the module of its offline twin (`SANDBOX_PROFILE`, `create_sandbox_app(state)`),
      served on `sandbox_port` by `lineup-integrations sandbox`.
    - `definitions`: `defs(settings, shared) -> dagster.Definitions`, its assets, checks, jobs,
      sensors, schedules and its own resource; the shared resources (store, vault) are bound once
      by the code location.
    - `field_source`: its field metadata for mapping validation (None: nothing to map yet).
    - `sync`: what `POST /sync` launches (None: no sync job yet).
    - `per_user`: the tenant connects one account per Lineup user (a calendar belongs to an
      interviewer), each its own integration keyed by (tenant, provider, user id); False: one
      tenant-wide integration (user id '', as Zoho's organisation).
    - `pool`: the Dagster concurrency pool of its API-calling steps; the instance's
      `concurrency.pools.default_limit` (dagster.yaml) caps each pool.
    """

    name: str
    title: str
    env_prefix: str
    oauth_config: OAuthConfigFactory
    sandbox: ObjectRef
    sandbox_port: int
    definitions: ObjectRef | None = None
    field_source: FieldSource | None = None
    sync: SyncJob | None = None
    per_user: bool = False

    @property
    def pool(self) -> str:
        return f"{self.name}_api"

    @property
    def sandbox_client_id(self) -> str:
        """The client registration the sandbox knows out of the box (no secret needed offline)."""
        return f"sandbox-{self.name}-client"

    @property
    def sandbox_client_secret(self) -> str:
        return f"sandbox-{self.name}-secret"


def run_tags(tenant_id: str, provider: str) -> dict[str, str]:
    """The tags every tenant run carries: Dagster's run queue allows one run per tenant and
    provider (`lineup/queue`) and a ceiling per provider (`provider`), see dagster.yaml."""
    return {"tenant": tenant_id, "provider": provider, "lineup/queue": f"{provider}:{tenant_id}"}


class UnknownProviderError(KeyError):
    """A provider name that is not registered."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = tuple(known)

    def __str__(self) -> str:
        return f"unknown provider {self.name!r}; known: {', '.join(self.known)}"


class Providers:
    """An ordered, immutable set of providers, looked up by name."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        self._by_name = {provider.name: provider for provider in providers}
        if len(self._by_name) != len(providers):
            raise ValueError("two providers share a name")

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Provider:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownProviderError(name, list(self._by_name)) from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def with_provider(self, provider: Provider) -> Providers:
        """A new set with `provider` added (how a test or a plug-in adds one)."""
        return Providers([*self, provider])

    def only(self, names: Sequence[str]) -> Providers:
        return Providers([self[name] for name in names])
