"""Zoho's own Python SDK (`zohocrmsdk8_0`) against the sandbox: the strictest client we can get.

The SDK takes a custom `DataCenter.Environment(api_url, token_url, upload_url)`, so it talks to
the sandbox exactly as to zohoapis.com: after a grant or a refresh it asks
`GET /crm/v8/users?type=CurrentUser` and `/org` (to name the token), and before reading records it
reads `settings/fields` of Contacts and of the modules their lookups point at (Accounts), then
parses every answer into its typed models. A shape the sandbox got wrong fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
from zohocrmsdk.src.com.zoho.crm.api import HeaderMap, ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.record import GetRecordsParam, RecordOperations, ResponseWrapper
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig

from lineup_integrations.sandbox import SandboxHandle

REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback"
LOGIN = "admin@acme.example"
SCOPES = "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ"


def grant_code(zoho: str) -> str:
    """The browser's part: the user consents and the sandbox redirects back with a code."""
    authorize = httpx.get(f"{zoho}/oauth/v2/auth", params={
        "client_id": "sandbox-zoho-client", "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": SCOPES,
        "access_type": "offline", "prompt": "consent", "login_hint": LOGIN,
    })  # fmt: skip
    assert authorize.status_code == 302, authorize.text
    return httpx.URL(authorize.headers["location"]).params["code"]


def initialize(zoho: str, token: OAuthToken, workdir: Path) -> FileStore:
    """Point the SDK at the sandbox (API and accounts server on one port), with its own token
    file and field-metadata cache."""
    workdir.mkdir()
    store = FileStore(str(workdir / "tokens.csv"))
    environment = DataCenter.Environment(zoho, f"{zoho}/oauth/v2/token", zoho)
    Initializer.initialize(
        environment=environment, token=token, store=store, resource_path=str(workdir),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=True),
    )  # fmt: skip
    return store


def read_contacts() -> list[Any]:
    params = ParameterMap()
    params.add(GetRecordsParam.fields, "Email,Last_Name,Account_Name")
    response = RecordOperations("Contacts").get_records(params, HeaderMap())
    assert response.get_status_code() == 200
    wrapper = response.get_object()
    assert isinstance(wrapper, ResponseWrapper), vars(wrapper)
    return wrapper.get_data()


def test_the_official_sdk_grants_refreshes_and_reads_contacts(sandbox_reset: SandboxHandle, tmp_path: Path) -> None:
    zoho, state = sandbox_reset.base_url("zoho"), sandbox_reset.state("zoho")
    org_id = httpx.post(f"{zoho}/_sandbox/accounts", json={"login": LOGIN}).json()["account_id"]
    httpx.post(f"{zoho}/_sandbox/crm/orgs/{org_id}/seed", json={"count": 7, "seed": 3}).raise_for_status()
    truth = httpx.get(f"{zoho}/_sandbox/crm/orgs/{org_id}/truth", params={"fields": "Email"}).json()["contacts"]

    # A grant token, as a web app gets it from the redirect.
    grant = OAuthToken(
        client_id="sandbox-zoho-client", client_secret="sandbox-zoho-secret", grant_token=grant_code(zoho),
        redirect_url=REDIRECT_URI,
    )  # fmt: skip
    store = initialize(zoho, grant, tmp_path / "grant")
    records = read_contacts()
    assert sorted(record.get_key_value("Email") for record in records) == sorted(c["Email"] for c in truth)
    linked = [record.get_key_value("Account_Name") for record in records if record.get_key_value("Account_Name")]
    assert linked and all(account.get_id() and account.get_key_value("name") for account in linked)
    (saved,) = store.get_tokens()
    assert saved.get_user_signature().get_name().startswith(LOGIN)  # read from CurrentUser's `email`
    assert saved.get_access_token() and saved.get_refresh_token()
    assert state.requests.by_endpoint(endpoint="GET /crm/*") == {
        "GET /crm/v8/users": 1, "GET /crm/v8/org": 1, "GET /crm/v8/settings/fields": 2, "GET /crm/v8/Contacts": 1,
    }  # fmt: skip

    # A later process starts from the stored refresh token alone: the SDK refreshes, names the
    # token again through CurrentUser, and reads with the new access token.
    refreshed = OAuthToken(
        client_id="sandbox-zoho-client", client_secret="sandbox-zoho-secret",
        refresh_token=saved.get_refresh_token(),
    )  # fmt: skip
    store = initialize(zoho, refreshed, tmp_path / "refresh")
    assert len(read_contacts()) == len(truth)
    (renewed,) = store.get_tokens()
    assert renewed.get_access_token() != saved.get_access_token()
    assert state.authenticate(renewed.get_access_token()) is not None
    assert state.stats()["token_requests_by_grant"] == {"authorization_code": 1, "refresh_token": 1}
    assert state.requests.count(endpoint="GET /crm/v8/users") == 2
    assert state.requests.count(login=LOGIN, endpoint="GET /crm/v8/Contacts") == 2
