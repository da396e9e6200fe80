"""A whole calendar scenario driven by Microsoft's own Python clients against the Microsoft sandbox:
MSAL (`ConfidentialClientApplication`) signs the user in and refreshes, then msgraph-sdk's
`GraphServiceClient` lists calendars, creates and lists events, pages calendarView/delta to its
deltaLink and follows it, PATCHes conditionally (412), deletes and asks getSchedule.

Neither client is patched: MSAL gets its authority (`instance_discovery=False`, `verify=` the
sandbox's CA) and msgraph-sdk its base URL and an httpx client trusting that CA, as an app
configured for a national cloud would. Both talk to the sandbox's https listener: MSAL refuses an
authority that is not https (`msal.authority.canonicalize`).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import httpx
import msal
import pytest
from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator
from kiota_abstractions.authentication.base_bearer_token_authentication_provider import (
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.event import Event
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
    GetSchedulePostRequestBody,
)
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.graph_request_adapter import options as GRAPH_OPTIONS
from msgraph_core import GraphClientFactory

from lineup_integrations.sandbox import SandboxHandle
from tests.outlook_calendar.sandbox.graph_wire import CLIENT, PROVIDER, REDIRECT_URI

LOGIN = "interviewer@contoso.example"
pytestmark = [
    # the identity twin answers response_mode=query only (provider-apis.md §C1); MSAL would prefer form_post
    pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning"),
    # msgraph-sdk's generated builders warn about their own per-endpoint configuration classes.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions"),
]
SCOPES = ["User.Read", "Calendars.ReadWrite"]


class MsalTokenProvider(AccessTokenProvider):
    """kiota's token source backed by MSAL's cache: every Graph request gets MSAL's current token."""

    def __init__(self, app: msal.ConfidentialClientApplication) -> None:
        self._app = app

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        account = self._app.get_accounts()[0]
        result = self._app.acquire_token_silent(SCOPES, account=account)
        assert result and "access_token" in result, result
        return str(result["access_token"])

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


@pytest.fixture
def tls(sandbox_reset: SandboxHandle) -> ssl.SSLContext:
    """A TLS context trusting only the sandbox's CA."""
    assert sandbox_reset.ca_file is not None
    return ssl.create_default_context(cafile=str(sandbox_reset.ca_file))


@pytest.fixture
def base(sandbox_reset: SandboxHandle) -> str:
    """The Microsoft sandbox's https listener (login.microsoftonline.com and graph.microsoft.com in one)."""
    return sandbox_reset.tls_base_url(PROVIDER)


@pytest.fixture
def msal_app(
    sandbox_reset: SandboxHandle, base: str, tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> msal.ConfidentialClientApplication:
    """MSAL signed in as `LOGIN` through the sandbox's discovery, authorize and token endpoints."""
    # MSAL hands `verify=` to a requests Session, and requests lets a REQUESTS_CA_BUNDLE in the
    # environment override a session's `verify`: point that variable at the bundle that includes the CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sandbox_reset.ca_bundle_file))
    with httpx.Client(verify=tls, timeout=10.0) as http:
        http.post(f"{base}/_sandbox/accounts", json={"login": LOGIN}).raise_for_status()
        app = msal.ConfidentialClientApplication(
            CLIENT["client_id"],
            client_credential=CLIENT["client_secret"],
            authority=f"{base}/common",
            instance_discovery=False,
            verify=str(sandbox_reset.ca_file),
        )
        flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI, login_hint=LOGIN)  # PKCE + nonce
        assert flow["auth_uri"].startswith(f"{base}/common/oauth2/v2.0/authorize?")
        approved = http.get(flow["auth_uri"])
    assert approved.status_code == 302, approved.text
    callback = dict(httpx.URL(approved.headers["location"]).params)
    assert callback["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, callback)  # checks state, the id token's nonce
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == LOGIN
    return app


def graph_client(
    base: str, app: msal.ConfidentialClientApplication, http_client: httpx.AsyncClient
) -> GraphServiceClient:
    """msgraph-sdk's client with its default middleware (and the SDK's own options, which turn its
    `/users/me-token-to-replace` paths into `/me`), on the sandbox's `/v1.0`."""
    client = GraphClientFactory.create_with_default_middleware(client=http_client, options=GRAPH_OPTIONS)
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(MsalTokenProvider(app)), client)
    adapter.base_url = f"{base}/v1.0"  # (httpx would add a trailing slash to a client base URL: `/v1.0//me`)
    return GraphServiceClient(request_adapter=adapter)


def test_msal_refuses_the_plain_http_listener_which_is_why_the_sandbox_also_serves_tls(
    sandbox_reset: SandboxHandle,
) -> None:
    with pytest.raises(ValueError, match="https"):
        msal.ConfidentialClientApplication(
            CLIENT["client_id"],
            client_credential=CLIENT["client_secret"],
            authority=sandbox_reset.base_url(PROVIDER) + "/common",
            instance_discovery=False,
        )


def test_msal_signs_in_and_refreshes_with_a_rotated_refresh_token(
    msal_app: msal.ConfidentialClientApplication, sandbox_reset: SandboxHandle
) -> None:
    account = msal_app.get_accounts()[0]
    state = sandbox_reset.state(PROVIDER)
    signed_up = state.account(LOGIN)
    assert signed_up is not None  # MSAL keys its cache by the home account the token's client_info names
    assert account["home_account_id"] == f"{signed_up.user_id}.{signed_up.account_id}"
    before = {secret.value for secret in state.issued_secrets(LOGIN) if secret.kind == "refresh_token"}

    refreshed = msal_app.acquire_token_silent(SCOPES, account=account, force_refresh=True)

    assert refreshed and "access_token" in refreshed, refreshed
    signed_in = state.authenticate(refreshed["access_token"])
    assert signed_in is not None and signed_in.login == LOGIN
    after = {secret.value for secret in state.issued_secrets(LOGIN) if secret.kind == "refresh_token"}
    assert len(after - before) == 1  # Microsoft rotates the refresh token on every redemption


def test_msgraph_sdk_runs_a_calendar_sync_scenario(
    msal_app: msal.ConfidentialClientApplication, base: str, tls: ssl.SSLContext
) -> None:
    asyncio.run(_scenario(base, msal_app, tls))


async def _scenario(base: str, app: msal.ConfidentialClientApplication, tls: ssl.SSLContext) -> None:
    async with httpx.AsyncClient(verify=tls, timeout=10.0) as http_client:
        client = graph_client(base, app, http_client)

        me = await client.me.get()
        assert me is not None and me.user_principal_name == LOGIN and me.mail == LOGIN
        calendars = await client.me.calendars.get()
        assert calendars is not None and calendars.value is not None
        assert [(c.name, c.is_default_calendar) for c in calendars.value] == [("Calendar", True)]

        created = []
        for day in (2, 3, 4):
            event = Event(
                subject=f"Interview {day}",
                body=ItemBody(content_type=BodyType.Text, content="Panel interview"),
                start=DateTimeTimeZone(date_time=f"2026-03-0{day}T09:00:00", time_zone="Pacific Standard Time"),
                end=DateTimeTimeZone(date_time=f"2026-03-0{day}T10:00:00", time_zone="Pacific Standard Time"),
                transaction_id=f"lineup-{day}",
            )
            posted = await client.me.events.post(event)
            assert posted is not None and posted.id and posted.change_key
            created.append(posted)
        assert created[0].start is not None and created[0].start.date_time == "2026-03-02T17:00:00.0000000"
        assert created[0].created_date_time is not None and created[0].created_date_time.tzinfo is not None

        listed = await client.me.events.get()
        assert listed is not None and listed.value is not None
        assert sorted(event.subject or "" for event in listed.value) == ["Interview 2", "Interview 3", "Interview 4"]

        seen, delta_link = await _delta_round(client, None)
        assert sorted(seen) == sorted(event.id for event in created)
        assert delta_link is not None and "$deltatoken=" in delta_link

        stale = RequestConfiguration()
        stale.headers.add("If-Match", f'W/"{created[0].change_key}"')
        await client.me.events.by_event_id(created[0].id).patch(Event(subject="Interview 2 (moved)"))
        with pytest.raises(ODataError) as refused:
            await client.me.events.by_event_id(created[0].id).patch(
                Event(subject="lost update"), request_configuration=stale
            )
        assert refused.value.response_status_code == 412
        assert refused.value.error is not None and refused.value.error.code == "ErrorIrresolvableConflict"

        await client.me.events.by_event_id(created[1].id).delete()
        changes, _ = await _delta_round(client, delta_link)
        assert changes == {created[0].id: "Interview 2 (moved)", created[1].id: "@removed"}

        request = GetSchedulePostRequestBody(
            schedules=[LOGIN],
            start_time=DateTimeTimeZone(date_time="2026-03-04T08:00:00", time_zone="Pacific Standard Time"),
            end_time=DateTimeTimeZone(date_time="2026-03-04T12:00:00", time_zone="Pacific Standard Time"),
            availability_view_interval=60,
        )
        schedule = await client.me.calendar.get_schedule.post(request)
        assert schedule is not None and schedule.value is not None
        assert [(info.schedule_id, info.availability_view) for info in schedule.value] == [(LOGIN, "0200")]


async def _delta_round(client: GraphServiceClient, delta_link: str | None) -> tuple[dict[str, str], str | None]:
    """One round of calendarView/delta in pages of 2: {id: subject, or "@removed"}, and the deltaLink."""
    config = RequestConfiguration(
        query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time="2026-03-01T00:00:00Z", end_date_time="2026-04-01T00:00:00Z"
        )
    )
    config.headers.add("Prefer", "odata.maxpagesize=2")
    builder = client.me.calendar_view.delta
    page = await (builder.with_url(delta_link).get() if delta_link else builder.get(request_configuration=config))
    seen: dict[str, str] = {}
    pages = 0
    while page is not None:
        pages += 1
        for event in page.value or []:
            assert event.id is not None
            removed = (event.additional_data or {}).get("@removed")
            seen[event.id] = "@removed" if removed else (event.subject or "")
        if page.odata_next_link:
            assert page.odata_delta_link is None
            page = await builder.with_url(page.odata_next_link).get(request_configuration=_paged())
            continue
        return seen, page.odata_delta_link
    raise AssertionError(f"delta ended without a deltaLink after {pages} pages")


def _paged() -> RequestConfiguration[Any]:
    config: RequestConfiguration[Any] = RequestConfiguration()
    config.headers.add("Prefer", "odata.maxpagesize=2")
    return config
