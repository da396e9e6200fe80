"""Reconnecting a tenant to another account (another Zoho organisation) forgets what was synced
from the old one, in the transaction that saves the connection; the same account reconnected
keeps everything and resumes incrementally. Against the Zoho sandbox with two organisations, and
the Google sandbox for a per-user integration (one Lineup user's calendar)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Table, func, select

from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import (
    SYNCED_DATA,
    Base,
    BusyBlock,
    CalendarCheckpoint,
    CalendarEventRow,
    CalendarRawEvent,
    Contact,
    DeadLetter,
    Integration,
    MappingVersion,
    ProviderFieldCache,
    RawRecord,
    Store,
    save_stream_state,
    utcnow,
)
from lineup_integrations.sandbox import SandboxHandle
from tests.core.oauth.helpers import audit_entries, authorize, connect, control

PROVIDER = "zoho"
ORG_A_LOGIN = "admin@org-a.example"
ORG_B_LOGIN = "admin@org-b.example"


def write_synced_data(store: Store, tenant_id: str, provider: str) -> None:
    """What a sync leaves for (tenant, provider): a cursor, raw records, contacts, a dead letter and
    the field cache; plus the tenant's mapping (its configuration, not synced data)."""
    now = utcnow()
    with store.session() as session:
        save_stream_state(
            session,
            tenant_id=tenant_id,
            provider=provider,
            stream="contacts",
            state={"watermark": "2026-12-01T00:00:00+00:00"},
        )
        for index in range(3):
            session.add(
                RawRecord(
                    tenant_id=tenant_id,
                    provider=provider,
                    entity="contacts",
                    external_id=f"r{index}",
                    payload={"id": index},
                    change_seq=1,
                    fetched_at=now,
                )
            )
            session.add(
                Contact(
                    tenant_id=tenant_id,
                    provider=provider,
                    external_id=f"r{index}",
                    email=f"c{index}@old.example",
                    mapping_version=1,
                    synced_at=now,
                )
            )
        session.add(
            DeadLetter(
                tenant_id=tenant_id,
                provider=provider,
                entity="contacts",
                external_id="bad",
                stage="map",
                error="bad email",
                payload={"id": "bad"},
                created_at=now,
            )
        )
        session.add(
            ProviderFieldCache(
                tenant_id=tenant_id,
                provider=provider,
                module="Contacts",
                fields=[{"api_name": "Email"}],
                fetched_at=now,
            )
        )
        session.add(
            MappingVersion(
                tenant_id=tenant_id, provider=provider, entity="contacts", version=1, rules=[], created_at=now
            )
        )


def synced_rows(store: Store, tenant_id: str, provider: str) -> dict[str, int]:
    models: tuple[type[Base], ...] = (*SYNCED_DATA, MappingVersion)
    tables = [cast(Table, model.__table__) for model in models]
    with store.session() as session:
        return {
            table.name: session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.c.tenant_id == tenant_id, table.c.provider == provider)
            )
            or 0
            for table in tables
        }


WRITTEN = {
    "sync_cursors": 1,
    "raw_records": 3,
    "contacts": 3,
    "dead_letters": 1,
    "provider_field_cache": 1,
    "mapping_versions": 1,
}
RESET = {**dict.fromkeys(WRITTEN, 0), "mapping_versions": 1}


def org_of(sandbox: SandboxHandle, login: str) -> str:
    return str(control(sandbox, PROVIDER, "accounts", {"login": login, "dc": "us"})["account_id"])


def integration_row(store: Store, tenant_id: str) -> Integration:
    with store.session() as session:
        return session.scalars(
            select(Integration).where(Integration.tenant_id == tenant_id, Integration.provider == PROVIDER)
        ).one()


def test_reconnecting_to_another_organisation_resets_the_synced_data_and_audits_both_accounts(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    org_a, org_b = org_of(sandbox_reset, ORG_A_LOGIN), org_of(sandbox_reset, ORG_B_LOGIN)
    first = connect(engine, "acme", PROVIDER, ORG_A_LOGIN)
    assert first.external_account_id == org_a
    write_synced_data(store, "acme", PROVIDER)
    write_synced_data(store, "globex", PROVIDER)  # another tenant of the same provider
    write_synced_data(store, "acme", "google_calendar")  # the same tenant's other provider

    second = connect(engine, "acme", PROVIDER, ORG_B_LOGIN)

    assert (second.id, second.external_account_id, second.status) == (first.id, org_b, "connected")
    assert second.connected_at is not None and first.connected_at is not None
    assert second.connected_at > first.connected_at  # the sensor launches the (now full) sync on this
    assert synced_rows(store, "acme", PROVIDER) == RESET
    assert synced_rows(store, "globex", PROVIDER) == WRITTEN
    assert synced_rows(store, "acme", "google_calendar") == WRITTEN
    (entry,) = audit_entries(store, "account_changed")
    assert (entry.tenant_id, entry.provider, entry.outcome) == ("acme", PROVIDER, "success")
    expected: dict[str, Any] = {
        "integration_id": first.id,
        "previous_account_id": org_a,
        "account_id": org_b,
        "deleted": {name: count for name, count in WRITTEN.items() if name != "mapping_versions"},
    }
    assert entry.detail == expected


def test_reconnecting_to_the_same_organisation_keeps_the_synced_data(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    org_a = org_of(sandbox_reset, ORG_A_LOGIN)
    connect(engine, "acme", PROVIDER, ORG_A_LOGIN)
    write_synced_data(store, "acme", PROVIDER)

    again = connect(engine, "acme", PROVIDER, ORG_A_LOGIN)

    assert again.external_account_id == org_a
    assert synced_rows(store, "acme", PROVIDER) == WRITTEN
    assert audit_entries(store, "account_changed") == []
    assert integration_row(store, "acme").external_account_id == org_a


def test_an_unknown_account_id_on_either_side_resets_nothing(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    """An organisation lookup that failed names no account: nothing proves the account changed."""
    org_of(sandbox_reset, ORG_A_LOGIN)
    org_of(sandbox_reset, ORG_B_LOGIN)
    connect(engine, "acme", PROVIDER, ORG_A_LOGIN)
    write_synced_data(store, "acme", PROVIDER)
    control(sandbox_reset, PROVIDER, "faults", {"endpoint": "GET */crm/*/org", "status": 500, "count": 5})

    unknown = connect(engine, "acme", PROVIDER, ORG_B_LOGIN)

    assert unknown.external_account_id is None
    assert synced_rows(store, "acme", PROVIDER) == WRITTEN
    assert audit_entries(store, "account_changed") == []


def write_calendar_data(store: Store, integration: Integration) -> None:
    """What a calendar sync leaves for one user's account: a checkpoint, a raw event, an event, a busy block."""
    start = dt.datetime(2026, 12, 8, 9, tzinfo=dt.UTC)
    end = start + dt.timedelta(hours=1)
    ids = {"integration_id": integration.id, "calendar_id": "primary", "tenant_id": integration.tenant_id,
           "provider": integration.provider}  # fmt: skip
    with store.session() as session:
        session.add(CalendarCheckpoint(**ids, state={"position": {"syncToken": "s"}}))
        session.add(CalendarRawEvent(**ids, event_id="e1", series_key="e1", payload={"id": "e1"}))
        session.add(CalendarEventRow(
            **ids, event_id="e1", user_id=integration.user_id, source_key="e1", start_utc=start, end_utc=end,
            start_zone="UTC", end_zone="UTC", status="confirmed", attendees=[],
        ))  # fmt: skip
        session.add(
            BusyBlock(tenant_id=integration.tenant_id, user_id=integration.user_id, start_utc=start, end_utc=end)
        )


def calendar_rows(store: Store, user_id: str) -> dict[str, int]:
    with store.session() as session:
        return {
            "calendar_events": session.scalar(select(func.count()).where(CalendarEventRow.user_id == user_id)) or 0,
            "busy_blocks": session.scalar(select(func.count()).where(BusyBlock.user_id == user_id)) or 0,
        }


def test_a_user_reconnected_to_another_account_keeps_its_integration_and_resets_only_its_calendar_data(
    engine: OAuthEngine, store: Store, sandbox_reset: SandboxHandle
) -> None:
    """Calendar data is keyed by integration: one user's account change deletes that account's
    events, checkpoints and busy blocks, and nothing of another user's or of the tenant's."""
    calendar = "google_calendar"
    first = engine.complete(
        calendar,
        authorize(engine.begin("acme", calendar, actor="user:ana", login_hint="ana@acme.test", user_id="ana")),
    )
    ben = engine.complete(
        calendar,
        authorize(engine.begin("acme", calendar, actor="user:ben", login_hint="ben@acme.test", user_id="ben")),
    )
    write_synced_data(store, "acme", calendar)
    write_calendar_data(store, first)
    write_calendar_data(store, ben)

    second = engine.complete(
        calendar,
        authorize(engine.begin("acme", calendar, actor="user:ana", login_hint="ana@home.test", user_id="ana")),
    )

    assert (second.id, second.user_id) == (first.id, "ana")
    assert first.external_account_id is not None
    assert second.external_account_id not in (None, first.external_account_id)
    assert synced_rows(store, "acme", calendar) == WRITTEN
    assert calendar_rows(store, "ana") == {"calendar_events": 0, "busy_blocks": 0}
    assert calendar_rows(store, "ben") == {"calendar_events": 1, "busy_blocks": 1}
    with store.session() as session:
        bens_row = session.get(Integration, ben.id)
        assert bens_row is not None
        assert (bens_row.user_id, bens_row.external_account_id) == ("ben", ben.external_account_id)
    (entry,) = audit_entries(store, "account_changed")
    assert entry.detail == {
        "integration_id": first.id,
        "user_id": "ana",
        "previous_account_id": first.external_account_id,
        "account_id": second.external_account_id,
        "deleted": {"calendar_checkpoints": 1, "calendar_raw_events": 1, "calendar_events": 1,
                    "interviewer_busy_blocks": 1},
    }  # fmt: skip
