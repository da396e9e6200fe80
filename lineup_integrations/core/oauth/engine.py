"""The OAuth engine: connect, callback, refresh and disconnect for every provider, one code path.

Its contract with the rest of the system:
- `begin` → the authorize URL; `complete` → a `connected` integration with sealed tokens. An
  integration is the tenant's (`user_id` '', `TENANT_WIDE`) or one Lineup user's (`begin(…,
  user_id=…)`, a per-user provider's: a calendar), keyed by (tenant, provider, user_id); the
  state carries the user to the callback. Whether a provider is per user is the gateway's rule
  (`Provider.per_user`), not the engine's.
- `refresh_if_expiring` → a usable access token. A refresh is guarded by a lease on the
  credentials row, not by a transaction held over the provider's HTTP call (on SQLite that
  transaction would be the database's one write lock, and every sync of every tenant would wait
  for the provider): one short transaction claims the lease (re-reading the row under
  `SELECT … FOR UPDATE` / `BEGIN IMMEDIATE`: a caller that finds the token already refreshed just
  returns it), the token call runs outside any transaction, and a second short transaction
  stores the result only if the lease is still this caller's. Callers that find a live lease wait
  for the holder's result (woken at once in this process, else polling with backoff, for at most
  `refresh_wait`) and take over a lease that expired (its holder crashed). So any number of
  concurrent callers cause one token request and a rotated refresh token is never sent twice,
  provided a token call ends within the lease (`refresh_lease_ttl`, far above the token call's
  timeouts). A dead grant marks the integration `needs_reauth` and raises
  `ReauthorizationRequiredError` (never retry it); other failures raise the retryable
  `TokenRefreshError`.
- A callback whose account differs from the one the integration had (another Zoho organisation,
  another user) resets the tenant's synced data from that provider in the transaction that
  saves the connection (`reset_synced_data`, audited as `account_changed`): the next sync is a
  full one. The same account reconnected keeps its data and resumes incrementally. A user's
  integration resets nothing yet: the synced tables are keyed by tenant and provider only, so
  they cannot tell one user's data from another's (no calendar data is synced yet); the change
  is still audited.
- `disconnect` → revoked at the provider when it can be, credentials deleted, `disconnected`.
Every step is audited (`connect`, `callback`, `refresh`, `disconnect`), with details that never
hold a secret — except a callback with an invalid `state`, which names no tenant we can trust and
writes nothing (it is logged instead). Tokens are sealed by the vault, bound to their integration and purpose.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lineup_integrations.core.http import shared_pool
from lineup_integrations.core.oauth.config import GrantedAccess, OAuthProviderConfig, TokenEndpoint
from lineup_integrations.core.oauth.errors import (
    AuthorizationDeniedError,
    IntegrationNotFoundError,
    InvalidAuthorizationCodeError,
    InvalidStateError,
    OAuthError,
    ReauthorizationRequiredError,
    TokenExchangeError,
    TokenRefreshError,
)
from lineup_integrations.core.oauth.protocol import OAuthProtocol, TokenEndpointFailure, new_code_verifier
from lineup_integrations.core.oauth.state import (
    STATE_TTL,
    PendingAuthorization,
    consume_state,
    hash_state,
    new_state,
    save_state,
    verifier_context,
)
from lineup_integrations.core.oauth.tokens import AccessToken, JwksCache, TokenResponse
from lineup_integrations.core.provider import UnknownProviderError
from lineup_integrations.core.store import (
    TENANT_WIDE,
    Credential,
    Integration,
    IntegrationStatus,
    Store,
    audit,
    reset_account_data,
    reset_synced_data,
    upsert,
    utcnow,
)
from lineup_integrations.core.store.models import new_integration_id
from lineup_integrations.core.vault import Vault

logger = logging.getLogger(__name__)

REFRESH_MARGIN = dt.timedelta(minutes=5)
HTTP_POOL_NAME = "oauth"
REFRESH_ACTOR = "oauth-engine"
# A lease outlives any token call (TOKEN_REQUEST_TIMEOUT: 5 s to connect, 15 s per read or write),
# so it only expires when its holder died; a waiter gives up (retryably) a little after that.
REFRESH_LEASE_TTL = dt.timedelta(seconds=60)
REFRESH_WAIT = dt.timedelta(seconds=75)
_FIRST_POLL_SECONDS = 0.02
_MAX_POLL_SECONDS = 0.5

# Decides, in the claim's transaction and with the current access token opened, whether to refresh after all.
RefreshDecision = Callable[[Credential, str], bool]


@dataclass(frozen=True)
class _Lease:
    """A claimed refresh: what the token call needs, read in the claim's transaction."""

    owner: str
    integration_id: str
    config: OAuthProviderConfig
    region: str | None
    sealed_refresh_token: str = field(repr=False)
    taken_over: bool


@dataclass(frozen=True)
class _Busy:
    """Another caller holds a live lease on the integration's credentials."""

    provider: str


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
    pool's `oauth` client). `state_ttl` is how long a started authorization may take
    (`Settings.oauth_state_ttl`). `refresh_lease_ttl` / `refresh_wait`: see the module docstring.
    `jwks` caches the identity providers' signing keys (default: a `JwksCache` fetching through
    `http`).
    """

    def __init__(
        self,
        store: Store,
        vault: Vault,
        providers: Mapping[str, OAuthProviderConfig],
        http: httpx.Client | None = None,
        *,
        state_ttl: dt.timedelta = STATE_TTL,
        refresh_lease_ttl: dt.timedelta = REFRESH_LEASE_TTL,
        refresh_wait: dt.timedelta = REFRESH_WAIT,
        jwks: JwksCache | None = None,
    ) -> None:
        if state_ttl <= dt.timedelta(0) or refresh_lease_ttl <= dt.timedelta(0):
            raise ValueError("state_ttl and refresh_lease_ttl must be positive")
        self.store = store
        self.vault = vault
        self.providers = dict(providers)
        self.http = http if http is not None else shared_pool().client(HTTP_POOL_NAME)
        self.state_ttl = state_ttl
        self.refresh_lease_ttl = refresh_lease_ttl
        self.refresh_wait = refresh_wait
        self.jwks = jwks if jwks is not None else JwksCache(self.http)
        # Wakes this process's waiters as soon as a refresh here ends (others poll the store).
        self._refresh_ended = threading.Condition()
        self._refresh_generation = 0

    # -- connect -----------------------------------------------------------------------------------

    def begin(
        self,
        tenant_id: str,
        provider: str,
        *,
        actor: str,
        login_hint: str | None = None,
        user_id: str = TENANT_WIDE,
    ) -> str:
        """Start an authorization: returns the provider's authorize URL for the user's browser. The
        callback connects the integration of (`tenant_id`, `provider`, `user_id`)."""
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
                ttl=self.state_ttl,
                user_id=user_id,
            )
            audit(
                session,
                tenant_id=tenant_id,
                provider=provider,
                action="connect",
                actor=actor,
                detail={"pkce": config.use_pkce, **_user_detail(user_id)},
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
                provider,
                error.reason,
                f" issued to tenant {error.tenant_id}" if error.tenant_id else "",
            )
            raise
        try:
            endpoint, tokens = self._exchange_code(config, pending, params)
        except OAuthError as error:
            detail = {"reason": error.code, **_error_detail(error), **_user_detail(pending.user_id)}
            self._audit_failure(pending.tenant_id, provider, "callback", actor, detail)
            raise
        api_domain = tokens.api_domain or config.api_base_url
        account_id = self._account_id(config, tokens, api_domain)
        return self._save_connection(
            pending.tenant_id, pending.user_id, config, endpoint, tokens, api_domain, account_id, actor
        )

    def _exchange_code(
        self, config: OAuthProviderConfig, pending: PendingAuthorization, params: Mapping[str, str]
    ) -> tuple[TokenEndpoint, TokenResponse]:
        if params.get("error"):
            raise AuthorizationDeniedError(params["error"], provider=config.name)
        code = params.get("code")
        if not code:
            raise InvalidAuthorizationCodeError("missing_code", provider=config.name)
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
            if failure.error in config.invalid_code_errors:
                raise InvalidAuthorizationCodeError(failure.error, provider=config.name) from None
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
        (from the engine's `JwksCache`: fetched once from the configured, sandbox-overridable URL,
        again when a token names a key the cached set lacks). A token that fails verification
        contributes no claims: the account id is then left None."""
        if tokens.id_token is None:
            return {}
        if config.id_token_jwks_url is None:
            return tokens.id_token_claims()
        try:
            jwks = self.jwks.key_set(config.id_token_jwks_url, tokens.id_token_kid())
            return tokens.verified_id_token_claims(jwks, audience=config.client_id, issuers=config.id_token_issuers)
        except (httpx.HTTPError, ValueError, LookupError, jwt.PyJWTError) as error:
            logger.warning(
                "%s: id_token verification failed (%s); connecting without its claims",
                config.name,
                type(error).__name__,
            )
            return {}

    def _save_connection(
        self,
        tenant_id: str,
        user_id: str,
        config: OAuthProviderConfig,
        endpoint: TokenEndpoint,
        tokens: TokenResponse,
        api_domain: str | None,
        account_id: str | None,
        actor: str,
    ) -> Integration:
        now = utcnow()
        the_integration = select(Integration).where(
            Integration.tenant_id == tenant_id, Integration.provider == config.name, Integration.user_id == user_id
        )
        with self.store.locked_session() as session:
            previous = session.scalars(the_integration.with_for_update()).one_or_none()
            previous_account_id = previous.external_account_id if previous is not None else None
            upsert(
                session,
                Integration,
                [
                    {
                        "id": new_integration_id(),
                        "tenant_id": tenant_id,
                        "provider": config.name,
                        "user_id": user_id,
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
                key=["tenant_id", "provider", "user_id"],
                update=[
                    "status",
                    "external_account_id",
                    "region",
                    "accounts_server",
                    "api_domain",
                    "scopes",
                    "status_reason",
                    "updated_at",
                    "connected_at",
                ],
            )
            integration = session.scalars(
                the_integration.execution_options(populate_existing=True)  # `previous` holds the row as it was
            ).one()
            if previous_account_id is not None and account_id is not None and previous_account_id != account_id:
                # Another account: what was synced from the old one must go with it (see reset.py):
                # the tenant's for a tenant-wide integration, only this user's for a per-user one.
                deleted = (
                    reset_synced_data(session, tenant_id=tenant_id, provider=config.name)
                    if user_id == TENANT_WIDE
                    else reset_account_data(
                        session, integration_id=integration.id, tenant_id=tenant_id, user_id=user_id
                    )
                )
                audit(
                    session,
                    tenant_id=tenant_id,
                    provider=config.name,
                    action="account_changed",
                    actor=actor,
                    detail={
                        "integration_id": integration.id,
                        **_user_detail(user_id),
                        "previous_account_id": previous_account_id,
                        "account_id": account_id,
                        "deleted": deleted,
                    },
                )
                logger.info(
                    "%s: tenant %s reconnected to another account; its synced data was reset", config.name, tenant_id
                )
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
                        # A refresh of the previous grant still under way must not overwrite these tokens.
                        "refresh_lease_owner": None,
                        "refresh_lease_expires_at": None,
                    }
                ],
                key=["integration_id"],
                update=[
                    "access_token",
                    "refresh_token",
                    "key_id",
                    "token_type",
                    "expires_at",
                    "refreshed_at",
                    "updated_at",
                    "refresh_lease_owner",
                    "refresh_lease_expires_at",
                ],
            )
            audit(
                session,
                tenant_id=tenant_id,
                provider=config.name,
                action="callback",
                actor=actor,
                detail={
                    "integration_id": integration.id,
                    **_user_detail(user_id),
                    "region": endpoint.region,
                    "offline": refresh_token is not None,
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
        return self._refresh_leased(
            integration_id, lambda credential, _value: credential.expires_at - utcnow() <= margin
        )

    def token_holder(self, integration_id: str, *, margin: dt.timedelta = REFRESH_MARGIN) -> TokenHolder:
        """The integration's access token for a run's many requests (see `TokenHolder`)."""
        return TokenHolder(self, integration_id, margin=margin)

    def force_refresh(self, integration_id: str, *, stale_access_token: str) -> AccessToken:
        """After a 401 mid-run: refresh, unless another caller already replaced `stale_access_token`."""
        return self._refresh_leased(
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

    def _refresh_leased(self, integration_id: str, should_refresh: RefreshDecision) -> AccessToken:
        """Claim the refresh lease and refresh, or wait for the holder's result (module docstring)."""
        owner = secrets.token_hex(16)
        deadline = time.monotonic() + self.refresh_wait.total_seconds()
        pause = _FIRST_POLL_SECONDS
        while True:
            generation = self._refresh_generation  # read before the claim: a wake-up after it is not missed
            claim = self._claim_refresh(integration_id, owner, should_refresh)
            if isinstance(claim, AccessToken):
                return claim
            if isinstance(claim, _Lease):
                return self._refresh_under_lease(claim)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.warning(
                    "%s: gave up waiting for another refresh of integration %s", claim.provider, integration_id
                )
                raise TokenRefreshError("refresh_in_progress", provider=claim.provider)
            self._await_refresh_end(generation, min(pause, remaining))
            pause = min(pause * 2, _MAX_POLL_SECONDS)

    def _claim_refresh(
        self, integration_id: str, owner: str, should_refresh: RefreshDecision
    ) -> AccessToken | _Lease | _Busy:
        """One short transaction: the current token when no refresh is needed (any more), `_Busy`
        when another caller's lease is live, else the lease, now `owner`'s."""
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
                return current  # another caller refreshed meanwhile
            now = utcnow()
            expires = credential.refresh_lease_expires_at
            if credential.refresh_lease_owner is not None and expires is not None and expires > now:
                return _Busy(config.name)
            if credential.refresh_token is None:
                self._mark_needs_reauth(session, integration, "no_refresh_token")
                failure = ReauthorizationRequiredError("no_refresh_token", provider=config.name)
            else:
                taken_over = credential.refresh_lease_owner is not None
                if taken_over:
                    logger.warning(
                        "%s: the refresh lease on integration %s expired (its holder died?); taking it over",
                        config.name,
                        integration.id,
                    )
                credential.refresh_lease_owner = owner
                credential.refresh_lease_expires_at = now + self.refresh_lease_ttl
                return _Lease(
                    owner=owner,
                    integration_id=integration.id,
                    config=config,
                    region=integration.region,
                    sealed_refresh_token=credential.refresh_token,
                    taken_over=taken_over,
                )
        raise failure  # once the transaction holding the audit entry has committed

    def _refresh_under_lease(self, lease: _Lease) -> AccessToken:
        """The token call, outside any transaction, then its outcome stored under the lease."""
        config = lease.config
        try:
            refresh_token = self.vault.open(
                lease.sealed_refresh_token, context=refresh_token_context(lease.integration_id)
            )
            endpoint = config.endpoint_for_region(lease.region)
            tokens = self._protocol(config).refresh(endpoint, refresh_token=refresh_token)
        except TokenEndpointFailure as failure:
            raise self._store_refresh_failure(lease, failure.error) from None
        except BaseException:
            self._release_lease(lease)
            raise
        return self._store_refreshed(lease, refresh_token, tokens)

    def _locked_row(self, session: Session, integration_id: str) -> tuple[Credential, Integration] | None:
        row = session.execute(
            select(Credential, Integration)
            .join(Integration, Integration.id == Credential.integration_id)
            .where(Credential.integration_id == integration_id)
            .with_for_update(of=Credential)
        ).one_or_none()
        return (row.Credential, row.Integration) if row is not None else None

    def _store_refreshed(self, lease: _Lease, refresh_token: str, tokens: TokenResponse) -> AccessToken:
        """Store new tokens if the lease is still ours; a lost lease (it expired and was taken over,
        the integration was reconnected or disconnected) stores nothing: the token is still valid
        for this caller, but whoever holds the row now decides what it keeps."""
        now = utcnow()
        new_refresh_token = tokens.refresh_token.get_secret_value() if tokens.refresh_token else refresh_token
        try:
            with self.store.locked_session() as session:
                row = self._locked_row(session, lease.integration_id)
                if row is not None and row[0].refresh_lease_owner == lease.owner:
                    credential, integration = row
                    rotated = not hmac.compare_digest(new_refresh_token.encode(), refresh_token.encode())
                    sealed = self._sealed_tokens(
                        integration.id, tokens.access_token.get_secret_value(), new_refresh_token
                    )
                    credential.access_token = sealed["access_token"]
                    credential.refresh_token = sealed["refresh_token"]
                    credential.key_id = sealed["key_id"]
                    credential.token_type = tokens.token_type
                    credential.expires_at = tokens.expires_at(now)
                    credential.refreshed_at = now
                    credential.refresh_lease_owner = None
                    credential.refresh_lease_expires_at = None
                    if tokens.api_domain:
                        integration.api_domain = tokens.api_domain
                    _audit_refresh(
                        session,
                        integration,
                        rotated=rotated,
                        expires_at=credential.expires_at.isoformat(),
                        lease_taken_over=lease.taken_over,
                    )
                    return self._access_token(credential, integration)
                api_domain = row[1].api_domain if row is not None else None
        finally:
            self._wake_waiters()
        logger.warning(
            "%s: the refresh lease on integration %s was lost during the token call; the new token is not stored",
            lease.config.name,
            lease.integration_id,
        )
        return AccessToken(
            value=tokens.access_token.get_secret_value(),
            expires_at=tokens.expires_at(now),
            api_domain=tokens.api_domain or api_domain,
            integration_id=lease.integration_id,
        )

    def _store_refresh_failure(self, lease: _Lease, error: str) -> OAuthError:
        """Record a failed token call (if the lease is still ours) and return its typed error: a dead
        grant marks the integration `needs_reauth`; anything else is retryable. A caller whose lease
        was lost meanwhile records nothing and gets the retryable error (its refresh token may
        simply have been rotated by the new holder)."""
        config = lease.config
        failure: OAuthError = TokenRefreshError(error, provider=config.name)
        try:
            with self.store.locked_session() as session:
                row = self._locked_row(session, lease.integration_id)
                if row is not None and row[0].refresh_lease_owner == lease.owner:
                    credential, integration = row
                    credential.refresh_lease_owner = None
                    credential.refresh_lease_expires_at = None
                    if error in config.reauthorization_errors:
                        self._mark_needs_reauth(session, integration, error)
                        failure = ReauthorizationRequiredError(error, provider=config.name)
                    else:
                        _audit_refresh(session, integration, outcome="failure", error=error, retryable=True)
                        logger.warning("%s: refresh failed for integration %s (%s)", config.name, integration.id, error)
        finally:
            self._wake_waiters()
        return failure

    def _release_lease(self, lease: _Lease) -> None:
        """Give the lease back after an unexpected failure, best effort (else it expires)."""
        try:
            with self.store.session() as session:
                session.execute(
                    update(Credential)
                    .where(
                        Credential.integration_id == lease.integration_id, Credential.refresh_lease_owner == lease.owner
                    )
                    .values(refresh_lease_owner=None, refresh_lease_expires_at=None)
                    .execution_options(synchronize_session=False)
                )
        except Exception:
            logger.exception(
                "releasing the refresh lease of integration %s failed; it will expire", lease.integration_id
            )
        finally:
            self._wake_waiters()

    def _await_refresh_end(self, generation: int, timeout: float) -> None:
        """Until a refresh in this process ends after `generation` was read, or `timeout` passes."""
        with self._refresh_ended:
            self._refresh_ended.wait_for(lambda: self._refresh_generation != generation, timeout=timeout)

    def _wake_waiters(self) -> None:
        with self._refresh_ended:
            self._refresh_generation += 1
            self._refresh_ended.notify_all()

    def _mark_needs_reauth(self, session: Session, integration: Integration, error: str) -> None:
        integration.status = IntegrationStatus.NEEDS_REAUTH.value
        integration.status_reason = f"the provider refused the refresh token ({error}); the tenant must reconnect"
        _audit_refresh(session, integration, outcome="failure", error=error, status=integration.status)
        logger.warning("%s: integration %s needs reauthorization (%s)", integration.provider, integration.id, error)

    # -- disconnect --------------------------------------------------------------------------------

    def disconnect(self, tenant_id: str, provider: str, *, actor: str, user_id: str = TENANT_WIDE) -> None:
        """Revoke the grant at the provider (best effort), delete the credentials, mark `disconnected`:
        the integration of (`tenant_id`, `provider`, `user_id`) only, another user's stays connected."""
        config = self._config(provider)
        with self.store.locked_session() as session:
            integration = session.scalars(
                select(Integration)
                .where(
                    Integration.tenant_id == tenant_id,
                    Integration.provider == provider,
                    Integration.user_id == user_id,
                )
                .with_for_update()
            ).one_or_none()
            if integration is None:
                whose = "tenant" if user_id == TENANT_WIDE else "user"
                raise IntegrationNotFoundError(f"this {whose} has no {provider} integration", provider=provider)
            credential = session.scalars(
                select(Credential).where(Credential.integration_id == integration.id).with_for_update()
            ).one_or_none()
            revocation = self._revoke(config, integration, credential)
            if credential is not None:
                session.delete(credential)
            integration.status = IntegrationStatus.DISCONNECTED.value
            integration.status_reason = None
            detail = {"integration_id": integration.id, **_user_detail(user_id), "revocation": revocation.outcome}
            if revocation.error is not None:
                audit(
                    session,
                    tenant_id=tenant_id,
                    provider=provider,
                    action="revoke",
                    actor=actor,
                    outcome="failure",
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
                config.name,
                integration.id,
                failure.error,
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
                session,
                tenant_id=tenant_id,
                provider=provider,
                action=action,
                actor=actor,
                outcome="failure",
                detail=detail,
            )


class TokenHolder:
    """One integration's access token, held in memory between the requests of a run.

    A sync makes hundreds of calls with one token; reading and opening it from the store for each
    would cost a transaction per page (on SQLite one that waits for the write lock the sync's own
    writer holds). The holder goes back to the engine only when the token is within `margin` of
    expiry (`refresh_if_expiring`, under the engine's refresh lease) or when the provider rejected it
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
        session,
        tenant_id=integration.tenant_id,
        provider=integration.provider,
        action="refresh",
        actor=REFRESH_ACTOR,
        outcome=outcome,
        detail={"integration_id": integration.id, **detail},
    )


def _user_detail(user_id: str) -> dict[str, str]:
    """An audit detail's `user_id`, for a user's integration only (a tenant-wide one's entries stay as they were)."""
    return {"user_id": user_id} if user_id != TENANT_WIDE else {}


def _error_detail(error: OAuthError) -> dict[str, str]:
    """The provider's error code, when the error carries one (safe: codes, never descriptions)."""
    code = getattr(error, "error", None)
    return {"error": code} if isinstance(code, str) else {}
