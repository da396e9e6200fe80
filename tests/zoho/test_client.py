"""The Zoho CRM client against the Zoho sandbox over real HTTP.

Tokens come from the sandbox's own OAuth (authorize → code → token exchange, as a browser and
the gateway would), not from the OAuth engine, so these tests stand on the client alone.
Retry waits go through an injected sleep that records them instead of waiting.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from lineup_integrations.core.http import (
    ApiError,
    AuthenticationError,
    HttpClientSettings,
    RateLimitedError,
    RateLimitTracker,
    RetryableServerError,
    RetryingClient,
    RetrySettings,
    ScopeError,
    TransportFailure,
)
from lineup_integrations.sandbox.server import SandboxHandle
from lineup_integrations.zoho.client import UPSERT_BATCH, ZohoClient
from lineup_integrations.zoho.models import PagePosition
from tests.conftest import SleepRecorder

REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"
ALL_SCOPES = "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.org.READ"
FIELDS = ("First_Name", "Last_Name", "Email", "Title", "Modified_Time")


@dataclass
class SandboxGrant:
    """What the OAuth dance left us with, for one sandbox organisation."""

    control: httpx.Client  # the sandbox port, for /_sandbox/ control calls
    login: str
    org_id: str
    access_token: str
    refresh_token: str
    api_domain: str
    accounts_server: str

    def refresh(self) -> str:
        """A refresh_token grant over HTTP, as the OAuth engine would do it."""
        response = self.control.post(
            f"{self.accounts_server}/oauth/v2/token",
            data={"grant_type": "refresh_token", "client_id": "sandbox-zoho-client",
                  "client_secret": "sandbox-zoho-secret", "refresh_token": self.refresh_token},
        )  # fmt: skip
        self.access_token = response.json()["access_token"]
        return self.access_token

    def crm(self, method: str, path: str, **kwargs: object) -> dict:
        """A CRM control call for this organisation (`/_sandbox/crm/orgs/{org}/…`)."""
        response = self.control.request(method, f"/_sandbox/crm/orgs/{self.org_id}{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def api_calls(self) -> int:
        return self.control.get("/_sandbox/requests", params={"account_id": self.org_id}).json()["count"]


def connect(control: httpx.Client, login: str, *, dc: str = "us", scope: str = ALL_SCOPES) -> SandboxGrant:
    account = control.post("/_sandbox/accounts", json={"login": login, "dc": dc}).json()
    authorize = control.get(
        "/oauth/v2/auth",
        params={"scope": scope, "client_id": "sandbox-zoho-client", "response_type": "code", "access_type": "offline",
                "prompt": "consent", "redirect_uri": REDIRECT_URI, "state": "s", "login_hint": login},
    )  # fmt: skip
    assert authorize.status_code == 302, authorize.text
    callback = httpx.URL(authorize.headers["location"]).params
    token = control.post(
        f"{callback['accounts-server']}/oauth/v2/token",
        data={"grant_type": "authorization_code", "client_id": "sandbox-zoho-client",
              "client_secret": "sandbox-zoho-secret", "redirect_uri": REDIRECT_URI, "code": callback["code"]},
    ).json()  # fmt: skip
    return SandboxGrant(
        control, login, account["account_id"], token["access_token"], token["refresh_token"], token["api_domain"],
        callback["accounts-server"],
    )  # fmt: skip


@pytest.fixture
def control(sandbox_reset: SandboxHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_reset.base_url("zoho"), timeout=10.0) as client:
        yield client


@pytest.fixture
def grant(control: httpx.Client) -> SandboxGrant:
    return connect(control, "recruiter@acme.example", dc="eu")


@pytest.fixture
def http_pool() -> Iterator[httpx.Client]:
    client = HttpClientSettings(read_timeout=0.5).build_client()
    yield client
    client.close()


@pytest.fixture
def make_client(http_pool: httpx.Client, sleep: SleepRecorder):
    def build(
        grant: SandboxGrant, *, on_unauthorized=None, budget: int = 5000, attempts: int = 5, api_version: str = "v8"
    ) -> ZohoClient:
        http = RetryingClient(
            http_pool,
            provider="zoho",
            settings=RetrySettings(max_attempts=attempts, backoff_base=0.01, backoff_max=0.05, retry_after_max=5.0),
            sleep=sleep,
        )
        return ZohoClient(
            http,
            api_domain=grant.api_domain,
            access_token=lambda: grant.access_token,
            on_unauthorized=on_unauthorized,
            api_version=api_version,
            quota=RateLimitTracker(daily_budget=budget),
        )

    return build


def sandbox_now(grant: SandboxGrant) -> dt.datetime:
    return dt.datetime.fromisoformat(grant.control.get("/_sandbox/clock").json()["now"])


def advance_clock(grant: SandboxGrant, seconds: float) -> None:
    grant.control.post("/_sandbox/clock/advance", json={"seconds": seconds})


# -- paging --------------------------------------------------------------------------------------


def test_pages_past_2000_records_with_page_tokens_in_the_minimum_calls(grant, make_client) -> None:
    grant.crm("POST", "/seed", json={"count": 2_450})
    client = make_client(grant)
    assert grant.api_domain.endswith("/eu")

    pages = list(client.iter_contact_pages(fields=FIELDS, per_page=200))

    ids = [record["id"] for page in pages for record in page.records]
    truth = {contact["id"] for contact in grant.crm("GET", "/truth")["contacts"]}
    assert len(ids) == len(set(ids)) == 2_450  # no duplicate, none lost
    assert set(ids) == truth
    assert len(pages) == 13  # ceil(2450 / 200): pages 11–13 are only reachable by page token
    assert pages[-1].next_position() is None and pages[0].next_position().page_token
    modified = [record["Modified_Time"] for page in pages for record in page.records]
    assert modified == sorted(modified, key=dt.datetime.fromisoformat)  # Modified_Time ascending
    assert set(pages[0].records[0]) <= {"id", *FIELDS}
    assert client.quota.calls == grant.api_calls() == 13
    assert client.quota.retries == 0


def test_paging_resumes_from_a_checkpointed_position(grant, make_client) -> None:
    grant.crm("POST", "/seed", json={"count": 900})
    client = make_client(grant)
    first_run = client.iter_contact_pages(fields=FIELDS, per_page=200)
    committed = [next(first_run), next(first_run)]
    checkpoint = committed[-1].next_position()
    assert checkpoint is not None
    restored = PagePosition.model_validate(checkpoint.model_dump(mode="json"))  # as stored in a cursor row

    resumed = list(make_client(grant).iter_contact_pages(fields=FIELDS, per_page=200, start=restored))

    ids = [record["id"] for page in committed + resumed for record in page.records]
    assert len(ids) == len(set(ids)) == 900
    assert len(resumed) == 3


def test_page_numbers_stop_at_2000_records(grant, make_client) -> None:
    grant.crm("POST", "/seed", json={"count": 2_050})
    client = make_client(grant)
    tenth = client.contacts_page(fields=FIELDS, per_page=200, page=10, sort_by="id", sort_order="desc")
    assert tenth is not None and tenth.info.more_records
    with pytest.raises(ApiError) as caught:
        client.contacts_page(fields=FIELDS, per_page=200, page=11)
    assert (caught.value.status, caught.value.code) == (400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED")
    assert not caught.value.retryable and grant.api_calls() == 2
    following = client.contacts_page(fields=FIELDS, per_page=200, sort_by="id", sort_order="desc",
                                     page_token=tenth.next_position().page_token)  # fmt: skip
    assert following is not None and len(following.records) == 50


def test_v2_pages_by_number_when_zoho_returns_no_token(grant, make_client) -> None:
    grant.crm("POST", "/seed", json={"count": 450})
    client = make_client(grant, api_version="v2")
    pages = list(client.iter_contact_pages(fields=FIELDS, per_page=200, sort_by="id", sort_order="desc"))
    assert [page.info.page for page in pages] == [1, 2, 3]
    assert all(page.info.next_page_token is None for page in pages)
    ids = [int(record["id"]) for page in pages for record in page.records]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 450


def test_empty_organisation_answers_204_as_none(grant, make_client) -> None:
    client = make_client(grant)
    assert client.contacts_page(fields=FIELDS) is None
    assert list(client.iter_contact_pages(fields=FIELDS)) == []
    assert list(client.iter_deleted_pages()) == []
    assert client.quota.calls == 3


def test_if_modified_since_returns_only_changes_then_304(grant, make_client) -> None:
    grant.crm("POST", "/seed", json={"count": 300})
    before_edits = sandbox_now(grant)
    advance_clock(grant, 10)
    edited = set(grant.crm("POST", "/contacts/edit-random", json={"count": 7, "seed": 3})["ids"])
    client = make_client(grant)

    changed = list(client.iter_contact_pages(fields=FIELDS, modified_since=before_edits + dt.timedelta(seconds=5)))
    assert {record["id"] for page in changed for record in page.records} == edited
    typed = [contact for page in changed for contact in page.contacts()]
    assert all(contact.Modified_Time > before_edits for contact in typed)  # aware, with the org's offset
    assert [contact.raw for contact in typed] == [record for page in changed for record in page.records]

    advance_clock(grant, 10)
    assert client.contacts_page(fields=FIELDS, modified_since=sandbox_now(grant)) is None  # 304: nothing since


def test_deleted_records_since_a_moment(grant, make_client) -> None:
    grant.crm("POST", "/seed", json={"count": 50})
    before = sandbox_now(grant)
    advance_clock(grant, 10)
    recycled = set(grant.crm("POST", "/contacts/delete-random", json={"count": 3, "seed": 1})["ids"])
    purged = set(grant.crm("POST", "/contacts/delete-random", json={"count": 2, "seed": 2, "permanent": True})["ids"])
    client = make_client(grant)

    pages = list(client.iter_deleted_pages(since=before + dt.timedelta(seconds=5)))

    records = [record for page in pages for record in page.records]
    assert {record.id for record in records} == recycled | purged
    assert {record.id for record in records if record.type == "permanent"} == purged
    assert all(record.deleted_time.tzinfo is not None and record.deleted_time > before for record in records)
    assert client.deleted_page(modified_since=sandbox_now(grant) + dt.timedelta(seconds=1)) is None


# -- metadata and writes -------------------------------------------------------------------------


def test_org_and_fields(grant, make_client) -> None:
    client = make_client(grant)
    org = client.org()
    assert org.id == grant.org_id
    fields = {field.api_name: field for field in client.fields()}
    assert {"First_Name", "Last_Name", "Email", "Modified_Time"} <= set(fields)
    assert fields["Email"].data_type == "email"
    assert fields["Modified_Time"].read_only or fields["Modified_Time"].field_read_only


def test_upsert_inserts_then_updates_in_batches_of_100(grant, make_client) -> None:
    client = make_client(grant)
    people = [{"Last_Name": f"Candidate {i}", "Email": f"candidate{i}@example.com"} for i in range(150)]

    inserted = client.upsert_contacts(people)

    assert [result.action for result in inserted] == ["insert"] * 150
    assert all(result.ok and result.id and result.id.isdigit() for result in inserted)
    assert client.quota.calls == 2  # 100 + 50
    assert UPSERT_BATCH == 100

    updated = client.upsert_contacts([person | {"Title": "Engineer"} for person in people[:3]])
    assert [(r.action, r.duplicate_field, r.id) for r in updated] == [("update", "Email", r.id) for r in inserted[:3]]
    truth = {c["id"]: c for c in grant.crm("GET", "/truth", params={"fields": "Title,Email"})["contacts"]}
    assert truth[inserted[0].id]["Title"] == "Engineer" and len(truth) == 150


def test_upsert_reports_per_record_errors_for_mixed_and_all_failed_batches(grant, make_client) -> None:
    client = make_client(grant)
    mixed = client.upsert_contacts([{"Last_Name": "Ok", "Email": "ok@example.com"}, {"Email": "nameless@example.com"}])
    assert [result.status for result in mixed] == ["success", "error"]
    assert mixed[1].code == "MANDATORY_NOT_FOUND" and mixed[1].details.api_name == "Last_Name"

    failed = client.upsert_contacts([{"Email": "a@example.com"}, {"Email": "b@example.com"}])  # HTTP 400
    assert [result.code for result in failed] == ["MANDATORY_NOT_FOUND"] * 2
    assert not any(result.ok for result in failed)


# -- tokens and errors ---------------------------------------------------------------------------


def test_expired_token_mid_run_is_replaced_once_and_the_call_retried(grant, make_client) -> None:
    grant.crm("POST", "/seed", json={"count": 10})
    stale_tokens: list[str] = []

    def on_unauthorized(stale: str) -> str:
        stale_tokens.append(stale)
        return grant.refresh()

    client = make_client(grant, on_unauthorized=on_unauthorized)
    expired = grant.access_token
    grant.control.post("/_sandbox/tokens/expire", json={"login": grant.login})

    page = client.contacts_page(fields=FIELDS)

    assert page is not None and len(page.records) == 10
    assert stale_tokens == [expired]
    assert grant.access_token != expired
    assert client.org().id == grant.org_id  # later calls use the new token: no second refresh
    assert stale_tokens == [expired]


def test_a_replacement_token_that_fails_too_is_not_retried_again(grant, make_client) -> None:
    calls: list[str] = []
    client = make_client(grant, on_unauthorized=lambda stale: calls.append(stale) or "1000.not-a-token")
    grant.control.post("/_sandbox/tokens/revoke", json={"login": grant.login})
    with pytest.raises(AuthenticationError) as caught:
        client.org()
    assert caught.value.code == "INVALID_TOKEN" and caught.value.status == 401
    assert len(calls) == 1
    assert client.quota.calls == 2 and client.quota.retries == 0


def test_without_a_refresh_hook_401_raises(grant, make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(grant)
    grant.control.post("/_sandbox/tokens/expire", json={"login": grant.login})
    with pytest.raises(AuthenticationError) as caught:
        client.contacts_page(fields=FIELDS)
    assert grant.access_token not in str(caught.value) + repr(caught.value) + caplog.text
    assert caught.value.provider == "zoho"


def test_missing_scope_fails_at_once_as_scope_error(control, make_client) -> None:
    reader = connect(control, "reader@acme.example", scope="ZohoCRM.modules.contacts.READ")
    client = make_client(reader)
    with pytest.raises(ScopeError) as caught:
        client.org()
    assert caught.value.code == "OAUTH_SCOPE_MISMATCH" and not caught.value.retryable
    assert reader.api_calls() == 1


def test_a_zoho_400_is_final(grant, make_client) -> None:
    client = make_client(grant)
    with pytest.raises(ApiError) as caught:
        client.fields(module="NoSuchModule")
    assert caught.value.status == 400 and caught.value.code == "INVALID_DATA"
    assert grant.api_calls() == 1


# -- faults, retries and quota -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 429, "count": 2},
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 503, "count": 3},
        {"kind": "timeout", "delay": 3},
        {"kind": "reset"},
        {"kind": "invalid_json"},
    ],
    ids=["429x2", "500", "503x3", "timeout", "reset", "invalid-json"],
)
def test_transient_faults_are_retried_and_counted(grant, make_client, sleep, fault) -> None:
    grant.crm("POST", "/seed", json={"count": 5})
    grant.control.post("/_sandbox/faults", json={"endpoint": "GET */crm/v8/Contacts", **fault})
    client = make_client(grant)

    page = client.contacts_page(fields=FIELDS)

    assert page is not None and len(page.records) == 5
    faults = fault.get("count", 1)
    assert client.quota.retries == len(sleep.waits) == faults
    assert client.quota.calls == faults + 1


def test_persistent_429_raises_rate_limited_after_the_attempts(grant, make_client) -> None:
    grant.control.post("/_sandbox/faults", json={"endpoint": "GET */crm/v8/org", "status": 429, "count": 10})
    client = make_client(grant, attempts=3)
    with pytest.raises(RateLimitedError) as caught:
        client.org()
    assert caught.value.code == "TOO_MANY_REQUESTS" and caught.value.retryable
    assert client.quota.calls == 3


def test_persistent_timeouts_raise_transport_failure(grant, make_client) -> None:
    grant.control.post(
        "/_sandbox/faults", json={"endpoint": "GET */crm/v8/org", "kind": "timeout", "delay": 3, "count": 2}
    )
    with pytest.raises(TransportFailure):
        make_client(grant, attempts=2).org()


def test_persistent_invalid_json_raises_retryable_server_error(grant, make_client) -> None:
    grant.control.post("/_sandbox/faults", json={"endpoint": "GET */crm/v8/org", "kind": "invalid_json", "count": 2})
    with pytest.raises(RetryableServerError):
        make_client(grant, attempts=2).org()


def test_retry_after_from_the_sandbox_is_honoured(grant, make_client, sleep) -> None:
    grant.control.post(
        "/_sandbox/faults", json={"endpoint": "GET */crm/v8/org", "status": 429, "retry_after": 2.5, "count": 1}
    )
    make_client(grant).org()
    assert sleep.waits == [2.5]


def test_quota_counts_against_the_budget_without_headers(grant, make_client) -> None:
    client = make_client(grant, budget=100)
    client.org()
    client.fields()
    snapshot = client.quota.snapshot()
    assert (snapshot.source, snapshot.calls, snapshot.remaining, snapshot.limit) == ("budget", 2, 98, 100)


def test_quota_follows_rate_limit_headers_when_zoho_sends_them(grant, make_client) -> None:
    grant.control.post("/_sandbox/crm/config", json={"rate_limit_headers": True})
    grant.crm("POST", "/limits", json={"daily_credits": 40})
    client = make_client(grant, budget=5000)
    client.org()
    client.fields()
    usage = grant.crm("GET", "/usage")
    snapshot = client.quota.snapshot()
    assert snapshot.source == "headers"
    assert snapshot.remaining == usage["credits_remaining"] == 38
    assert snapshot.limit == 40 and snapshot.reset_at is not None


def test_exhausted_daily_credits_surface_as_rate_limited(grant, make_client) -> None:
    grant.crm("POST", "/limits", json={"daily_credits": 2})
    client = make_client(grant, budget=2, attempts=2)
    client.org()
    client.org()
    assert client.quota.remaining == 0
    with pytest.raises(RateLimitedError):
        client.org()


# -- argument checks (no HTTP) -------------------------------------------------------------------


def test_arguments_are_checked_before_any_call(grant, make_client) -> None:
    client = make_client(grant)
    with pytest.raises(ValueError):
        client.contacts_page(fields=FIELDS, page=2, page_token="abc")
    with pytest.raises(ValueError):
        client.contacts_page(fields=[f"F{i}" for i in range(51)])
    with pytest.raises(ValueError):
        client.contacts_page(fields=FIELDS, per_page=201)
    with pytest.raises(ValueError):
        client.contacts_page(fields=FIELDS, modified_since=dt.datetime(2026, 1, 1))  # naive
    assert grant.api_calls() == 0
