"""A connected Zoho tenant against the sandbox: its organisation, seeded contacts and the resource."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from lineup_integrations.core.store import Integration, Store
from lineup_integrations.core.vault import Vault
from lineup_integrations.orchestration.resources import StoreResource, VaultResource
from lineup_integrations.sandbox import SandboxHandle
from lineup_integrations.zoho.resource import ZohoResource
from tests.conftest import TEST_KEY
from tests.core.oauth.helpers import connect, control, sandbox_engine


@dataclass
class ZohoTenant:
    tenant_id: str
    login: str
    org_id: str
    integration: Integration
    sandbox: SandboxHandle

    def crm(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return control(self.sandbox, "zoho", f"crm/orgs/{self.org_id}/{path}", body)

    def truth(self) -> dict[str, Any]:
        return self.crm("truth?fields=Email,Last_Name")

    def api_calls(self) -> int:
        """Contacts API calls (records and deleted records) this organisation made, per the sandbox log."""
        counts = control(self.sandbox, "zoho", f"requests?account_id={self.org_id}&endpoint=GET */crm/*/Contacts*")
        return int(counts["count"])

    def fault(self, **fault: Any) -> None:
        control(self.sandbox, "zoho", "faults", {"login": self.login, **fault})


@pytest.fixture
def zoho_tenant_factory(
    store: Store, vault: Vault, sandbox_reset: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[..., ZohoTenant]]:
    engines = sandbox_engine(store, vault, sandbox_reset, monkeypatch, tmp_path)
    engine = next(engines)

    def make(tenant_id: str = "acme", *, dc: str = "eu", contacts: int = 0) -> ZohoTenant:
        login = f"admin@{tenant_id}.example"
        org_id = control(sandbox_reset, "zoho", "accounts", {"login": login, "dc": dc})["account_id"]
        if contacts:
            control(sandbox_reset, "zoho", f"crm/orgs/{org_id}/seed", {"count": contacts, "seed": 11})
        integration = connect(engine, tenant_id, "zoho", login)
        return ZohoTenant(tenant_id, login, org_id, integration, sandbox_reset)

    yield make
    engines.close()


def make_zoho_resource(store_url: str, sandbox: SandboxHandle, **overrides: Any) -> ZohoResource:
    """The Zoho resource as a run would get it, pointed at the sandbox, with tiny backoffs."""
    config: dict[str, Any] = {"backoff_base_seconds": 0.001, "backoff_max_seconds": 0.01, **overrides}
    return ZohoResource(
        client_id=sandbox.state("zoho").config.client_id,
        client_secret=sandbox.state("zoho").config.client_secret.get_secret_value(),
        base_url=sandbox.base_url("zoho"),
        store=StoreResource(database_url=store_url),
        vault=VaultResource(encryption_keys=f"test:{TEST_KEY}"),
        **config,
    )


@contextmanager
def started(resource: ZohoResource) -> Iterator[ZohoResource]:
    """The resource after Dagster's set-up (pooled client, OAuth engine), torn down on exit."""
    context = dg.build_init_resource_context()
    resource.setup_for_execution(context)
    try:
        yield resource
    finally:
        resource.teardown_after_execution(context)


@pytest.fixture
def zoho_resource(store_url: str, sandbox_reset: SandboxHandle) -> Iterator[ZohoResource]:
    with started(make_zoho_resource(store_url, sandbox_reset)) as resource:
        yield resource


def store_ids(store: Store, tenant_id: str) -> dict[str, Any]:
    """The live raw record ids and the contacts' (id → email) of a tenant."""
    from sqlalchemy import select

    from lineup_integrations.core.store import Contact, RawRecord

    with store.session() as session:
        raw = session.scalars(select(RawRecord.external_id).where(
            RawRecord.tenant_id == tenant_id, RawRecord.deleted_at.is_(None))).all()  # fmt: skip
        contacts = dict(session.execute(select(Contact.external_id, Contact.email).where(
            Contact.tenant_id == tenant_id)).all())  # fmt: skip
    return {"raw": sorted(raw), "contacts": contacts}
