"""The OAuth engine: connect, callback, refresh and disconnect for every provider, one code path.

Its contract with the rest of the system:
- `begin` → the authorize URL; `complete` → a `connected` integration with sealed tokens.
- `refresh_if_expiring` → a usable access token. Refreshes happen under a per-integration lock
  (PostgreSQL `SELECT … FOR UPDATE` on the credentials row, SQLite `BEGIN IMMEDIATE`) with a
  re-read after taking it, so any number of concurrent callers cause one token request and a
  rotated refresh token is never sent twice. A dead grant marks the integration `needs_reauth`
  and raises `ReauthorizationRequiredError` (never retry it); other failures raise the retryable
  `TokenRefreshError`.
- `disconnect` → revoked at the provider when it can be, credentials deleted, `disconnected`.
Every step is audited (`connect`, `callback`, `refresh`, `disconnect`), with details that never
hold a secret — except a callback with an invalid `state`, which names no tenant we can trust and
writes nothing (it is logged instead). Tokens are sealed by the vault, bound to their integration and purpose.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from lineup_integrations.core.http import shared_pool
from lineup_integrations.core.oauth.config import GrantedAccess, OAuthProviderConfig, TokenEndpoint
from lineup_integrations.core.oauth.errors import (
    AuthorizationDeniedError,
    IntegrationNotFoundError,
    InvalidStateError,
    OAuthError,
    ReauthorizationRequiredError,
    TokenExchangeError,
    TokenRefreshError,
)
from lineup_integrations.core.oauth.protocol import OAuthProtocol, TokenEndpointFailure, new_code_verifier
from lineup_integrations.core.oauth.state import (
    PendingAuthorization,
    consume_state,
    hash_state,
    new_state,
    save_state,
    verifier_context,
)
from lineup_integrations.core.oauth.tokens import AccessToken, TokenResponse
from lineup_integrations.core.store import Credential, Integration, IntegrationStatus, Store, audit, upsert, utcnow
from lineup_integrations.core.store.models import new_integration_id
from lineup_integrations.core.vault import Vault
from lineup_integrations.core.provider import UnknownProviderError

logger = logging.getLogger(__name__)

REFRESH_MARGIN = dt.timedelta(minutes=5)
HTTP_POOL_NAME = "oauth"
JWKS_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
REFRESH_ACTOR = "oauth-engine"

# Decides, under the lock and with the current access token opened, whether to refresh after all.
RefreshDecision = Callable[[Credential, str], bool]


@dataclass(frozen=True)
class Revocation:
    """What revoking at the provider came to: `revoked`, `failed` (with the error code),
    `unsupported` (no revoke endpoint, e.g. Microsoft) or `no_credentials`."""

    outcome: str
    error: str | None = None


def access_token_context(integration_id: str) -> str:
    return f"{integration_id}:access_token"


def refresh_token_context(integration_id: str) -> str:
    return f"{integration_id}:refresh_token"


class OAuthEngine:
    """Provider-agnostic OAuth for all tenants; thread-safe (state lives in the store, not here).

    `http` is the pooled client every provider call goes through (default: the process-wide
    pool's `oauth` client).
    """

    def __init__(
        self,
        store: Store,
        vault: Vault,
        providers: Mapping[str, OAuthProviderConfig],
        http: httpx.Client | None = None,
    ) -> None:
        self.store = store
        self.vault = vault
        self.providers = dict(providers)
        self.http = http if http is not None else shared_pool().client(HTTP_POOL_NAME)

    # -- connect -----------------------------------------------------------------------------------

    def begin(self, tenant_id: str, provider: str, *, actor: str, login_hint: str | None = None) -> str:
        """Start an authorization: returns the provider's authorize URL for the user's browser."""
        config = self._config(provider)
        state = new_state()
        state_hash = hash_state(state)
        code_verifier = new_code_verifier() if config.use_pkce else None
        sealed_verifier = (
            self.vault.seal(code_verifier, context=verifier_context(state_hash)) if code_verifier else None
        )
        with self.store.session() as session:
            save_state(
                session,
                state_hash=state_hash,
                tenant_id=tenant_id,
                provider=provider,
                redirect_uri=config.redirect_uri,
                sealed_code_verifier=sealed_verifier,
                actor=actor,
                now=utcnow(),
            )
            audit(
                session, tenant_id=tenant_id, provider=provider, action="connect", actor=actor,
                detail={"pkce": config.use_pkce},
            )
        return self._protocol(config).authorization_url(state=state, code_verifier=code_verifier, login_hint=login_hint)

    def complete(self, provider: str, params: Mapping[str, str], *, actor: str = "oauth-callback") -> Integration:
        """Finish an authorization from the callback's query parameters; returns the connected integration.

        The state is spent first (whatever happens next, it cannot be used again); nothing is
        written to integrations or credentials unless the whole exchange succeeds. An invalid
        state (unknown, tampered, expired, used, or issued for another provider) writes nothing
        at all and is logged as a warning; a failure that comes with a valid state (consent
        denied, code refused) is audited as a `callback` failure of the state's tenant.
        """
        config = self._config(provider)
        try:
            with self.store.session() as session:
                pending = consume_state(session, params.get("state"), provider=provider, now=utcnow())
        except InvalidStateError as error:
            # Anyone can send a callback: a refused state writes nothing (no audit row either, so
            # forged callbacks cannot fill the store), it is only logged — reason and provider,
            # never the state or the code.
            logger.warning(
                "%s: OAuth callback refused, invalid state (%s)%s",
                provider, error.reason, f" issued to tenant {error.tenant_id}" if error.tenant_id else "",
            )
            raise
        try:
            endpoint, tokens = self._exchange_code(config, pending, params)
        except OAuthError as error:
            detail = {"reason": error.code, **_error_detail(error)}
            self._audit_failure(pending.tenant_id, provider, "callback", actor, detail)
            raise
        api_domain = tokens.api_domain or config.api_base_url
        account_id = self._account_id(config, tokens, api_domain)
        return self._save_connection(pending.tenant_id, config, endpoint, tokens, api_domain, account_id, actor)

    def _exchange_code(
        self, config: OAuthProviderConfig, pending: PendingAuthorization, params: Mapping[str, str]
    ) -> tuple[TokenEndpoint, TokenResponse]:
        if params.get("error"):
            raise AuthorizationDeniedError(params["error"], provider=config.name)
        code = params.get("code")
        if not code:
            raise TokenExchangeError("missing_code", provider=config.name)
        endpoint = config.endpoint_for_callback(params)
        code_verifier = (
            self.vault.open(pending.sealed_code_verifier, context=verifier_context(pending.state_hash))
            if pending.sealed_code_verifier
            else None
        )
        try:
            tokens = self._protocol(config).exchange_code(
                endpoint, code=code, redirect_uri=pending.redirect_uri, code_verifier=code_verifier
            )
        except TokenEndpointFailure as failure:
            raise TokenExchangeError(failure.error, provider=config.name) from None
        return endpoint, tokens

    def _account_id(self, config: OAuthProviderConfig, tokens: TokenResponse, api_domain: str | None) -> str | None:
        """The provider's id of the connected account, best effort: a failed lookup leaves it None
        rather than wasting the user's consent (the grant itself is good)."""
        if config.account_id is None:
            return None
        granted = GrantedAccess(
            access_token=tokens.access_token.get_secret_value(),
            api_domain=api_domain,
            id_token_claims=self._id_token_claims(config, tokens),
        )
        try:
            return config.account_id(self.http, granted)
        except (httpx.HTTPError, ValueError, LookupError, TypeError) as error:
            logger.warning(
                "%s: account id lookup failed (%s); connecting without it", config.name, type(error).__name__
            )
            return None

    def _id_token_claims(self, config: OAuthProviderConfig, tokens: TokenResponse) -> dict[str, Any]:
        """The id_token's claims, verified against the provider's published keys when it has them
        (fetched through the engine's client from the configured, sandbox-overridable URL). A token
        that fails verification contributes no claims: the account id is then left None."""
        if tokens.id_token is None:
            return {}
        if config.id_token_jwks_url is None:
            return tokens.id_token_claims()
        try:
            response = self.http.get(config.id_token_jwks_url, timeout=JWKS_TIMEOUT)
            response.raise_for_status()
            jwks = response.json()
            if not isinstance(jwks, dict):
                raise ValueError("the key set is not a JSON object")
            return tokens.verified_id_token_claims(jwks, audience=config.client_id, issuers=config.id_token_issuers)
        except (httpx.HTTPError, ValueError, LookupError, jwt.PyJWTError) as error:
            logger.warning(
                "%s: id_token verification failed (%s); connecting without its claims", config.name, type(error).__name__
            )
            return {}

    def _save_connection(
        self,
        tenant_id: str,
        config: OAuthProviderConfig,
        endpoint: TokenEndpoint,
        tokens: TokenResponse,
        api_domain: str | None,
        account_id: str | None,
        actor: str,
    ) -> Integration:
        now = utcnow()
        with self.store.session() as session:
            upsert(
                session,
                Integration,
                [
                    {
                        "id": new_integration_id(),
                        "tenant_id": tenant_id,
                        "provider": config.name,
                        "status": IntegrationStatus.CONNECTED.value,
                        "external_account_id": account_id,
                        "region": endpoint.region,
                        "accounts_server": endpoint.accounts_server,
                        "api_domain": api_domain,
                        "scopes": tokens.granted_scopes(config.scopes),
                        "status_reason": None,
                        "created_at": now,
                        "updated_at": now,
                        "connected_at": now,
                    }
                ],
                key=["tenant_id", "provider"],
                update=[
                    "status", "external_account_id", "region", "accounts_server", "api_domain", "scopes",
                    "status_reason", "updated_at", "connected_at",
                ],
            )
            integration = session.scalars(
                select(Integration).where(Integration.tenant_id == tenant_id, Integration.provider == config.name)
            ).one()
            refresh_token = tokens.refresh_token.get_secret_value() if tokens.refresh_token else None
            upsert(
                session,
                Credential,
                [
                    {
                        "integration_id": integration.id,
                        **self._sealed_tokens(integration.id, tokens.access_token.get_secret_value(), refresh_token),
                        "token_type": tokens.token_type,
                        "expires_at": tokens.expires_at(now),
                        "refreshed_at": None,
                        "updated_at": now,
                    }
                ],
                key=["integration_id"],
                update=[
                    "access_token", "refresh_token", "key_id", "token_type", "expires_at", "refreshed_at", "updated_at",
                ],
            )
            audit(
                session, tenant_id=tenant_id, provider=config.name, action="callback", actor=actor,
                detail={
                    "integration_id": integration.id, "region": endpoint.region, "offline": refresh_token is not None
                },
            )
        logger.info("%s connected for tenant %s (integration %s)", config.name, tenant_id, integration.id)
        return integration

    # -- refresh -----------------------------------------------------------------------------------

    def refresh_if_expiring(self, integration_id: str, *, margin: dt.timedelta = REFRESH_MARGIN) -> AccessToken:
        """A usable access token: the stored one, or a new one if it expires within `margin`."""
        current = self._stored_access_token(integration_id)
        if current is not None and not current.expires_within(margin):
            return current
        return self._refresh_locked(
            integration_id, lambda credential, _value: credential.expires_at - utcnow() <= margin
        )

    def token_holder(self, integration_id: str, *, margin: dt.timedelta = REFRESH_MARGIN) -> TokenHolder:
        """The integration's access token for a run's many requests (see `TokenHolder`)."""
        return TokenHolder(self, integration_id, margin=margin)

    def force_refresh(self, integration_id: str, *, stale_access_token: str) -> AccessToken:
        """After a 401 mid-run: refresh, unless another caller already replaced `stale_access_token`."""
        return self._refresh_locked(
            integration_id,
            lambda _credential, value: hmac.compare_digest(value.encode(), stale_access_token.encode()),
        )

    def _stored_access_token(self, integration_id: str) -> AccessToken | None:
        with self.store.session() as session:
            row = session.execute(
                select(Credential, Integration)
                .join(Integration, Integration.id == Credential.integration_id)
                .where(Credential.integration_id == integration_id)
            ).one_or_none()
            if row is None or row.Integration.status != IntegrationStatus.CONNECTED.value:
                return None
            return self._access_token(row.Credential, row.Integration)

    def _refresh_locked(self, integration_id: str, should_refresh: RefreshDecision) -> AccessToken:
        failure: OAuthError
        with self.store.locked_session() as session:
            row = session.execute(
                select(Credential, Integration)
                .join(Integration, Integration.id == Credential.integration_id)
                .where(Credential.integration_id == integration_id)
                .with_for_update(of=Credential)
            ).one_or_none()
            if row is None:
                raise IntegrationNotFoundError(f"integration {integration_id} has no credentials")
            credential, integration = row.Credential, row.Integration
            config = self._config(integration.provider)
            if integration.status == IntegrationStatus.NEEDS_REAUTH.value:
                raise ReauthorizationRequiredError("needs_reauth", provider=integration.provider)
            current = self._access_token(credential, integration)
            if not should_refresh(credential, current.value):
                return current  # another caller refreshed while we waited for the lock
            try:
                return self._refresh(session, config, credential, integration)
            except OAuthError as error:
                failure = error  # raised once the transaction holding the audit entry has committed
        raise failure

    def _refresh(
        self, session: Session, config: OAuthProviderConfig, credential: Credential, integration: Integration
    ) -> AccessToken:
        if credential.refresh_token is None:
            self._mark_needs_reauth(session, integration, "no_refresh_token")
            raise ReauthorizationRequiredError("no_refresh_token", provider=config.name)
        refresh_token = self.vault.open(credential.refresh_token, context=refresh_token_context(integration.id))
        endpoint = config.endpoint_for_region(integration.region)
        try:
            tokens = self._protocol(config).refresh(endpoint, refresh_token=refresh_token)
        except TokenEndpointFailure as failure:
            if failure.error in config.reauthorization_errors:
                self._mark_needs_reauth(session, integration, failure.error)
                raise ReauthorizationRequiredError(failure.error, provider=config.name) from None
            _audit_refresh(session, integration, outcome="failure", error=failure.error, retryable=True)
            logger.warning("%s: refresh failed for integration %s (%s)", config.name, integration.id, failure.error)
            raise TokenRefreshError(failure.error, provider=config.name) from None
        now = utcnow()
        new_refresh_token = tokens.refresh_token.get_secret_value() if tokens.refresh_token else refresh_token
        rotated = not hmac.compare_digest(new_refresh_token.encode(), refresh_token.encode())
        sealed = self._sealed_tokens(integration.id, tokens.access_token.get_secret_value(), new_refresh_token)
        credential.access_token = sealed["access_token"]
        credential.refresh_token = sealed["refresh_token"]
        credential.key_id = sealed["key_id"]
        credential.token_type = tokens.token_type
        credential.expires_at = tokens.expires_at(now)
        credential.refreshed_at = now
        if tokens.api_domain:
            integration.api_domain = tokens.api_domain
        _audit_refresh(session, integration, rotated=rotated, expires_at=credential.expires_at.isoformat())
        return self._access_token(credential, integration)

    def _mark_needs_reauth(self, session: Session, integration: Integration, error: str) -> None:
        integration.status = IntegrationStatus.NEEDS_REAUTH.value
        integration.status_reason = f"the provider refused the refresh token ({error}); the tenant must reconnect"
        _audit_refresh(session, integration, outcome="failure", error=error, status=integration.status)
        logger.warning("%s: integration %s needs reauthorization (%s)", integration.provider, integration.id, error)

    # -- disconnect --------------------------------------------------------------------------------

    def disconnect(self, tenant_id: str, provider: str, *, actor: str) -> None:
        """Revoke the grant at the provider (best effort), delete the credentials, mark `disconnected`."""
        config = self._config(provider)
        with self.store.locked_session() as session:
            integration = session.scalars(
                select(Integration)
                .where(Integration.tenant_id == tenant_id, Integration.provider == provider)
                .with_for_update()
            ).one_or_none()
            if integration is None:
                raise IntegrationNotFoundError(f"tenant has no {provider} integration", provider=provider)
            credential = session.scalars(
                select(Credential).where(Credential.integration_id == integration.id).with_for_update()
            ).one_or_none()
            revocation = self._revoke(config, integration, credential)
            if credential is not None:
                session.delete(credential)
            integration.status = IntegrationStatus.DISCONNECTED.value
            integration.status_reason = None
            detail = {"integration_id": integration.id, "revocation": revocation.outcome}
            if revocation.error is not None:
                audit(
                    session, tenant_id=tenant_id, provider=provider, action="revoke", actor=actor, outcome="failure",
                    detail={**detail, "error": revocation.error},
                )
            audit(session, tenant_id=tenant_id, provider=provider, action="disconnect", actor=actor, detail=detail)

    def _revoke(
        self, config: OAuthProviderConfig, integration: Integration, credential: Credential | None
    ) -> Revocation:
        """Revoke at the provider, never raising: a failed revocation must not keep a tenant connected."""
        if credential is None:
            return Revocation("no_credentials")
        endpoint = config.endpoint_for_region(integration.region)
        if endpoint.revoke_url is None:
            return Revocation("unsupported")
        if credential.refresh_token is not None:
            sealed, context, hint = credential.refresh_token, refresh_token_context(integration.id), "refresh_token"
        else:
            sealed, context, hint = credential.access_token, access_token_context(integration.id), "access_token"
        try:
            token = self.vault.open(sealed, context=context)
            self._protocol(config).revoke(endpoint, token=token, token_type_hint=hint)
        except TokenEndpointFailure as failure:
            logger.warning(
                "%s: revoking integration %s failed (%s); disconnecting locally",
                config.name, integration.id, failure.error,
            )
            return Revocation("failed", failure.error)
        return Revocation("revoked")

    # -- helpers -----------------------------------------------------------------------------------

    def _config(self, provider: str) -> OAuthProviderConfig:
        try:
            return self.providers[provider]
        except KeyError:
            raise UnknownProviderError(provider, list(self.providers)) from None

    def _protocol(self, config: OAuthProviderConfig) -> OAuthProtocol:
        return OAuthProtocol(config, self.http)

    def _sealed_tokens(self, integration_id: str, access_token: str, refresh_token: str | None) -> dict[str, Any]:
        return {
            "access_token": self.vault.seal(access_token, context=access_token_context(integration_id)),
            "refresh_token": (
                self.vault.seal(refresh_token, context=refresh_token_context(integration_id)) if refresh_token else None
            ),
            "key_id": self.vault.active_key_id,
        }

    def _access_token(self, credential: Credential, integration: Integration) -> AccessToken:
        return AccessToken(
            value=self.vault.open(credential.access_token, context=access_token_context(integration.id)),
            expires_at=credential.expires_at,
            api_domain=integration.api_domain,
            integration_id=integration.id,
        )

    def _audit_failure(self, tenant_id: str, provider: str, action: str, actor: str, detail: dict[str, Any]) -> None:
        with self.store.session() as session:
            audit(
                session, tenant_id=tenant_id, provider=provider, action=action, actor=actor, outcome="failure",
                detail=detail,
            )


class TokenHolder:
    """One integration's access token, held in memory between the requests of a run.

    A sync makes hundreds of calls with one token; reading and opening it from the store for each
    would cost a transaction per page (on SQLite one that waits for the write lock the sync's own
    writer holds). The holder goes back to the engine only when the token is within `margin` of
    expiry (`refresh_if_expiring`, under the engine's lock) or when the provider rejected it
    (`replace`, after a 401). A token another process replaced meanwhile stays valid until it
    expires or is rejected, which `replace` then handles. Thread-safe.
    """

    def __init__(self, engine: OAuthEngine, integration_id: str, *, margin: dt.timedelta = REFRESH_MARGIN) -> None:
        self._engine = engine
        self._integration_id = integration_id
        self._margin = margin
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def current(self) -> AccessToken:
        with self._lock:
            if self._token is None or self._token.expires_within(self._margin):
                self._token = self._engine.refresh_if_expiring(self._integration_id, margin=self._margin)
            return self._token

    def replace(self, stale_access_token: str) -> AccessToken:
        with self._lock:
            self._token = self._engine.force_refresh(self._integration_id, stale_access_token=stale_access_token)
            return self._token


def _audit_refresh(session: Session, integration: Integration, *, outcome: str = "success", **detail: Any) -> None:
    audit(
        session, tenant_id=integration.tenant_id, provider=integration.provider, action="refresh", actor=REFRESH_ACTOR,
        outcome=outcome, detail={"integration_id": integration.id, **detail},
    )


def _error_detail(error: OAuthError) -> dict[str, str]:
    """The provider's error code, when the error carries one (safe: codes, never descriptions)."""
    code = getattr(error, "error", None)
    return {"error": code} if isinstance(code, str) else {}
