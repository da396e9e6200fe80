"""Microsoft identity platform v2 (Outlook / Microsoft 365 calendars): PKCE, `offline_access`.

The tenant segment of the endpoints (`common` for any work or personal account, or a directory
id/domain) comes from `OUTLOOK_TENANT`. The v2 token endpoint wants `scope` on code and refresh
grants; every refresh returns a new refresh token (the engine stores it). There is no revoke
endpoint, so disconnecting only forgets the grant. A dead grant is `invalid_grant` (AADSTS
70008, 50173, …), or `interaction_required` / `consent_required` when only the user can fix it.
The connected account is the `oid` (user) claim of the `id_token` that the `openid` scope
brings back (`profile` adds `preferred_username`), once the engine has verified it against the
tenant segment's keys (`/{tenant}/discovery/v2.0/keys`), audience (our client id) and issuer
(`{login host}/{tid}/v2.0`, the token's own directory).

With a base URL (the sandbox; `OUTLOOK_BASE_URL`), it stands in for login.microsoftonline.com and
graph.microsoft.com.
"""

from __future__ import annotations

import os

from lineup_integrations.core.oauth import OAuthProviderConfig, id_token_claim
from lineup_integrations.core.settings import ProviderSettings

PROVIDER = "outlook_calendar"
# `openid` makes Microsoft return the id_token that names the account; `profile` its username.
SCOPES = ("offline_access", "User.Read", "Calendars.ReadWrite", "openid", "profile")
REAL_LOGIN_HOST = "https://login.microsoftonline.com"
REAL_GRAPH_HOST = "https://graph.microsoft.com"
DEFAULT_TENANT = "common"


account_object_id = id_token_claim("oid")


def oauth_config(client: ProviderSettings) -> OAuthProviderConfig:
    """Microsoft's OAuth config: the client registration, Microsoft's hosts or the `base_url`
    standing in for them, and the tenant segment from `OUTLOOK_TENANT`."""
    base = client.base_url
    tenant = (os.environ.get("OUTLOOK_TENANT") or DEFAULT_TENANT).strip()
    login_host = base or REAL_LOGIN_HOST
    endpoints = f"{login_host}/{tenant}/oauth2/v2.0"
    return OAuthProviderConfig(
        name=PROVIDER,
        authorize_url=f"{endpoints}/authorize",
        token_url=f"{endpoints}/token",
        revoke_url=None,
        scopes=SCOPES,
        use_pkce=True,
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=client.redirect_uri,
        api_base_url=base or REAL_GRAPH_HOST,
        scopes_on_token_requests=True,
        reauthorization_errors=frozenset({"invalid_grant", "interaction_required", "consent_required"}),
        account_id=account_object_id,
        id_token_jwks_url=f"{login_host}/{tenant}/discovery/v2.0/keys",
        id_token_issuers=(f"{login_host}/{{tid}}/v2.0",),
    )
