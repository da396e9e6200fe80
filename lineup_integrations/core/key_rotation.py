"""Re-encrypt every stored secret under the vault's active key (`lineup-integrations keys rotate`).

Run it after putting a new key first in `ENCRYPTION_KEYS` (`new:…,old:…`); once it reports
nothing left, the old key can be dropped from the ring.

- **Batches, each its own transaction.** Credentials are walked in `integration_id` order
  (keyset pagination) over the rows whose `key_id` is not the active key. A row's access token,
  refresh token and `key_id` change together in one transaction, so whatever happens mid-run
  every row is wholly old-key or wholly new-key, `key_id` says which, and the ring (which still
  holds the old key) opens both. Rerunning resumes with the rows still behind.
- **Locked against refreshes.** A batch is read under the store's write lock (SQLite `BEGIN
  IMMEDIATE`, PostgreSQL `FOR UPDATE`), the same lock the token refresh takes, so a rotated
  refresh token written concurrently can never be overwritten with its stale predecessor.
- **Idempotent.** Only rows behind the active key are selected, and `Vault.reseal` leaves a
  value already under it untouched: a second run changes nothing.
- A ciphertext that cannot be opened (its key is no longer in the ring, or it was tampered
  with) is left as it is and reported by integration id; the keyset cursor moves past it.

Pending OAuth states' PKCE verifiers are re-sealed too (they live 10 minutes, so there are few).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from lineup_integrations.core.oauth.engine import access_token_context, refresh_token_context
from lineup_integrations.core.oauth.state import verifier_context
from lineup_integrations.core.store import Credential, OAuthState, Store
from lineup_integrations.core.vault import Vault, VaultDecryptError

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class RotationReport:
    """What one run did. `unreadable` lists integration ids whose credentials could not be opened."""

    active_key_id: str
    credentials_resealed: int
    oauth_states_resealed: int
    unreadable: tuple[str, ...]


def count_stale_credentials(store: Store, vault: Vault) -> int:
    """How many credentials are not yet under the active key (the work a rotation has left)."""
    with store.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Credential).where(Credential.key_id != vault.active_key_id))
            or 0
        )


def rotate_keys(
    store: Store,
    vault: Vault,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    """Re-seal every credential and pending PKCE verifier under the active key; `on_batch(n)` after
    each committed batch of n credentials (for a progress bar)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    resealed = 0
    unreadable: list[str] = []
    after = ""
    while True:
        batch_resealed, batch_unreadable, last_id = _rotate_credential_batch(store, vault, after, batch_size)
        if last_id is None:
            break
        resealed += batch_resealed
        unreadable.extend(batch_unreadable)
        after = last_id
        if on_batch is not None:
            on_batch(batch_resealed + len(batch_unreadable))
    return RotationReport(
        active_key_id=vault.active_key_id,
        credentials_resealed=resealed,
        oauth_states_resealed=_rotate_pending_states(store, vault),
        unreadable=tuple(unreadable),
    )


def _rotate_credential_batch(
    store: Store, vault: Vault, after: str, batch_size: int
) -> tuple[int, list[str], str | None]:
    """One transaction: re-seal up to `batch_size` stale credentials after `after`; returns
    (re-sealed, unreadable ids, last id seen or None when there were none)."""
    active = vault.active_key_id
    unreadable: list[str] = []
    with store.locked_session() as session:
        rows = session.scalars(
            select(Credential)
            .where(Credential.key_id != active, Credential.integration_id > after)
            .order_by(Credential.integration_id)
            .limit(batch_size)
            .with_for_update()
        ).all()
        for row in rows:
            try:
                access = vault.reseal(row.access_token, context=access_token_context(row.integration_id))
                refresh = (
                    vault.reseal(row.refresh_token, context=refresh_token_context(row.integration_id))
                    if row.refresh_token is not None
                    else None
                )
            except VaultDecryptError:
                unreadable.append(row.integration_id)
                continue
            row.access_token, row.refresh_token, row.key_id = access, refresh, active
    return len(rows) - len(unreadable), unreadable, (rows[-1].integration_id if rows else None)


def _rotate_pending_states(store: Store, vault: Vault) -> int:
    """Re-seal the PKCE verifiers of unused, unexpired OAuth states that are not under the active key.
    An unreadable one is left alone: its flow fails at the callback exactly as it would have."""
    resealed = 0
    with store.locked_session() as session:
        states = session.scalars(
            select(OAuthState)
            .where(
                OAuthState.used_at.is_(None),
                OAuthState.expires_at > dt.datetime.now(dt.UTC),
                OAuthState.code_verifier.is_not(None),
            )
            .with_for_update()
        ).all()
        for state in states:
            verifier = state.code_verifier
            if verifier is None or Vault.key_id_of(verifier) == vault.active_key_id:
                continue
            try:
                state.code_verifier = vault.reseal(verifier, context=verifier_context(state.state_hash))
            except VaultDecryptError:
                continue
            resealed += 1
    return resealed
