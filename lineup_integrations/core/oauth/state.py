"""The OAuth `state`: the only thing that ties a browser's callback to a tenant.

A state is 256 random bits, handed to the browser once and stored only as its SHA-256, so a
copy of the store cannot be replayed. It is bound to one tenant and one provider (and, for a
per-user provider, the Lineup user whose account the callback connects), expires after
`ttl` (the engine's `state_ttl`, `LINEUP_OAUTH_STATE_TTL_SECONDS`, 10 minutes by default) and is spent atomically (`UPDATE … WHERE used_at IS NULL`, then the row count): of two
callbacks racing with the same state, exactly one wins. The PKCE verifier that goes with it is
sealed by the vault under a context naming the state, so it cannot be lifted into another row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from lineup_integrations.core.oauth.errors import InvalidStateError
from lineup_integrations.core.store import TENANT_WIDE, OAuthState

STATE_TTL = dt.timedelta(minutes=10)
STATE_BYTES = 32  # 256 bits
_MAX_STATE_LENGTH = 256  # token_urlsafe(32) is 43 characters; anything far longer is not ours


def new_state() -> str:
    return secrets.token_urlsafe(STATE_BYTES)


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def verifier_context(state_hash: str) -> str:
    """The vault context of a state's PKCE verifier."""
    return f"state:{state_hash}:code_verifier"


@dataclass(frozen=True)
class PendingAuthorization:
    """A spent state: who started the authorization, and what the code exchange must repeat."""

    state_hash: str
    tenant_id: str
    provider: str
    redirect_uri: str
    sealed_code_verifier: str | None = field(repr=False)
    user_id: str = TENANT_WIDE


def save_state(
    session: Session,
    *,
    state_hash: str,
    tenant_id: str,
    provider: str,
    redirect_uri: str,
    sealed_code_verifier: str | None,
    actor: str,
    now: dt.datetime,
    ttl: dt.timedelta = STATE_TTL,
    user_id: str = TENANT_WIDE,
) -> None:
    """Store a new state, valid for `ttl`, and drop the expired ones (they can only ever be refused)."""
    session.execute(delete(OAuthState).where(OAuthState.expires_at < now))
    session.add(
        OAuthState(
            state_hash=state_hash,
            tenant_id=tenant_id,
            provider=provider,
            user_id=user_id,
            code_verifier=sealed_code_verifier,
            redirect_uri=redirect_uri,
            actor=actor,
            created_at=now,
            expires_at=now + ttl,
        )
    )


def consume_state(session: Session, state: str | None, *, provider: str, now: dt.datetime) -> PendingAuthorization:
    """Spend `state` for `provider`, or raise `InvalidStateError` saying why (and for whom, if known).

    A state presented for another provider is refused without being spent, so a misrouted
    callback cannot burn the tenant's real one.
    """
    if not state or len(state) > _MAX_STATE_LENGTH:
        raise InvalidStateError("unknown", provider=provider)
    state_hash = hash_state(state)
    spent: CursorResult[Any] = session.execute(  # type: ignore[assignment]  # an UPDATE's result is a CursorResult
        update(OAuthState)
        .where(
            OAuthState.state_hash == state_hash,
            OAuthState.provider == provider,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    row = session.scalars(select(OAuthState).where(OAuthState.state_hash == state_hash)).one_or_none()
    if spent.rowcount != 1 or row is None:
        tenant_id = row.tenant_id if row is not None else None
        raise InvalidStateError(_refusal_reason(row, provider), provider=provider, tenant_id=tenant_id)
    return PendingAuthorization(
        state_hash=state_hash,
        tenant_id=row.tenant_id,
        provider=row.provider,
        redirect_uri=row.redirect_uri,
        sealed_code_verifier=row.code_verifier,
        user_id=row.user_id,
    )


def _refusal_reason(row: OAuthState | None, provider: str) -> str:
    if row is None:
        return "unknown"
    if row.provider != provider:
        return "wrong_provider"
    if row.used_at is not None:
        return "used"
    return "expired"
