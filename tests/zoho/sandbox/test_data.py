"""The Zoho CRM sandbox's record store on its own: generation, size, ordering and keyset paging."""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

import pytest

from lineup_integrations.zoho.sandbox.data import CrmUser, OrgContacts, RecordQuery

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def new_org(dc: str = "us") -> OrgContacts:
    admin = CrmUser("4150868000000225013", "Pat Boyle", "pat@acme.example")
    return OrgContacts("4150868000000000001", dc=dc, admin=admin, company="Acme")


def contacts(org: OrgContacts) -> list[dict[str, Any]]:
    return json.loads(org.truth_json(["Created_Time", "Email"]))["contacts"]


def page_all(org: OrgContacts, **query: Any) -> list[dict[str, Any]]:
    """Every record of a query through page tokens, `per_page` at a time."""
    page = org.list_records(RecordQuery(**query), now=NOW)
    records: list[dict[str, Any]] = []
    while page.status == 200:
        body = json.loads(page.body())
        records += body["data"]
        if not body["info"]["next_page_token"]:
            break
        page = org.list_records(
            RecordQuery(per_page=query["per_page"], fields=query["fields"], page_token=body["info"]["next_page_token"]),
            now=NOW,
        )
    return records


def test_seeding_100000_contacts_is_fast_compact_and_deterministic() -> None:
    org = new_org()
    tracemalloc.start()
    started = time.perf_counter()
    org.seed(100_000, seed=7, now=NOW)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 20 * 2**20  # a few bytes of columns per contact, not a dict per record

    seeded = contacts(org)
    assert len(seeded) == 100_000 == org.live_count
    ids = [int(record["id"]) for record in seeded]
    assert ids == sorted(set(ids)) and all(len(record["id"]) == 19 for record in seeded)
    assert len({record["Email"] for record in seeded}) == 100_000
    assert all(record["Created_Time"] <= record["Modified_Time"] for record in seeded)
    latest = max(record["Modified_Time"] for record in seeded)
    assert latest <= org.format_time(NOW - 60)


def test_the_same_seed_generates_the_same_contacts() -> None:
    first, again, other = new_org(), new_org(), new_org()
    for org, seed in ((first, 7), (again, 7), (other, 8)):
        org.seed(5_000, seed=seed, now=NOW)
    assert contacts(again) == contacts(first)
    assert contacts(other) != contacts(first)


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_token_paging_over_tied_sort_keys_skips_and_repeats_nothing(sort_order: str) -> None:
    org = new_org("in")
    org.seed(1_000, seed=1, now=NOW)
    org.edit_random(600, seed=2, actor=1, now=NOW)  # 600 contacts now share one Modified_Time
    records = page_all(org, per_page=7, fields=("Modified_Time",), sort_by="Modified_Time", sort_order=sort_order)
    assert sorted(record["id"] for record in records) == sorted(record["id"] for record in contacts(org))
    keys = [(record["Modified_Time"], int(record["id"])) for record in records]
    assert keys == sorted(keys, reverse=sort_order == "desc")
    assert sum(record["Modified_Time"] == org.format_time(NOW) for record in records) == 600


def test_written_contacts_keep_their_values_and_deleted_ones_leave_the_listing() -> None:
    org = new_org()
    org.seed(50, seed=3, now=NOW - 100)
    change = org.validate({"First_Name": "Ada", "Last_Name": "Lovelace", "Email": "ada@example.com"}, 0, inserting=True)
    assert not isinstance(change, dict)
    row = org.create(change, actor=0, now=NOW)
    created = org.summary(row)["id"]
    written = json.loads(org.truth_json(["Full_Name"]))["contacts"]
    assert [record["Full_Name"] for record in written if record["id"] == created] == ["Ada Lovelace"]
    victim = contacts(org)[0]["id"]
    assert org.delete([org.row_of(victim)], actor=1, now=NOW) == [victim]
    listed = [record["id"] for record in page_all(org, per_page=200, fields=("Email",))]
    assert created in listed and victim not in listed and len(listed) == 50
    deleted = json.loads(org.list_deleted().body())["data"]
    assert [(entry["id"], entry["type"]) for entry in deleted] == [(victim, "recycle")]
    with pytest.raises(KeyError):
        org.row_of(victim)
