"""The calendar sync against both providers' sandboxes: the store equals the provider's truth.

Each scenario runs for Google Calendar and Outlook Calendar, on SQLite and PostgreSQL. The truth
is what the provider itself lists for the window (its own expansion of recurring series), read
through its API; ours is the `calendar_events` rows of the account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from lineup_integrations.calendar.busy import refresh_busy_blocks
from lineup_integrations.calendar.checks import overlapping_busy_blocks
from lineup_integrations.core.mapping import Direction, FieldRule, VersionedMapping, propose_mapping
from lineup_integrations.core.oauth import OAuthEngine
from lineup_integrations.core.store import (
    BusyBlock,
    CalendarEventRow,
    CalendarRawEvent,
    DeadLetter,
    Integration,
    IntegrationStatus,
    Store,
)
from lineup_integrations.google_calendar.fields import EVENT_FIELDS as GOOGLE_EVENT_FIELDS
from lineup_integrations.outlook_calendar.fields import EVENT_FIELDS as GRAPH_EVENT_FIELDS
from lineup_integrations.sandbox import SandboxHandle
from tests.calendar.accounts import CALENDAR_PROVIDERS, CalendarAccount, accounts_sync, only

pytestmark = pytest.mark.parametrize("provider", CALENDAR_PROVIDERS)
Factory = Callable[..., CalendarAccount]


def _next_week(hour: int) -> dt.datetime:
    today = dt.datetime.now(dt.UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=7)


def test_full_then_incremental_sync_equals_the_providers_truth(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    account = account_factory(provider)
    account.seed(40)
    single = account.create("Interview: Ada", _next_week(9), zone="Europe/Paris")
    doomed = account.create("Lunch", _next_week(12), zone="America/New_York")
    series = account.create_weekly("Team sync", _next_week(15), zone="America/Los_Angeles")
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider, page_size=10)
    window = sync.settings.window(dt.datetime.now(dt.UTC))

    first = only(sync.sync("acme"))
    assert first.stats is not None and first.stats.modes == "full"
    assert account.stored(store) == account.truth(window)
    assert {e for e, *_ in account.stored(store) if e == single}

    account.rename(single, "Interview: Ada Lovelace")
    account.delete(doomed)
    account.rename(series, "Team sync (moved room)")
    account.create("Phone screen", _next_week(17), zone="Asia/Kolkata")
    second = only(sync.sync("acme"))
    assert second.stats is not None and second.stats.modes == "incremental"
    assert account.stored(store) == account.truth(window)
    with store.session() as session:
        titles = set(session.scalars(select(CalendarEventRow.title).where(CalendarEventRow.source_key == series)))
        assert titles == {"Team sync (moved room)"}
        assert session.scalar(select(func.count()).where(CalendarEventRow.event_id == doomed)) == 0
        occurrences = sorted(session.scalars(
            select(CalendarEventRow.event_id).where(CalendarEventRow.source_key == series)
        ))  # fmt: skip

    # One occurrence edited (an exception), the next one deleted: the series is rebuilt around them.
    account.rename(occurrences[1], "Team sync (one-off)")
    account.delete(occurrences[2])
    only(sync.sync("acme"))
    assert account.stored(store) == account.truth(window)
    with store.session() as session:
        kept = dict(session.execute(
            select(CalendarEventRow.event_id, CalendarEventRow.title).where(CalendarEventRow.source_key == series)
        ).all())  # fmt: skip
    assert kept[occurrences[1]] == "Team sync (one-off)" and occurrences[2] not in kept
    assert kept[occurrences[3]] == "Team sync (moved room)"


def test_no_change_incremental_costs_at_most_one_call_per_calendar(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    account = account_factory(provider)
    account.seed(30)
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider, page_size=10)
    only(sync.sync("acme"))

    again = only(sync.sync("acme"))
    assert again.stats is not None and again.quota is not None
    calendars = len(again.stats.calendars)
    # Google lists its calendars first (calendarList); Graph names its default calendar: one call each.
    assert again.quota.calls <= calendars + 1
    assert again.stats.total("fetched") == 0 and again.stats.total("events_written") == 0


def test_an_expired_sync_token_resyncs_and_finds_deletions_by_difference(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    account = account_factory(provider)
    account.seed(25)
    gone = account.create("Cancelled later", _next_week(10))
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider, page_size=10)
    window = sync.settings.window(dt.datetime.now(dt.UTC))
    only(sync.sync("acme"))

    account.expire_sync_state()
    account.delete(gone)
    result = only(sync.sync("acme"))
    assert result.stats is not None and result.stats.modes == "resync"
    assert account.stored(store) == account.truth(window)
    assert all(event_id != gone for event_id, *_ in account.stored(store))


def test_a_run_that_died_mid_round_resumes_from_its_last_page(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    account = account_factory(provider)
    account.seed(60)
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider, page_size=10, attempts=1)
    window = sync.settings.window(dt.datetime.now(dt.UTC))
    # Seed 0's draws let the first three calls through (the calendar, two pages) and fail the
    # fourth; with one attempt per call the run stops there, its two pages committed.
    account.fault(endpoint="GET *", status=503, count=1000, rate=0.35, seed=0)
    failed = sync.sync("acme")[0]
    assert failed.error is not None
    stored_before = account.stored(store)
    assert stored_before  # some pages landed before the failure

    _clear_faults(account)
    resumed = only(sync.sync("acme"))
    assert resumed.stats is not None and any(c.resumed for c in resumed.stats.calendars.values())
    assert account.stored(store) == account.truth(window)


def test_thirty_percent_faults_are_retried_and_lose_nothing(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    account = account_factory(provider)
    account.seed(50)
    account.create_weekly("Standup", _next_week(8), zone="Europe/Berlin")
    for kind, extra in (("status", {"status": 429, "retry_after": 0}), ("status", {"status": 429}),
                        ("status", {"status": 503}), ("reset", {})):  # fmt: skip
        account.fault(endpoint="GET /*", kind=kind, count=200, rate=0.08, seed=len(extra) + 1, **extra)
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider, page_size=10)
    window = sync.settings.window(dt.datetime.now(dt.UTC))

    result = only(sync.sync("acme"))
    assert result.quota is not None and result.quota.retries > 0
    assert account.stored(store) == account.truth(window)


def test_a_revoked_grant_needs_reauth_and_leaves_the_other_accounts_synced(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    ana, bob = account_factory(provider, "ana"), account_factory(provider, "bob")
    ana.seed(10)
    bob.seed(10, seed=9)
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider)
    window = sync.settings.window(dt.datetime.now(dt.UTC))
    ana.revoke()

    results = {r.user_id: r for r in sync.sync("acme")}
    assert results["ana"].needs_reauth and results["ana"].error is None
    assert results["bob"].error is None and bob.stored(store) == bob.truth(window)
    with store.session() as session:
        assert session.get(Integration, ana.integration.id).status == IntegrationStatus.NEEDS_REAUTH.value  # type: ignore[union-attr]


def test_busy_blocks_merge_every_busy_event_of_each_user(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    ana = account_factory(provider, "ana")
    start = _next_week(9)
    ana.create("A", start, 60)
    ana.create("B", start + dt.timedelta(minutes=30), 60)  # overlaps A
    ana.create("C", start + dt.timedelta(minutes=90), 30)  # touches B's end
    ana.create("D", start + dt.timedelta(hours=5), 30)
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider)
    only(sync.sync("acme"))

    result = refresh_busy_blocks(store, "acme")
    assert result.blocks == 2
    with store.session() as session:
        blocks = session.execute(select(BusyBlock.start_utc, BusyBlock.end_utc).order_by(BusyBlock.start_utc)).all()
    assert [tuple(b) for b in blocks] == [
        (start, start + dt.timedelta(minutes=120)),
        (start + dt.timedelta(hours=5), start + dt.timedelta(hours=5, minutes=30)),
    ]
    assert overlapping_busy_blocks(store, "acme") == 0


def _titles_from_locations(store: Store, provider: str) -> VersionedMapping:
    """A new active mapping for the tenant's events of `provider`: titles read from the location."""
    google = provider == "google_calendar"
    rule = FieldRule(source_field="title", target_field="location" if google else "location.displayName",
                     direction=Direction.INBOUND)  # fmt: skip
    fields = GOOGLE_EVENT_FIELDS if google else GRAPH_EVENT_FIELDS
    return propose_mapping(
        store, "acme", provider, "events", [rule], direction=Direction.INBOUND, actor="test", provider_fields=fields
    )


def _clear_faults(account: CalendarAccount) -> None:
    import httpx

    httpx.delete(f"{account.base}/_sandbox/faults").raise_for_status()


def test_a_new_calendar_mapping_rebuilds_the_events_without_fetching_them_again(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    account = account_factory(provider)
    google = provider == "google_calendar"
    room = {"location": "Room 4"} if google else {"location": {"displayName": "Room 4"}}
    event_id = account.create("Interview: Grace", _next_week(11), **room)
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider)
    only(sync.sync("acme"))

    version = _titles_from_locations(store, provider)
    result = only(sync.sync("acme"))

    assert result.stats is not None and result.stats.total("fetched") == 0  # rebuilt from the stored raw events
    with store.session() as session:
        row = session.scalars(select(CalendarEventRow).where(CalendarEventRow.event_id == event_id)).one()
    assert (row.title, row.location, row.mapping_version) == ("Room 4", "Room 4", version.version)


def test_the_window_moves_with_time_and_the_store_follows_it(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    account = account_factory(provider)
    account.create_weekly("Weekly 1:1", _next_week(14), zone="Europe/London")
    account.create("Soon", _next_week(9) - dt.timedelta(days=5))
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider, days_back=3, days_ahead=30)
    today = dt.datetime.now(dt.UTC)
    only(sync.sync("acme", now=today))

    later = today + dt.timedelta(days=10)
    moved = only(sync.sync("acme", now=later))

    assert moved.stats is not None and moved.stats.modes == "rebase"
    assert account.stored(store) == account.truth(sync.settings.window(later))
    # Google's series are re-expanded from the store; Graph's delta round is started again.
    assert (moved.stats.total("fetched") == 0) is (provider == "google_calendar")


def test_an_event_that_cannot_be_built_is_set_aside_and_the_rest_rebuilt(
    provider: str, store: Store, calendar_engine: OAuthEngine, sandbox_reset: SandboxHandle, account_factory: Factory
) -> None:
    account = account_factory(provider)
    broken = account.create("Broken", _next_week(9))
    fine = account.create("Fine", _next_week(11))
    sync = accounts_sync(store, calendar_engine, sandbox_reset, provider)
    only(sync.sync("acme"))
    with store.session() as session:  # a payload no normaliser can read (as a provider bug would send)
        raw = session.scalars(select(CalendarRawEvent).where(CalendarRawEvent.event_id == broken)).one()
        raw.payload = {**raw.payload, "start": {"dateTime": "not a time", "timeZone": "UTC"}}

    _titles_from_locations(store, provider)  # a new mapping: every event rebuilt from the store
    result = only(sync.sync("acme"))

    assert result.stats is not None and result.stats.total("rejected") == 1
    assert {event_id for event_id, *_ in account.stored(store)} >= {fine}
    assert broken not in {event_id for event_id, *_ in account.stored(store)}
    with store.session() as session:
        letter = session.scalars(select(DeadLetter).where(DeadLetter.external_id == broken)).one()
    assert (letter.provider, letter.entity, letter.stage) == (provider, "events", "map")
    assert "not a time" in letter.error
