"""Per-tenant mapping versions in the store (SQLite and PostgreSQL): propose, history, rollback,
audit, and concurrent proposals."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from lineup_integrations.core.mapping import (
    Direction,
    FieldRule,
    MappingValidationError,
    UnknownMappingVersionError,
    activate_mapping,
    active_mapping,
    load_default_mapping,
    mapping_history,
    propose_mapping,
)
from lineup_integrations.core.store import ActiveMapping, AuditEntry, MappingVersion, Store
from tests.core.mapping.zoho_fields import zoho_contact_fields

TENANT = "acme"
SPEC_EXAMPLE = [
    {"sourceField": "name", "targetField": "Full_Name", "transform": "none"},
    {"sourceField": "email", "targetField": "Email", "transform": "lowercase"},
]


def propose(
    store: Store,
    *items: dict[str, Any],
    tenant: str = TENANT,
    actor: str = "ops@acme.test",
    direction: Direction = Direction.BIDIRECTIONAL,
):
    return propose_mapping(
        store,
        tenant,
        "zoho",
        "contacts",
        [FieldRule.model_validate(i) for i in items],
        direction=direction,
        actor=actor,
        provider_fields=zoho_contact_fields(),
    )


def snapshot(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    with store.session() as session:
        versions = session.execute(
            select(MappingVersion.tenant_id, MappingVersion.version, MappingVersion.rules).order_by(
                MappingVersion.tenant_id, MappingVersion.version
            )
        ).all()
        active = session.execute(select(ActiveMapping.tenant_id, ActiveMapping.version)).all()
        audits = session.scalar(select(func.count()).select_from(AuditEntry))
    return [tuple(v) for v in versions], [tuple(a) for a in active], audits or 0


def mapping_audits(store: Store) -> list[tuple[str, str, dict[str, Any]]]:
    with store.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action.like("mapping_%")).order_by(AuditEntry.id))
        return [(row.action, row.actor, row.detail) for row in rows]


def rule_for(versioned, field: str, direction: Direction) -> FieldRule:
    return next(r for r in versioned.mapping.rules if r.source_field == field and direction in r.flows)


def test_a_tenant_without_changes_uses_the_default_file(store: Store) -> None:
    active = active_mapping(store, TENANT, "zoho", "contacts")
    default = load_default_mapping("zoho", "contacts")
    assert (active.version, active.default_version, active.created_at) == (0, default.version, None)
    assert active.mapping.rules == default.rules and active.mapping.version == 0
    assert [v.version for v in mapping_history(store, TENANT, "zoho", "contacts")] == [0]


def test_spec_example_becomes_version_1_and_is_audited(store: Store) -> None:
    saved = propose(store, *SPEC_EXAMPLE)
    assert (saved.version, saved.based_on_version, saved.created_by) == (1, 0, "ops@acme.test")
    assert rule_for(saved, "email", Direction.OUTBOUND).transform == ("lowercase",)
    assert rule_for(saved, "name", Direction.INBOUND).direction is Direction.INBOUND
    assert active_mapping(store, TENANT, "zoho", "contacts") == saved
    assert [v.version for v in mapping_history(store, TENANT, "zoho", "contacts")] == [0, 1]
    assert mapping_audits(store) == [
        (
            "mapping_update",
            "ops@acme.test",
            {"entity": "contacts", "old_version": 0, "new_version": 1, "default_version": 1, "rules_changed": 2},
        )
    ]
    with store.session() as session:  # stored in the spec's camelCase shape, every rule with its direction
        stored = session.scalar(select(MappingVersion.rules).where(MappingVersion.version == 1))
    assert {
        "sourceField": "email",
        "targetField": "Email",
        "transform": "lowercase",
        "direction": "bidirectional",
    } in stored


def test_each_change_merges_into_the_active_version(store: Store) -> None:
    propose(store, *SPEC_EXAMPLE)
    second = propose(store, {"sourceField": "title", "targetField": "Title", "transform": ["trim", "title_case"]})
    assert (second.version, second.based_on_version) == (2, 1)
    assert rule_for(second, "email", Direction.INBOUND).transform == ("lowercase",)  # from version 1
    assert rule_for(second, "title", Direction.INBOUND).transform == ("trim", "title_case")
    assert rule_for(second, "phone", Direction.INBOUND).transform == ("format_phone",)  # from the default
    # Versions are immutable: version 1 still reads as it was saved.
    first = mapping_history(store, TENANT, "zoho", "contacts")[1]
    assert rule_for(first, "title", Direction.INBOUND).transform == ("trim",)


def test_an_invalid_change_saves_nothing(store: Store) -> None:
    propose(store, *SPEC_EXAMPLE)
    before = snapshot(store)
    with pytest.raises(MappingValidationError) as refused:
        propose(
            store,
            {"sourceField": "email", "targetField": "Email"},
            {"sourceField": "nope", "targetField": "Email"},
            {"sourceField": "name", "targetField": "Full_Name", "direction": "outbound"},
        )
    assert [p.field for p in refused.value.problems] == ["mappings[1].sourceField", "mappings[2].targetField"]
    assert snapshot(store) == before


def test_a_change_that_changes_nothing_creates_no_version(store: Store) -> None:
    saved = propose(store, *SPEC_EXAMPLE)
    before = snapshot(store)
    assert propose(store, *SPEC_EXAMPLE) == saved
    assert snapshot(store) == before


def test_rollback_moves_the_pointer_only(store: Store) -> None:
    propose(store, *SPEC_EXAMPLE)
    propose(store, {"sourceField": "title", "targetField": "Title", "transform": "uppercase"})
    with store.session() as session:
        rows_before = session.scalar(select(func.count()).select_from(MappingVersion))

    rolled = activate_mapping(store, TENANT, "zoho", "contacts", 1, actor="ops@acme.test")
    assert rolled.version == 1 and active_mapping(store, TENANT, "zoho", "contacts") == rolled
    assert rule_for(rolled, "title", Direction.INBOUND).transform == ("trim",)
    assert activate_mapping(store, TENANT, "zoho", "contacts", 0, actor="ops@acme.test").default_version == 1
    assert active_mapping(store, TENANT, "zoho", "contacts").version == 0
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(MappingVersion)) == rows_before
    assert [(a, d["old_version"], d["new_version"]) for a, _, d in mapping_audits(store)] == [
        ("mapping_update", 0, 1),
        ("mapping_update", 1, 2),
        ("mapping_activate", 2, 1),
        ("mapping_activate", 1, 0),
    ]

    before = snapshot(store)
    with pytest.raises(UnknownMappingVersionError):
        activate_mapping(store, TENANT, "zoho", "contacts", 7, actor="ops@acme.test")
    assert snapshot(store) == before


def test_a_change_after_a_rollback_builds_on_the_rolled_back_version(store: Store) -> None:
    propose(store, *SPEC_EXAMPLE)
    propose(store, {"sourceField": "title", "targetField": "Title", "transform": "uppercase"})
    activate_mapping(store, TENANT, "zoho", "contacts", 1, actor="ops@acme.test")
    third = propose(store, {"sourceField": "department", "targetField": "Department", "transform": "uppercase"})
    assert (third.version, third.based_on_version) == (3, 1)
    assert rule_for(third, "title", Direction.INBOUND).transform == ("trim",)  # version 2's change is not in it


def test_tenants_have_their_own_chains(store: Store) -> None:
    propose(store, *SPEC_EXAMPLE)
    assert active_mapping(store, "globex", "zoho", "contacts").version == 0
    assert propose(store, *SPEC_EXAMPLE, tenant="globex").version == 1


def test_concurrent_changes_get_distinct_versions_and_none_is_lost(store: Store) -> None:
    """Six first-ever changes at once: on PostgreSQL there is no row to lock yet, so the unique
    version constraint and the retry do the work; on SQLite the write lock does."""
    changes = [
        ("title", "Title"),
        ("department", "Department"),
        ("phone", "Phone"),
        ("mobile", "Mobile"),
        ("first_name", "First_Name"),
        ("email", "Email"),
    ]
    start = threading.Barrier(len(changes))
    failures: list[BaseException] = []

    def change(field: str, target: str) -> None:
        start.wait()
        try:
            propose(store, {"sourceField": field, "targetField": target, "transform": "uppercase"}, actor=field)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=change, args=pair) for pair in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures and not any(thread.is_alive() for thread in threads)

    history = mapping_history(store, TENANT, "zoho", "contacts")
    assert [v.version for v in history] == list(range(len(changes) + 1))
    final = active_mapping(store, TENANT, "zoho", "contacts")
    assert final.version == len(changes)
    assert all(rule_for(final, field, Direction.INBOUND).transform == ("uppercase",) for field, _ in changes)
    # Each change was based on the one before it: a chain, not a fan.
    assert [v.based_on_version for v in history[1:]] == list(range(len(changes)))
