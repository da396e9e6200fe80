"""The provider-agnostic OAuth engine (authorization code + PKCE, refresh under a lease, revoke).

Framework-free: the gateway and the Dagster resources both drive it. Providers contribute an
`OAuthProviderConfig` from their own `oauth.py`.
"""

from lineup_integrations.core.oauth.config import (
    GrantedAccess,
    OAuthProviderConfig,
    TokenEndpoint,
    configured_providers,
    id_token_claim,
)
from lineup_integrations.core.oauth.engine import REFRESH_MARGIN, OAuthEngine
from lineup_integrations.core.oauth.errors import (
    AuthorizationDeniedError,
    IntegrationNotFoundError,
    InvalidAuthorizationCodeError,
    InvalidStateError,
    OAuthConfigError,
    OAuthError,
    ReauthorizationRequiredError,
    TokenExchangeError,
    TokenRefreshError,
    UntrustedAccountsServerError,
)
from lineup_integrations.core.oauth.state import STATE_TTL
from lineup_integrations.core.oauth.tokens import AccessToken, JwksCache

__all__ = [
    "REFRESH_MARGIN",
    "STATE_TTL",
    "AccessToken",
    "AuthorizationDeniedError",
    "GrantedAccess",
    "IntegrationNotFoundError",
    "InvalidAuthorizationCodeError",
    "InvalidStateError",
    "JwksCache",
    "OAuthConfigError",
    "OAuthEngine",
    "OAuthError",
    "OAuthProviderConfig",
    "ReauthorizationRequiredError",
    "TokenEndpoint",
    "TokenExchangeError",
    "TokenRefreshError",
    "UntrustedAccountsServerError",
    "configured_providers",
    "id_token_claim",
]
