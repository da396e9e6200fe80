"""Google OAuth 2.0 for web-server apps: offline access with forced consent, PKCE, calendar scopes.

`access_type=offline` + `prompt=consent` make Google return a refresh token on every consent
(otherwise only the first one gets it); `include_granted_scopes=true` keeps scopes granted
earlier. Refresh tokens do not rotate; a dead one is `invalid_grant`. The connected account is
labelled by the `email` claim of the `id_token` Google returns for the `openid email` scopes,
once the engine has verified it against Google's keys (`/oauth2/v3/certs`), audience (our
client id) and issuer.

With a base URL (the sandbox; `GOOGLE_BASE_URL`), it stands in for accounts.google.com,
oauth2.googleapis.com and www.googleapis.com alike.
"""

from __future__ import annotations

from lineup_integrations.core.oauth import OAuthProviderConfig, id_token_claim
from lineup_integrations.core.settings import ProviderSettings

PROVIDER = "google_calendar"
SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
    "openid",
    "email",
)
REAL_AUTHORIZE_HOST = "https://accounts.google.com"
REAL_TOKEN_HOST = "https://oauth2.googleapis.com"
REAL_API_HOST = "https://www.googleapis.com"
REAL_ISSUERS = ("https://accounts.google.com", "accounts.google.com")  # Google uses both spellings
JWKS_PATH = "/oauth2/v3/certs"


account_email = id_token_claim("email")


def oauth_config(client: ProviderSettings) -> OAuthProviderConfig:
    """Google's OAuth config: the client registration, and Google's hosts or the `base_url` standing in for them."""
    base = client.base_url
    token_host = base or REAL_TOKEN_HOST
    return OAuthProviderConfig(
        name=PROVIDER,
        authorize_url=f"{base or REAL_AUTHORIZE_HOST}/o/oauth2/v2/auth",
        token_url=f"{token_host}/token",
        revoke_url=f"{token_host}/revoke",
        scopes=SCOPES,
        extra_authorize_params={"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"},
        use_pkce=True,
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=client.redirect_uri,
        api_base_url=base or REAL_API_HOST,
        account_id=account_email,
        id_token_jwks_url=f"{base or REAL_API_HOST}{JWKS_PATH}",
        id_token_issuers=(base,) if base else REAL_ISSUERS,
    )
