"""The sandbox's Zoho CRM API over real HTTP, read by a plain httpx client written from Zoho's docs.

Each test connects its organisation through the sandbox's real OAuth flow (authorize → code →
token at the `accounts-server` of the user's data centre) and calls the `api_domain` it got back.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from lineup_integrations.sandbox import SandboxHandle

REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"
CLIENT = {"client_id": "sandbox-zoho-client", "client_secret": "sandbox-zoho-secret"}
ALL_SCOPES = "ZohoCRM.modules.ALL,ZohoCRM.settings.fields.READ,ZohoCRM.org.READ"
FIELDS = "First_Name,Last_Name,Full_Name,Email,Phone,Mobile,Title,Account_Name,Owner,Created_Time,Modified_Time"
ZOHO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")


@dataclass(frozen=True)
class Org:
    """A connected Zoho organisation as a client sees it: its API domain and access token."""

    org_id: str
    login: str
    api_domain: str
    access_token: str

    def url(self, path: str, version: str = "v8") -> str:
        return f"{self.api_domain}/crm/{version}/{path}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {self.access_token}"}


@pytest.fixture
def zoho(sandbox_reset: SandboxHandle) -> str:
    return sandbox_reset.base_url("zoho")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def connect(http: httpx.Client, zoho: str, login: str, *, dc: str = "us", scopes: str = ALL_SCOPES) -> Org:
    account = http.post(f"{zoho}/_sandbox/accounts", json={"login": login, "dc": dc}).json()
    authorize = http.get(
        f"{zoho}/oauth/v2/auth",
        params={
            "scope": scopes,
            "client_id": CLIENT["client_id"],
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "access_type": "offline",
            "prompt": "consent",
            "state": "s",
            "login_hint": login,
        },
    )
    callback = httpx.URL(authorize.headers["location"]).params
    token = http.post(
        f"{callback['accounts-server']}/oauth/v2/token",
        data=CLIENT | {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": REDIRECT_URI},
    ).json()
    return Org(account["account_id"], login, token["api_domain"], token["access_token"])


def control(zoho: str, org: Org, path: str) -> str:
    return f"{zoho}/_sandbox/crm/orgs/{org.org_id}/{path}"


def seed(http: httpx.Client, zoho: str, org: Org, count: int, **options: int) -> None:
    response = http.post(control(zoho, org, "seed"), json={"count": count, **options})
    assert response.status_code == 200, response.text


def truth(http: httpx.Client, zoho: str, org: Org, fields: str = "") -> dict[str, Any]:
    return http.get(control(zoho, org, "truth"), params={"fields": fields}).json()


def get_contacts(
    http: httpx.Client, org: Org, version: str = "v8", headers: dict[str, str] | None = None, **params: Any
) -> httpx.Response:
    return http.get(org.url("Contacts", version), params=params, headers=org.auth | (headers or {}))


def zoho_time(value: str) -> dt.datetime:
    assert ZOHO_TIME.fullmatch(value), value
    return dt.datetime.fromisoformat(value)


# -- reading records ----------------------------------------------------------------------------


def test_a_documented_client_pages_100000_contacts_with_page_then_page_token(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "big@zylker.example", dc="eu")
    assert org.api_domain.endswith("/eu")
    seed(http, zoho, org, 100_200)
    seen: list[str] = []
    started = time.perf_counter()
    response = None
    for page in range(1, 11):  # `page` reaches the first 2,000 records …
        response = get_contacts(http, org, fields=FIELDS, page=page, per_page=200)
        assert response.status_code == 200
        seen += [record["id"] for record in response.json()["data"]]
    assert response is not None
    info = response.json()["info"]
    while info["more_records"] and len(seen) < 100_000:  # … then `page_token` continues
        response = get_contacts(http, org, fields=FIELDS, page_token=info["next_page_token"])
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [record["id"] for record in body["data"]]
        info = body["info"]
    elapsed = time.perf_counter() - started
    print(f"\n500 pages of 200 contacts over HTTP (client parsing included): {elapsed:.2f} s")

    assert len(seen) == len(set(seen)) == 100_000
    expected = sorted((c["id"] for c in truth(http, zoho, org)["contacts"]), key=int)[-100_000:]
    assert seen == sorted(expected, key=int, reverse=True)  # default order: id desc, nothing skipped
    assert all(len(record_id) == 19 and record_id.isdigit() for record_id in seen[:1000])
    assert info["count"] == 200 and info["more_records"] is True and len(info["next_page_token"]) <= 96
    record = body["data"][0]
    assert set(record) == {"id", *FIELDS.split(",")}
    assert zoho_time(record["Modified_Time"]) >= zoho_time(record["Created_Time"])
    assert record["Modified_Time"][-6:] in ("+01:00", "+02:00")  # the EU org's Europe/Berlin offset

    beyond = get_contacts(http, org, fields=FIELDS, page_token=info["next_page_token"])
    assert beyond.status_code == 400
    assert beyond.json() == {
        "code": "PAGINATION_LIMIT_EXCEEDED",
        "message": "You can only get upto 100000 records using page_token param",
        "status": "error",
        "details": {"param_name": "page_token"},
    }


def test_nothing_to_return_is_204_with_an_empty_body(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "empty@zylker.example")
    empty = get_contacts(http, org, fields="Email")
    assert (empty.status_code, empty.content) == (204, b"")
    seed(http, zoho, org, 250)
    last_page = get_contacts(http, org, fields="Email", page=2).json()["info"]
    assert (last_page["count"], last_page["more_records"], last_page["next_page_token"]) == (50, False, None)
    past_the_end = get_contacts(http, org, fields="Email", page=3)
    assert (past_the_end.status_code, past_the_end.content) == (204, b"")


def test_page_reaches_only_the_first_2000_records_from_v3(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "cap@zylker.example")
    seed(http, zoho, org, 2_300)
    assert get_contacts(http, org, fields="Email", page=10, per_page=200).status_code == 200
    capped = get_contacts(http, org, fields="Email", page=11, per_page=200)
    assert capped.status_code == 400
    assert capped.json() == {
        "code": "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
        "message": "You can only get the first 2000 records without using page_token param",
        "status": "error",
        "details": {"limit": 2000},
    }
    too_big = get_contacts(http, org, fields="Email", per_page=201)
    assert (too_big.status_code, too_big.json()["code"]) == (400, "INVALID_DATA")

    v2 = get_contacts(http, org, "v2", page=12, per_page=200)  # v2: plain pages, no cap, no tokens
    assert v2.status_code == 200
    assert v2.json()["info"] == {"per_page": 200, "count": 100, "page": 12, "more_records": False}
    assert get_contacts(http, org, "v2", page_token="x").status_code == 400


def test_fields_is_required_from_v3_and_limits_the_record(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "fields@zylker.example")
    seed(http, zoho, org, 10)
    missing = get_contacts(http, org, "v8")
    assert missing.status_code == 400
    assert missing.json() == {
        "code": "REQUIRED_PARAM_MISSING",
        "status": "error",
        "details": {"param_name": "fields"},
        "message": "required param is missing",
    }
    assert get_contacts(http, org, "v7").json()["code"] == "REQUIRED_PARAM_MISSING"

    every_field = get_contacts(http, org, "v2").json()["data"][0]
    assert {"Full_Name", "Owner", "Created_By", "Modified_By", "Account_Name", "Mailing_City"} <= set(every_field)
    assert every_field["Full_Name"] == f"{every_field['First_Name']} {every_field['Last_Name']}"
    assert set(every_field["Owner"]) == {"name", "id", "email"}

    assert all(set(record) == {"id", "Email"} for record in get_contacts(http, org, fields="Email").json()["data"])
    too_many = get_contacts(http, org, "v7", fields=",".join(f"Field_{n}" for n in range(51)))
    assert too_many.json() == {
        "code": "LIMIT_EXCEEDED",
        "details": {"limit": 50, "param_name": "fields"},
        "message": "limit exceeded",
        "status": "error",
    }


def test_if_modified_since_returns_only_changed_records_and_304_when_none(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    org = connect(http, zoho, "delta@zylker.example", dc="in")
    seed(http, zoho, org, 1_000)
    watermark = max(c["Modified_Time"] for c in truth(http, zoho, org)["contacts"])
    assert watermark.endswith("+05:30")
    since = {"If-Modified-Since": watermark}

    unchanged = get_contacts(http, org, headers=since, fields="Email")
    assert (unchanged.status_code, unchanged.content) == (304, b"")

    sandbox_reset.state("zoho").clock.advance(5)
    edited = http.post(control(zoho, org, "contacts/edit-random"), json={"count": 30, "seed": 1}).json()
    changed = get_contacts(
        http, org, headers=since, fields="Title,Modified_Time", sort_by="Modified_Time", sort_order="asc"
    )
    assert changed.status_code == 200
    records = changed.json()["data"]
    assert sorted(record["id"] for record in records) == sorted(edited["ids"])
    assert all(record["Modified_Time"] == edited["Modified_Time"] > watermark for record in records)
    # The same instant as an HTTP date works too, and a later one sees nothing new.
    later = {"If-Modified-Since": (zoho_time(edited["Modified_Time"])).strftime("%a, %d %b %Y %H:%M:%S %z")}
    assert get_contacts(http, org, headers=later, fields="Email").status_code == 304


def test_paging_is_stable_while_others_write(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "stable@zylker.example")
    seed(http, zoho, org, 1_000)
    before = {c["id"] for c in truth(http, zoho, org)["contacts"]}
    first = get_contacts(http, org, fields="Email", per_page=100, sort_by="id", sort_order="asc").json()
    seen = [record["id"] for record in first["data"]]
    deleted = http.post(control(zoho, org, "contacts/delete-random"), json={"count": 200, "seed": 3}).json()["ids"]
    http.post(control(zoho, org, "contacts/edit-random"), json={"count": 300, "seed": 4})
    created = http.post(control(zoho, org, "contacts"), json={"Last_Name": "Newcomer"}).json()["id"]
    token = first["info"]["next_page_token"]
    while token:
        body = get_contacts(http, org, fields="Email", page_token=token).json()
        seen += [record["id"] for record in body["data"]]
        token = body["info"]["next_page_token"]
    assert len(seen) == len(set(seen))
    deleted_later = set(deleted) - set(seen[:100])
    assert set(seen) == (before - deleted_later) | {created}
    assert seen == sorted(seen, key=int)


def test_page_tokens_are_bound_to_their_query_and_expire(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    org = connect(http, zoho, "tokens@zylker.example")
    seed(http, zoho, org, 700)
    first = get_contacts(http, org, fields="Email", per_page=200).json()["info"]
    assert first["previous_page_token"] is None and zoho_time(first["page_token_expiry"])
    second = get_contacts(http, org, fields="Email", page_token=first["next_page_token"]).json()["info"]
    third = get_contacts(http, org, fields="Email", page_token=second["next_page_token"]).json()["info"]
    assert third["previous_page_token"] == first["next_page_token"]  # the token that fetched page 2
    assert (second["page"], third["page"]) == (2, 3)

    ambiguous = get_contacts(http, org, fields="Email", page=2, page_token=first["next_page_token"])
    assert ambiguous.json()["code"] == "AMBIGUITY_DURING_PROCESSING"
    altered = get_contacts(http, org, fields="Email", sort_order="asc", page_token=first["next_page_token"])
    assert altered.status_code == 400
    assert altered.json()["code"] == "TOKEN_BOUND_DATA_MISMATCH"
    assert get_contacts(http, org, fields="Email", page_token="0" * 48).json()["code"] == "TOKEN_BOUND_DATA_MISMATCH"

    sandbox_reset.state("zoho").clock.advance(86_400)
    org = connect(http, zoho, org.login)  # the access token expired with the clock; the page token too
    expired = get_contacts(http, org, fields="Email", page_token=first["next_page_token"])
    assert expired.json() == {
        "status": "error",
        "code": "EXPIRED_VALUE",
        "message": "Page token expired",
        "details": {"api_name": "page_token", "json_path": "$.query.page_token"},
    }


# -- deleted records, metadata, writes ------------------------------------------------------------


def test_deleted_records_list_recycle_and_permanent_deletions(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    org = connect(http, zoho, "bin@zylker.example")
    assert http.get(org.url("Contacts/deleted"), headers=org.auth).status_code == 204
    seed(http, zoho, org, 300)
    recycled = http.post(control(zoho, org, "contacts/delete-random"), json={"count": 5, "seed": 9}).json()["ids"]
    sandbox_reset.state("zoho").clock.advance(2)
    purged = next(c["id"] for c in truth(http, zoho, org)["contacts"] if c["id"] not in recycled)
    purge = http.delete(control(zoho, org, f"contacts/{purged}"), params={"permanent": "true"})
    assert purge.json() == {"ids": [purged]}

    every = http.get(org.url("Contacts/deleted"), headers=org.auth, params={"type": "all"}).json()
    assert every["info"] == {"per_page": 200, "count": 6, "page": 1, "more_records": False}
    newest = every["data"][0]
    assert newest == {
        "deleted_by": None,
        "id": purged,
        "display_name": None,
        "type": "permanent",
        "created_by": None,
        "deleted_time": newest["deleted_time"],
    }
    recycle = http.get(org.url("Contacts/deleted"), headers=org.auth, params={"type": "recycle"}).json()["data"]
    assert sorted(entry["id"] for entry in recycle) == sorted(recycled)
    assert all(entry["display_name"] and set(entry["deleted_by"]) == {"name", "id"} for entry in recycle)

    live = {c["id"] for c in truth(http, zoho, org)["contacts"]}
    assert live.isdisjoint([*recycled, purged]) and len(live) == 294
    since = {"If-Modified-Since": newest["deleted_time"]}
    nothing_newer = http.get(org.url("Contacts/deleted"), headers=org.auth | since)
    assert (nothing_newer.status_code, nothing_newer.content) == (304, b"")
    after_recycling = {"If-Modified-Since": every["data"][1]["deleted_time"]}
    just_purged = http.get(org.url("Contacts/deleted"), headers=org.auth | after_recycling)
    assert [entry["id"] for entry in just_purged.json()["data"]] == [purged]


def test_upsert_reports_each_record_and_207_when_mixed(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "writer@zylker.example")
    existing = http.post(control(zoho, org, "contacts"), json={"Last_Name": "Old", "Email": "Ada@Example.com"})
    existing_id = existing.json()["id"]
    records = [
        {"Email": "ada@example.com", "Last_Name": "Lovelace"},
        {
            "Email": "new@example.com",
            "First_Name": "Grace",
            "Last_Name": "Hopper",
            "Account_Name": {"name": "Acme Inc"},
        },
        {"First_Name": "Nameless"},
        {"Email": "not-an-email", "Last_Name": "Broken"},
    ]
    body = {"data": records, "duplicate_check_fields": ["Email"]}
    response = http.post(org.url("Contacts/upsert"), headers=org.auth, json=body)
    assert response.status_code == 207
    updated, inserted, mandatory, invalid = response.json()["data"]
    summary = (updated["code"], updated["action"], updated["duplicate_field"], updated["message"])
    assert summary == ("SUCCESS", "update", "Email", "record updated")
    assert updated["details"]["id"] == existing_id
    assert set(updated["details"]) == {"Modified_Time", "Modified_By", "Created_Time", "id", "Created_By"}
    assert (inserted["action"], inserted["message"], inserted["status"]) == ("insert", "record added", "success")
    assert mandatory == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Last_Name", "json_path": "$.data[2].Last_Name"},
        "message": "required field not found",
        "status": "error",
    }
    assert invalid["code"] == "INVALID_DATA"
    assert invalid["details"] == {"api_name": "Email", "json_path": "$.data[3].Email", "expected_data_type": "email"}

    stored = {c["id"]: c for c in truth(http, zoho, org, "Last_Name,Full_Name,Account_Name,Modified_By")["contacts"]}
    assert stored[existing_id]["Last_Name"] == "Lovelace"
    assert stored[inserted["details"]["id"]]["Full_Name"] == "Grace Hopper"
    assert stored[inserted["details"]["id"]]["Account_Name"]["name"] == "Acme Inc"
    assert stored[existing_id]["Modified_By"]["email"] == org.login  # written by the connected user
    assert len(stored) == 2

    all_good = http.post(org.url("Contacts/upsert"), headers=org.auth, json={"data": [{"Last_Name": "Solo"}]})
    assert all_good.status_code == 200 and all_good.json()["data"][0]["duplicate_field"] is None
    too_many = http.post(org.url("Contacts/upsert"), headers=org.auth, json={"data": [{"Last_Name": "X"}] * 101})
    assert too_many.status_code == 400 and too_many.json()["code"] == "LIMIT_EXCEEDED"
    all_bad = http.post(org.url("Contacts/upsert"), headers=org.auth, json={"data": [{"Email": "x@example.com"}]})
    assert all_bad.status_code == 400 and all_bad.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"


def test_control_writes_act_as_another_zoho_user(http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle) -> None:
    org = connect(http, zoho, "owner@zylker.example")
    created = http.post(control(zoho, org, "contacts"), json={"First_Name": "Zoë", "Last_Name": "Ångström"})
    assert created.status_code == 201
    record_id = created.json()["id"]
    sandbox_reset.state("zoho").clock.advance(3)
    edited = http.patch(control(zoho, org, f"contacts/{record_id}"), json={"Title": "CTO"}).json()
    assert zoho_time(edited["Modified_Time"]) > zoho_time(created.json()["Modified_Time"])
    record = get_contacts(http, org, fields="Full_Name,Title,Created_By,Modified_By").json()["data"][0]
    assert (record["Full_Name"], record["Title"]) == ("Zoë Ångström", "CTO")
    assert record["Created_By"]["email"] != org.login and record["Modified_By"] == record["Created_By"]
    bad = http.patch(control(zoho, org, f"contacts/{record_id}"), json={"Last_Name": None})
    assert bad.status_code == 400 and bad.json()["code"] == "MANDATORY_NOT_FOUND"
    assert http.patch(control(zoho, org, "contacts/1"), json={"Title": "x"}).status_code == 404


def test_field_metadata_and_org(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "meta@zylker.example", dc="jp")
    fields = http.get(org.url("settings/fields"), headers=org.auth, params={"module": "Contacts"}).json()["fields"]
    by_name = {field["api_name"]: field for field in fields}
    assert by_name["Last_Name"]["system_mandatory"] is True and by_name["Full_Name"]["read_only"] is True
    types = {name: by_name[name]["data_type"] for name in ("Email", "Phone", "Account_Name", "Owner", "Created_Time")}
    assert types == {
        "Email": "email", "Phone": "phone", "Account_Name": "lookup", "Owner": "ownerlookup",
        "Created_Time": "datetime",
    }  # fmt: skip
    assert by_name["Account_Name"]["lookup"]["module"]["api_name"] == "Accounts"
    assert by_name["Owner"]["json_type"] == "jsonobject"
    missing = http.get(org.url("settings/fields"), headers=org.auth)
    assert missing.json()["details"] == {"param_name": "module"}

    (details,) = http.get(org.url("org", "v2"), headers=org.auth).json()["org"]
    assert details["id"] == org.org_id and details["time_zone"] == "Asia/Tokyo"
    assert {"company_name", "currency", "domain_name", "primary_email"} <= set(details)


def test_field_metadata_of_accounts_leads_and_deals(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "modules@zylker.example")

    def fields_of(module: str) -> dict[str, dict[str, Any]]:
        response = http.get(org.url("settings/fields"), headers=org.auth, params={"module": module})
        assert response.status_code == 200, response.text
        return {field["api_name"]: field for field in response.json()["fields"]}

    accounts, leads, deals = fields_of("Accounts"), fields_of("Leads"), fields_of("Deals")
    assert accounts["Account_Name"]["system_mandatory"] is True and accounts["Account_Name"]["data_type"] == "text"
    assert accounts["Parent_Account"]["lookup"]["module"]["api_name"] == "Accounts"
    assert accounts["Annual_Revenue"]["json_type"] == "double" and accounts["Employees"]["json_type"] == "integer"
    assert "Technology" in [value["actual_value"] for value in accounts["Industry"]["pick_list_values"]]
    assert leads["Company"]["data_type"] == "text" and leads["Last_Name"]["system_mandatory"] is True
    assert deals["Account_Name"]["data_type"] == "lookup"
    assert deals["Account_Name"]["lookup"]["module"] == fields_of("Contacts")["Account_Name"]["lookup"]["module"]
    assert deals["Stage"]["system_mandatory"] is True and deals["Closing_Date"]["data_type"] == "date"
    for module in (accounts, leads, deals):
        assert {"Owner", "Created_Time", "Modified_Time", "Created_By", "Modified_By"} <= set(module)
        assert all(set(field) >= {"id", "field_label", "data_type", "json_type", "lookup"} for field in module.values())
    unknown = http.get(org.url("settings/fields"), headers=org.auth, params={"module": "Potentials"})
    assert (unknown.status_code, unknown.json()["details"]) == (400, {"param_name": "module"})


def test_current_user_and_the_users_list(http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle) -> None:
    scopes = "ZohoCRM.modules.ALL,ZohoCRM.users.READ"
    org = connect(http, zoho, "pat.boyle@zylker.example", dc="eu", scopes=scopes)
    account = sandbox_reset.state("zoho").account(org.login)
    assert account is not None
    for version in ("v2", "v7", "v8"):
        current = http.get(org.url("users", version), headers=org.auth, params={"type": "CurrentUser"})
        assert current.status_code == 200, current.text
        body = current.json()
        assert body["info"] == {"per_page": 200, "count": 1, "page": 1, "more_records": False}
        (user,) = body["users"]
        assert (user["id"], user["email"], user["full_name"]) == (account.user_id, org.login, "Pat Boyle")
        assert user["role"]["name"] == "CEO" and user["profile"]["name"] == "Administrator"
        assert user["status"] == "active" and user["confirm"] is True
        assert ZOHO_TIME.fullmatch(user["created_time"]) and user["created_time"].endswith("+01:00")

    everyone = http.get(org.url("users"), headers=org.auth, params={"type": "AllUsers"}).json()
    assert everyone["users"][0]["id"] == account.user_id and len(everyone["users"]) > 1
    assert {user["profile"]["name"] for user in everyone["users"][1:]} == {"Standard"}
    second_page = http.get(org.url("users"), headers=org.auth, params={"type": "ActiveUsers", "per_page": 2, "page": 2})
    assert [user["id"] for user in second_page.json()["users"]] == [user["id"] for user in everyone["users"][2:4]]
    assert http.get(org.url("users"), headers=org.auth, params={"type": "DeactiveUsers"}).status_code == 204
    bad_type = http.get(org.url("users"), headers=org.auth, params={"type": "Everyone"})
    assert (bad_type.status_code, bad_type.json()["code"]) == (400, "INVALID_DATA")

    no_scope = connect(http, zoho, "noscope@zylker.example")  # the default scopes lack ZohoCRM.users
    refused = http.get(no_scope.url("users"), headers=no_scope.auth, params={"type": "CurrentUser"})
    assert (refused.status_code, refused.json()["code"]) == (401, "OAUTH_SCOPE_MISMATCH")


# -- authentication, scopes, limits ---------------------------------------------------------------


def test_tokens_are_checked_like_zoho(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "auth@zylker.example")
    invalid_token = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}
    missing = http.get(org.url("Contacts"), params={"fields": "Email"})
    assert (missing.status_code, missing.json()) == (401, invalid_token)
    bearer_header = {"Authorization": f"Bearer {org.access_token}"}
    bearer = http.get(org.url("Contacts"), params={"fields": "Email"}, headers=bearer_header)
    assert (bearer.status_code, bearer.json()["code"]) == (401, "AUTHENTICATION_FAILURE")
    other_dc = http.get(f"{zoho}/eu/crm/v8/Contacts", params={"fields": "Email"}, headers=org.auth)
    assert (other_dc.status_code, other_dc.json()) == (401, invalid_token)
    assert http.get(f"{zoho}/xx/crm/v8/org", headers=org.auth).json()["code"] == "INVALID_URL_PATTERN"

    http.post(f"{zoho}/_sandbox/tokens/expire", json={"login": org.login})
    expired = http.get(org.url("org"), headers=org.auth)
    assert (expired.status_code, expired.json()) == (401, invalid_token)


def test_scopes_are_enforced_per_endpoint(http: httpx.Client, zoho: str) -> None:
    reader = connect(http, zoho, "reader@zylker.example", scopes="ZohoCRM.modules.contacts.READ")
    assert get_contacts(http, reader, fields="Email").status_code == 204
    mismatch = {"code": "OAUTH_SCOPE_MISMATCH", "message": "Unauthorized", "status": "error", "details": {}}
    org = http.get(reader.url("org"), headers=reader.auth)
    assert (org.status_code, org.json()) == (401, mismatch)
    upsert = http.post(reader.url("Contacts/upsert"), headers=reader.auth, json={"data": [{"Last_Name": "X"}]})
    assert (upsert.status_code, upsert.json()) == (401, mismatch)
    writer = connect(http, zoho, "writer@zylker.example", scopes="ZohoCRM.modules.contacts.WRITE")
    written = http.post(writer.url("Contacts/upsert"), headers=writer.auth, json={"data": [{"Last_Name": "X"}]})
    assert written.status_code == 200


def test_the_daily_credit_budget_ends_in_429_until_credits_free(
    http: httpx.Client, zoho: str, sandbox_reset: SandboxHandle
) -> None:
    org = connect(http, zoho, "budget@zylker.example")
    other = connect(http, zoho, "other@zylker.example")
    http.post(f"{zoho}/_sandbox/crm/config", json={"rate_limit_headers": True, "retry_after": True})
    http.post(control(zoho, org, "limits"), json={"daily_credits": 3})
    remaining = [get_contacts(http, org, fields="Email").headers["X-RATELIMIT-REMAINING"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = get_contacts(http, org, fields="Email")
    assert refused.status_code == 429
    body = refused.json()
    assert (body["code"], body["details"], body["status"]) == ("TOO_MANY_REQUESTS", {}, "error") and body["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 86_400 and refused.headers["X-RATELIMIT-LIMIT"] == "3"
    assert get_contacts(http, other, fields="Email").status_code == 204  # another org's budget is its own
    usage = http.get(control(zoho, org, "usage")).json()
    assert (usage["credits_used"], usage["credits_remaining"]) == (3, 0)

    sandbox_reset.state("zoho").clock.advance(86_400)
    org = connect(http, zoho, org.login)
    assert get_contacts(http, org, fields="Email").status_code == 204


def test_concurrent_calls_beyond_the_limit_get_429(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "busy@zylker.example")
    http.post(control(zoho, org, "limits"), json={"max_concurrency": 2})
    http.post(f"{zoho}/_sandbox/crm/hold")
    statuses: list[int] = []

    def call() -> None:
        with httpx.Client(timeout=10.0) as own:
            statuses.append(get_contacts(own, org, fields="Email").status_code)

    callers = [threading.Thread(target=call) for _ in range(2)]
    try:
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 5
        while http.get(control(zoho, org, "usage")).json()["in_flight"] < 2:
            assert time.monotonic() < deadline, "the held calls never arrived"
        refused = get_contacts(http, org, fields="Email")
        assert (refused.status_code, refused.json()["code"]) == (429, "TOO_MANY_REQUESTS")
    finally:
        http.post(f"{zoho}/_sandbox/crm/release")
        for caller in callers:
            caller.join()
    assert statuses == [204, 204]
    assert http.get(control(zoho, org, "usage")).json()["in_flight"] == 0


# -- faults and the request log -------------------------------------------------------------------


def queue_fault(http: httpx.Client, zoho: str, **fault: Any) -> None:
    response = http.post(f"{zoho}/_sandbox/faults", json={"endpoint": "GET */Contacts", **fault})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "TOO_MANY_REQUESTS"), (500, "INTERNAL_ERROR"), (503, "INTERNAL_ERROR"), (401, "INVALID_TOKEN")],
)
def test_status_faults_answer_with_zoho_error_bodies(http: httpx.Client, zoho: str, status: int, code: str) -> None:
    org = connect(http, zoho, "faulty@zylker.example")
    queue_fault(http, zoho, kind="status", status=status, count=2)
    for _ in range(2):
        response = get_contacts(http, org, fields="Email")
        assert (response.status_code, response.json()["code"], response.json()["status"]) == (status, code, "error")
    assert get_contacts(http, org, fields="Email").status_code == 204


def test_a_timeout_fault_outlasts_the_client(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "slow@zylker.example")
    queue_fault(http, zoho, kind="timeout", delay=5)
    with httpx.Client(timeout=0.3) as impatient, pytest.raises(httpx.ReadTimeout):
        get_contacts(impatient, org, fields="Email")
    assert get_contacts(http, org, fields="Email").status_code == 204


def test_a_reset_fault_drops_the_connection(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "dropped@zylker.example")
    queue_fault(http, zoho, kind="reset")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        get_contacts(http, org, fields="Email")
    assert get_contacts(http, org, fields="Email").status_code == 204


def test_an_invalid_json_fault_is_a_200_that_does_not_parse(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "garbled@zylker.example")
    queue_fault(http, zoho, kind="invalid_json")
    response = get_contacts(http, org, fields="Email")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_faults_on_a_share_of_requests_are_reproducible(http: httpx.Client, zoho: str) -> None:
    org = connect(http, zoho, "flaky@zylker.example")
    patterns = []
    for _ in range(2):
        http.delete(f"{zoho}/_sandbox/faults")
        queue_fault(http, zoho, kind="status", status=503, rate=0.3, seed=42, count=1_000)
        patterns.append([get_contacts(http, org, fields="Email").status_code for _ in range(60)])
    assert patterns[0] == patterns[1]
    assert set(patterns[0]) == {204, 503} and 8 <= patterns[0].count(503) <= 30


def test_the_request_log_counts_api_calls_per_org_and_endpoint(http: httpx.Client, zoho: str) -> None:
    us = connect(http, zoho, "counted@zylker.example")
    eu = connect(http, zoho, "counted@globex.example", dc="eu")
    for _ in range(3):
        get_contacts(http, us, fields="Email")
    http.get(us.url("org"), headers=us.auth)
    for _ in range(2):
        http.get(eu.url("Contacts/deleted"), headers=eu.auth)

    def calls(org: Org) -> dict[str, int]:
        return http.get(f"{zoho}/_sandbox/requests", params={"account_id": org.org_id}).json()["by_endpoint"]

    assert calls(us) == {"GET /crm/v8/Contacts": 3, "GET /crm/v8/org": 1}
    assert calls(eu) == {"GET /eu/crm/v8/Contacts/deleted": 2}
    assert http.get(control(zoho, us, "usage")).json()["credits_used"] == 4
