"""Zoho contact assets, one partition per tenant, computed by one step (`zoho_contacts`).

`zoho_contacts_raw` lands the API's records as they are (incremental by default, resumable per
page); `contacts` maps them into Lineup's contact schema with the tenant's active field mapping.
Materialized together (the sync job) the records are mapped as they land; `contacts` alone (the
remap job) is rebuilt from the store — re-mapping never calls the API.

A transient store error (a lock or busy timeout, a dropped connection, a server restart) is
retried on the spec's schedule like a transient API error: every write is checkpointed, so the
next attempt resumes where the failed one stopped.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from lineup_integrations.core.http import ApiError, AuthenticationError, ScopeError
from lineup_integrations.core.oauth import OAuthError, ReauthorizationRequiredError
from lineup_integrations.core.store import IntegrationNotConnectedError, Store
from lineup_integrations.orchestration.partitions import tenant_partitions
from lineup_integrations.orchestration.resources import StoreResource
from lineup_integrations.orchestration.retries import is_transient_store_error, permanent_failure, request_spec_retry
from lineup_integrations.zoho import checks
from lineup_integrations.zoho.contacts import ContactsMapper, MappingRunResult
from lineup_integrations.zoho.pipeline import sync_and_map_contacts
from lineup_integrations.zoho.provider import CONTACTS_SYNC, ZOHO
from lineup_integrations.zoho.resource import ZohoResource
from lineup_integrations.zoho.sync import ContactsSync
from lineup_integrations.zoho.tenant_client import record_usage

GROUP = "zoho"


class ZohoSyncConfig(dg.Config):
    """Run config of a contacts sync (`ops: {zoho_contacts: {config: …}}`)."""

    full_refresh: bool = Field(default=False, description="Fetch every record and detect deletions by absence.")
    since: str | None = Field(
        default=None, description="ISO 8601 time: fetch changes since then instead of the stored cursor."
    )
    per_page: int = Field(default=200, ge=100, le=200, description="Records per API page (Zoho allows up to 200).")


RAW_CONTACTS = dg.AssetKey("zoho_contacts_raw")
CONTACTS = dg.AssetKey("contacts")


@dg.multi_asset(
    name=CONTACTS_SYNC.op,
    specs=[
        dg.AssetSpec(
            RAW_CONTACTS,
            group_name=GROUP,
            kinds={"zoho", "sql"},
            description="Zoho CRM Contacts of the tenant's organisation, as the API returns them (raw_records).",
        ),
        dg.AssetSpec(
            CONTACTS,
            deps=[RAW_CONTACTS],
            group_name=GROUP,
            kinds={"pandas", "sql"},
            description="The tenant's contacts in Lineup's schema, mapped with the tenant's active field mapping.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "raw_records_mapped",
            asset=CONTACTS,
            description="Every live raw record has a contact (or an open dead letter saying why "
            "not), and no contact outlives its raw record.",
        ),
        dg.AssetCheckSpec(
            "no_open_dead_letters",
            asset=CONTACTS,
            description="Records set aside and not replayed yet; a warning with their count.",
        ),
        dg.AssetCheckSpec(
            "synced_recently",
            asset=CONTACTS,
            description=f"The tenant's last successful sync is at most "
            f"{checks.STALE_AFTER.total_seconds() / 60:g} minutes old (two schedule intervals).",
        ),
        dg.AssetCheckSpec(
            "contacts_have_email",
            asset=CONTACTS,
            description="Contacts without an email cannot be reached; flagged, not fatal.",
        ),
    ],
    partitions_def=tenant_partitions,
    can_subset=True,
    pool=ZOHO.pool,
)
def zoho_contacts(
    context: dg.AssetExecutionContext, config: ZohoSyncConfig, zoho: ZohoResource, store: StoreResource
) -> Iterator[dg.MaterializeResult]:
    """Both assets (the sync job): pages the changed contacts — checkpointed per page, so a retry
    resumes — and maps them as they land. `contacts` alone (the remap job): maps from the store,
    with no API call — all of it when the mapping version changed. A transient store error is
    retried on the spec's schedule; any other error fails the step as it is."""
    try:
        yield from _materialize(context, config, zoho, store)
    except Exception as error:
        if not is_transient_store_error(error):
            raise
        raise request_spec_retry(context, error) from error


def _materialize(
    context: dg.AssetExecutionContext, config: ZohoSyncConfig, zoho: ZohoResource, store: StoreResource
) -> Iterator[dg.MaterializeResult]:
    selected = context.selected_asset_keys
    mapper = ContactsMapper(store.get(), context.partition_key)
    if RAW_CONTACTS in selected:
        raw_result, mapped = _sync(context, config, zoho, store.get(), map_as_landed=CONTACTS in selected)
        yield raw_result
    else:
        mapped = mapper.run()
    if CONTACTS in selected:
        yield _contacts_result(context, mapper, mapped)


def _sync(
    context: dg.AssetExecutionContext, config: ZohoSyncConfig, zoho: ZohoResource, store: Store, *, map_as_landed: bool
) -> tuple[dg.MaterializeResult, MappingRunResult]:
    tenant_id = context.partition_key
    since = _parse_since(config.since)
    client = None
    mapped = MappingRunResult()
    try:
        client = zoho.client_for(tenant_id)
        if map_as_landed:
            stats, mapped = sync_and_map_contacts(
                store, client, tenant_id, full_refresh=config.full_refresh, since=since, per_page=config.per_page
            )
        else:
            stats = ContactsSync(store, client, tenant_id, per_page=config.per_page).run(
                full_refresh=config.full_refresh, since=since
            )
    except IntegrationNotConnectedError as error:
        raise permanent_failure(str(error)) from None
    except ReauthorizationRequiredError:
        raise permanent_failure(
            f"Zoho revoked tenant {tenant_id!r}'s grant: the integration is now needs_reauth; reconnect it"
        ) from None
    except ScopeError as error:
        raise permanent_failure(f"Zoho refused the request for lack of permission ({error.code})") from None
    except (ApiError, OAuthError) as error:
        if isinstance(error, ApiError) and not error.retryable and not isinstance(error, AuthenticationError):
            raise permanent_failure(f"Zoho rejected the request: {error}") from None
        raise request_spec_retry(context, error) from error
    finally:
        if client is not None:  # failed attempts spend credits too
            record_usage(store, tenant_id, client)
    quota = client.quota.snapshot()
    context.log.info(
        "Tenant %s: %d fetched, %d deleted in %d pages (%s)",
        tenant_id,
        stats.fetched,
        stats.deleted,
        stats.pages,
        stats.mode,
    )
    result: dg.MaterializeResult[None] = dg.MaterializeResult(
        asset_key=RAW_CONTACTS,
        metadata={
            "records_fetched": dg.MetadataValue.int(stats.fetched),
            "records_upserted": dg.MetadataValue.int(stats.upserted),
            "records_deleted": dg.MetadataValue.int(stats.deleted),
            "pages": dg.MetadataValue.int(stats.pages),
            "api_calls": dg.MetadataValue.int(quota.calls),
            "api_retries": dg.MetadataValue.int(quota.retries),
            "rate_limit_remaining": dg.MetadataValue.int(quota.remaining),
            "sync_mode": dg.MetadataValue.text(stats.mode),
            "resumed_from_checkpoint": dg.MetadataValue.bool(stats.resumed),
            "cursor": dg.MetadataValue.text(stats.watermark.isoformat() if stats.watermark else ""),
            "duration_s": dg.MetadataValue.float(round(stats.duration_s, 3)),
        },
    )
    return result, mapped


def _contacts_result(
    context: dg.AssetExecutionContext, mapper: ContactsMapper, mapped: MappingRunResult
) -> dg.MaterializeResult:
    quality = mapper.quality()
    tenant_id = mapper.tenant_id
    context.log.info(
        "Tenant %s: %d contacts upserted, %d deleted, %d rejected (mapping v%d%s)",
        mapper.tenant_id,
        mapped.upserted,
        mapped.deleted,
        mapped.rejected,
        mapped.mapping_version,
        ", full rebuild" if mapped.rebuilt else "",
    )
    return dg.MaterializeResult(
        asset_key=CONTACTS,
        metadata={
            "records_mapped": dg.MetadataValue.int(mapped.upserted),
            "records_deleted": dg.MetadataValue.int(mapped.deleted),
            "records_rejected": dg.MetadataValue.int(mapped.rejected),
            "mapping_version": dg.MetadataValue.int(mapped.mapping_version),
            "full_rebuild": dg.MetadataValue.bool(mapped.rebuilt),
            "contacts_total": dg.MetadataValue.int(quality.total),
            "duration_s": dg.MetadataValue.float(round(mapped.duration_s, 3)),
        },
        check_results=[
            _raw_records_mapped(mapper.store, tenant_id),
            _no_open_dead_letters(mapper.store, tenant_id),
            _synced_recently(mapper.store, tenant_id),
            dg.AssetCheckResult(
                check_name="contacts_have_email",
                passed=quality.without_email == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"without_email": quality.without_email, "total": quality.total},
            ),
        ],
    )


def _raw_records_mapped(store: Store, tenant_id: str) -> dg.AssetCheckResult:
    figures = checks.raw_versus_contacts(store, tenant_id)
    return dg.AssetCheckResult(
        check_name="raw_records_mapped",
        passed=figures.consistent,
        metadata={
            "live_raw_records": figures.live_raw,
            "contacts": figures.contacts,
            "unmapped": figures.unmapped,
            "orphaned_contacts": figures.orphaned,
        },
    )


def _no_open_dead_letters(store: Store, tenant_id: str) -> dg.AssetCheckResult:
    by_stage = checks.open_dead_letters(store, tenant_id)
    return dg.AssetCheckResult(
        check_name="no_open_dead_letters",
        passed=not by_stage,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "open_dead_letters": sum(by_stage.values()),
            **{f"open_at_{stage}": count for stage, count in sorted(by_stage.items())},
        },
    )


def _synced_recently(store: Store, tenant_id: str) -> dg.AssetCheckResult:
    synced_at = checks.last_synced_at(store, tenant_id)
    age = dt.datetime.now(dt.UTC) - synced_at if synced_at else None
    return dg.AssetCheckResult(
        check_name="synced_recently",
        passed=age is not None and age <= checks.STALE_AFTER,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "last_synced_at": synced_at.isoformat() if synced_at else "never",
            "age_minutes": round(age.total_seconds() / 60, 1) if age is not None else -1.0,
            "stale_after_minutes": checks.STALE_AFTER.total_seconds() / 60,
        },
    )


def _parse_since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise permanent_failure(f"config 'since' is not an ISO 8601 time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
