"""The fake provider's OAuth client: its real hosts, or the base URL standing in for them (its sandbox)."""

from __future__ import annotations

from lineup_integrations.core.oauth import OAuthProviderConfig
from lineup_integrations.core.settings import ProviderSettings

REAL_HOST = "https://accounts.fake-crm.example"


def oauth_config(client: ProviderSettings) -> OAuthProviderConfig:
    host = client.base_url or REAL_HOST
    return OAuthProviderConfig(
        name="fake_crm",
        authorize_url=f"{host}/oauth/authorize",
        token_url=f"{host}/oauth/token",
        scopes=("contacts.read",),
        use_pkce=True,
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=client.redirect_uri,
        api_base_url=host,
    )
