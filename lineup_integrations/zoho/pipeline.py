"""A tenant's contacts pipeline in one pass: land the changed Zoho records and map them as they land.

Mapping the records the sync has just parsed, in the transactions that land them, saves reading
every record back from the store and decoding it again — the bulk of a separate mapping pass.
The store-only `ContactsMapper.run` brackets the sync: before it, for whatever landed unmapped
(a raw-only run, an attempt that died between two chunks) or a rebuild for a new mapping; after
it, for what the pass changed without the follower (a full refresh's deletions by absence).
"""

from __future__ import annotations

import datetime as dt

from lineup_integrations.core.store import Store
from lineup_integrations.zoho.client import ZohoClient
from lineup_integrations.zoho.contacts import CHUNK_SIZE, ContactsMapper, MappingRunResult
from lineup_integrations.zoho.sync import ContactsSync, SyncStats


def sync_and_map_contacts(
    store: Store,
    client: ZohoClient,
    tenant_id: str,
    *,
    full_refresh: bool = False,
    since: dt.datetime | None = None,
    per_page: int = 200,
    mapping_chunk: int = CHUNK_SIZE,
) -> tuple[SyncStats, MappingRunResult]:
    """One sync pass (see `ContactsSync.run`) with its records mapped; the mapping's counts add up
    the three stages. Raises what the sync raises; whatever was committed stays (both checkpoints)."""
    mapper = ContactsMapper(store, tenant_id, chunk_size=mapping_chunk)
    mapped = mapper.run()
    sync = ContactsSync(store, client, tenant_id, per_page=per_page, listener=mapper.follower(mapped))
    stats = sync.run(full_refresh=full_refresh, since=since)
    mapper.run(mapped)
    return stats, mapped
