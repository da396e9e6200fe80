"""Zoho Accounts OAuth: multi data centre, offline access, org id lookup.

Zoho keeps each organisation in one data centre (US, EU, IN, AU, JP, CA, CN, SA), each with its
own accounts server and API domain. The authorize request always goes to the US accounts server;
its redirect names the user's data centre (`location`) and accounts server (`accounts-server`),
where the code must be redeemed and every later refresh and revoke must go. That parameter comes
through the user's browser, so it is only followed when it is one of the known accounts servers:
anything else would receive our client secret. The token response's `api_domain` says where the
tenant's API calls go. Zoho answers token errors with HTTP 200 and an `error` field (handled by
the engine's protocol layer), and reports a dead refresh token as `invalid_code`.

With a base URL (the sandbox; `ZOHO_BASE_URL`), US is that base and every other data centre is `{base}/{dc}`,
for both the accounts server and the API domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from lineup_integrations.core.oauth import (
    GrantedAccess,
    OAuthConfigError,
    OAuthProviderConfig,
    TokenEndpoint,
    UntrustedAccountsServerError,
)
from lineup_integrations.core.settings import ProviderSettings

PROVIDER = "zoho"
US = "us"
SCOPES = ("ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL", "ZohoCRM.org.READ", "ZohoCRM.notifications.ALL")
API_VERSION = "v8"


@dataclass(frozen=True)
class DataCentre:
    accounts_server: str
    api_domain: str


REAL_DATA_CENTRES: dict[str, DataCentre] = {
    "us": DataCentre("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": DataCentre("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": DataCentre("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "au": DataCentre("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": DataCentre("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "ca": DataCentre("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "cn": DataCentre("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "sa": DataCentre("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
}


def data_centres(base_url: str | None) -> dict[str, DataCentre]:
    """The real table, or the sandbox's layout of it under `base_url`."""
    if base_url is None:
        return dict(REAL_DATA_CENTRES)
    table = {}
    for dc in REAL_DATA_CENTRES:
        url = base_url if dc == US else f"{base_url}/{dc}"
        table[dc] = DataCentre(accounts_server=url, api_domain=url)
    return table


class ZohoDataCentres:
    """Chooses the accounts server of a tenant, from the callback or from the stored region."""

    def __init__(self, table: Mapping[str, DataCentre]) -> None:
        self.table = dict(table)
        self._by_accounts_server = {_normalise(dc.accounts_server): name for name, dc in self.table.items()}

    def for_callback(self, params: Mapping[str, str]) -> TokenEndpoint:
        """The data centre the callback names, refusing one outside the table.

        `accounts-server` decides, and `location`, when also present, must agree with it; a
        callback naming neither came from a US-only client, so US it is.
        """
        accounts_server, location = params.get("accounts-server"), params.get("location")
        if accounts_server is not None:
            region = self._by_accounts_server.get(_normalise(accounts_server))
            if region is None or (location is not None and location.lower() != region):
                raise UntrustedAccountsServerError(provider=PROVIDER)
        elif location is not None:
            region = location.lower()
            if region not in self.table:
                raise UntrustedAccountsServerError(provider=PROVIDER)
        else:
            region = US
        return self.for_region(region)

    def for_region(self, region: str | None) -> TokenEndpoint:
        name = region or US
        try:
            accounts_server = self.table[name].accounts_server
        except KeyError:
            raise OAuthConfigError(f"unknown Zoho data centre {name!r}") from None
        return TokenEndpoint(
            token_url=f"{accounts_server}/oauth/v2/token",
            revoke_url=f"{accounts_server}/oauth/v2/token/revoke",
            region=name,
            accounts_server=accounts_server,
        )


def fetch_org_id(http: httpx.Client, granted: GrantedAccess) -> str | None:
    """The organisation id (`GET {api_domain}/crm/v8/org` → `org[0].id`), which webhooks are routed by."""
    if not granted.api_domain:
        return None
    response = http.get(
        f"{granted.api_domain}/crm/{API_VERSION}/org",
        headers={"Authorization": f"Zoho-oauthtoken {granted.access_token}"},
    )
    response.raise_for_status()
    org_id = response.json()["org"][0]["id"]
    return str(org_id)


def oauth_config(client: ProviderSettings) -> OAuthProviderConfig:
    """Zoho's OAuth config: the client registration, and the real data centres or, with a
    `base_url`, the sandbox's layout of them."""
    centres = ZohoDataCentres(data_centres(client.base_url))
    us = centres.for_region(US)
    return OAuthProviderConfig(
        name=PROVIDER,
        authorize_url=f"{centres.table[US].accounts_server}/oauth/v2/auth",
        token_url=us.token_url,
        revoke_url=us.revoke_url,
        scopes=SCOPES,
        scope_separator=",",
        extra_authorize_params={"access_type": "offline", "prompt": "consent"},
        use_pkce=False,
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=client.redirect_uri,
        api_base_url=centres.table[US].api_domain,
        reauthorization_errors=frozenset({"invalid_code", "invalid_grant"}),
        callback_endpoint=centres.for_callback,
        region_endpoint=centres.for_region,
        account_id=fetch_org_id,
    )


def _normalise(url: str) -> str:
    return url.strip().rstrip("/").lower()
