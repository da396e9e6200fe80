"""The Dagster instance configuration we ship (dagster.yaml), loaded as `dagster dev` and the
daemon load it: the zoho pool has a limit, and the run queue admits one run per tenant and
provider and at most five per provider."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test
from dagster._utils.tags import TagConcurrencyLimitsCounter

from lineup_integrations.core.provider import run_tags
from lineup_integrations.zoho.provider import ZOHO

SHIPPED = Path(__file__).resolve().parents[2] / "dagster.yaml"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    """`DagsterInstance.get()` over a DAGSTER_HOME holding nothing but the shipped dagster.yaml."""
    shutil.copy(SHIPPED, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        yield instance


def test_the_zoho_pool_gets_the_default_limit(instance: dg.DagsterInstance) -> None:
    limit = instance.get_concurrency_config().pool_config.default_pool_limit
    assert isinstance(limit, int) and limit > 0
    # What a step in the pool does on its first claim: the pool is created with the default limit.
    instance.event_log_storage.initialize_concurrency_limit_to_default(ZOHO.pool)
    assert instance.event_log_storage.get_concurrency_info(ZOHO.pool).slot_count == limit


def test_the_run_queue_allows_one_run_per_tenant_and_provider(instance: dg.DagsterInstance) -> None:
    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None
    running = [
        create_run_for_test(
            instance, job_name="zoho_contacts_sync", status=dg.DagsterRunStatus.STARTED, tags=run_tags("acme", "zoho")
        )
    ]
    counter = TagConcurrencyLimitsCounter(list(queue.tag_concurrency_limits), running)

    def blocked(tenant_id: str, provider: str) -> bool:
        return counter.is_blocked(create_run_for_test(instance, job_name="any", tags=run_tags(tenant_id, provider)))

    assert blocked("acme", "zoho")
    assert not blocked("globex", "zoho")
    assert not blocked("acme", "google_calendar")


def test_the_run_queue_caps_each_provider(instance: dg.DagsterInstance) -> None:
    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None
    [ceiling] = [limit["limit"] for limit in queue.tag_concurrency_limits if limit["key"] == "provider"]
    running = [
        create_run_for_test(
            instance,
            job_name="zoho_contacts_sync",
            status=dg.DagsterRunStatus.STARTED,
            tags=run_tags(f"tenant{n}", "zoho"),
        )
        for n in range(ceiling)
    ]
    counter = TagConcurrencyLimitsCounter(list(queue.tag_concurrency_limits), running)

    assert counter.is_blocked(create_run_for_test(instance, job_name="any", tags=run_tags("late", "zoho")))
    assert not counter.is_blocked(
        create_run_for_test(instance, job_name="any", tags=run_tags("late", "google_calendar"))
    )
    assert queue.max_concurrent_runs >= ceiling
