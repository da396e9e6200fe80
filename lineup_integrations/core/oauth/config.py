"""What a provider contributes to the OAuth engine: endpoints, scopes, client registration and hooks.

The engine is provider-agnostic; everything that differs between Zoho, Google and Microsoft is a
value or a hook of `OAuthProviderConfig`, built by each provider's `oauth.py`
(`oauth_config(provider_settings)`). The hooks exist for the two things that are not just URLs:
- where token calls go can depend on the tenant (Zoho: one accounts server per data centre,
  named by the callback and validated against a fixed table), and
- the provider's id of the connected account comes from a provider-specific place (Zoho's org
  endpoint, an OpenID Connect claim).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from lineup_integrations.core.provider import Providers
from lineup_integrations.core.settings import Settings


@dataclass(frozen=True)
class TokenEndpoint:
    """Where one integration's token and revoke calls go.

    Fixed per provider, except at Zoho where it is the accounts server of the tenant's data
    centre; `region` and `accounts_server` are then stored on the integration.
    """

    token_url: str
    revoke_url: str | None
    region: str | None = None
    accounts_server: str | None = None


@dataclass(frozen=True)
class GrantedAccess:
    """What the account-id hook gets right after the code exchange (the access token stays out of reprs)."""

    access_token: str = field(repr=False)
    api_domain: str | None
    id_token_claims: Mapping[str, Any]


CallbackEndpointHook = Callable[[Mapping[str, str]], TokenEndpoint]
RegionEndpointHook = Callable[[str | None], TokenEndpoint]
AccountIdHook = Callable[[httpx.Client, GrantedAccess], str | None]


def id_token_claim(claim: str) -> AccountIdHook:
    """An `account_id` hook naming the account by a string claim of the OpenID Connect id_token
    (Google's `email`, Microsoft's `oid`); None when the claim is missing or empty."""

    def account_id(_http: httpx.Client, granted: GrantedAccess) -> str | None:
        value = granted.id_token_claims.get(claim)
        return value if isinstance(value, str) and value else None

    return account_id


class OAuthProviderConfig(BaseModel):
    """One provider's OAuth client, as the engine needs it.

    - `scope_separator`: Zoho joins scopes with commas, the others with spaces.
    - `scopes_on_token_requests`: Microsoft's v2 token endpoint wants `scope` on code and refresh
      grants; the others take it only on the authorize step.
    - `reauthorization_errors`: token-endpoint error codes meaning "the grant is gone" (the
      integration then needs the tenant to reconnect); every other failure is retryable.
    - `invalid_code_errors`: code-exchange error codes meaning "this authorization code is not
      valid" (unknown, expired, already used): the callback is then a bad request, not a provider
      failure. Zoho answers `invalid_code`, Google and Microsoft `invalid_grant`.
    - `api_base_url`: where API calls go when the token response names no `api_domain`.
    - `callback_endpoint` / `region_endpoint`: choose the token endpoint from the callback's
      parameters (may raise `UntrustedAccountsServerError`) / from the stored region; without
      them every call goes to `token_url` / `revoke_url`.
    - `account_id`: fetch the provider's id of the connected account (best effort: None is fine).
    - `id_token_jwks_url` / `id_token_issuers`: where the provider publishes the keys that sign its
      OpenID Connect `id_token`, and the issuers it may name (`{tid}` stands for the token's own
      `tid` claim: Microsoft's multi-tenant issuer). With a JWKS URL the engine verifies the
      id_token's signature (RS256), `aud` (= `client_id`), expiry and `iss` before the account-id
      hook sees any claim; without one the claims are only decoded.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    scopes: tuple[str, ...]
    scope_separator: str = " "
    extra_authorize_params: Mapping[str, str] = {}
    use_pkce: bool
    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    api_base_url: str | None = None
    scopes_on_token_requests: bool = False
    reauthorization_errors: frozenset[str] = frozenset({"invalid_grant"})
    invalid_code_errors: frozenset[str] = frozenset({"invalid_grant", "invalid_code"})
    callback_endpoint: CallbackEndpointHook | None = None
    region_endpoint: RegionEndpointHook | None = None
    account_id: AccountIdHook | None = None
    id_token_jwks_url: str | None = None
    id_token_issuers: tuple[str, ...] = ()

    @property
    def scope(self) -> str:
        return self.scope_separator.join(self.scopes)

    def endpoint_for_callback(self, params: Mapping[str, str]) -> TokenEndpoint:
        if self.callback_endpoint is not None:
            return self.callback_endpoint(params)
        return TokenEndpoint(token_url=self.token_url, revoke_url=self.revoke_url)

    def endpoint_for_region(self, region: str | None) -> TokenEndpoint:
        if self.region_endpoint is not None:
            return self.region_endpoint(region)
        return TokenEndpoint(token_url=self.token_url, revoke_url=self.revoke_url)


def configured_providers(providers: Providers, settings: Settings) -> dict[str, OAuthProviderConfig]:
    """The OAuth config of each of `providers` that `settings` enables."""
    return {p.name: p.oauth_config(settings.providers[p.name]) for p in providers if p.name in settings.providers}
