import base64
import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from lineup_integrations.core.key_rotation import count_stale_credentials, rotate_keys
from lineup_integrations.core.oauth.engine import access_token_context, refresh_token_context
from lineup_integrations.core.oauth.state import verifier_context
from lineup_integrations.core.store import Credential, Integration, OAuthState, Store
from lineup_integrations.core.vault import KeyRing, Vault, VaultDecryptError

OLD_KEY = base64.b64encode(b"o" * 32).decode()
NEW_KEY = base64.b64encode(b"n" * 32).decode()
STRAY_KEY = base64.b64encode(b"s" * 32).decode()

OLD = Vault(KeyRing.parse(f"old:{OLD_KEY}"))
RING = Vault(KeyRing.parse(f"new:{NEW_KEY},old:{OLD_KEY}"))
NEW_ONLY = Vault(KeyRing.parse(f"new:{NEW_KEY}"))


def seed_credentials(
    store: Store, vault: Vault, count: int, *, with_refresh: bool = True, prefix: str = "int-"
) -> dict[str, tuple[str, str | None]]:
    """`count` connected integrations whose tokens are sealed by `vault`; returns id -> (access, refresh) plaintexts."""
    plaintexts: dict[str, tuple[str, str | None]] = {}
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        for index in range(count):
            integration_id = f"{prefix}{index:04d}"
            access, refresh = f"1000.access-{index}", (f"1000.refresh-{index}" if with_refresh else None)
            session.add(
                Integration(id=integration_id, tenant_id=f"{prefix}tenant-{index}", provider="zoho", status="connected")
            )
            session.flush()
            session.add(
                Credential(
                    integration_id=integration_id,
                    access_token=vault.seal(access, context=access_token_context(integration_id)),
                    refresh_token=vault.seal(refresh, context=refresh_token_context(integration_id))
                    if refresh
                    else None,
                    key_id=vault.active_key_id,
                    expires_at=now + dt.timedelta(hours=1),
                )
            )
            plaintexts[integration_id] = (access, refresh)
    return plaintexts


def stored(store: Store) -> dict[str, Credential]:
    with store.session() as session:
        return {row.integration_id: row for row in session.scalars(select(Credential))}


def assert_readable(store: Store, vault: Vault, plaintexts: dict[str, tuple[str, str | None]]) -> None:
    rows = stored(store)
    for integration_id, (access, refresh) in plaintexts.items():
        row = rows[integration_id]
        assert vault.open(row.access_token, context=access_token_context(integration_id)) == access
        if refresh is None:
            assert row.refresh_token is None
        else:
            assert vault.open(row.refresh_token, context=refresh_token_context(integration_id)) == refresh


def test_rotation_reseals_every_credential_in_batches_under_the_active_key(store: Store) -> None:
    plaintexts = seed_credentials(store, OLD, 7)
    batches: list[int] = []

    report = rotate_keys(store, RING, batch_size=3, on_batch=batches.append)

    assert batches == [3, 3, 1]
    assert (report.credentials_resealed, report.unreadable, report.active_key_id) == (7, (), "new")
    assert {row.key_id for row in stored(store).values()} == {"new"}
    assert_readable(store, NEW_ONLY, plaintexts)  # the old key is no longer needed
    with pytest.raises(VaultDecryptError):
        assert_readable(store, OLD, plaintexts)
    assert count_stale_credentials(store, RING) == 0


def test_a_second_run_changes_nothing(store: Store) -> None:
    seed_credentials(store, OLD, 4)
    rotate_keys(store, RING, batch_size=2)
    before = {key: (row.access_token, row.refresh_token, row.updated_at) for key, row in stored(store).items()}

    report = rotate_keys(store, RING, batch_size=2, on_batch=lambda n: pytest.fail("no batch expected"))

    assert report.credentials_resealed == 0
    assert {key: (row.access_token, row.refresh_token, row.updated_at) for key, row in stored(store).items()} == before


def test_a_run_that_dies_mid_way_leaves_every_row_readable_and_a_rerun_finishes(store: Store) -> None:
    plaintexts = seed_credentials(store, OLD, 5)

    class Crash(Exception):
        pass

    def crash_after_first_batch(_count: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        rotate_keys(store, RING, batch_size=2, on_batch=crash_after_first_batch)

    rows = stored(store)
    assert sorted(row.key_id for row in rows.values()) == ["new", "new", "old", "old", "old"]
    for row in rows.values():  # key_id says which key each row is under
        assert Vault.key_id_of(row.access_token) == row.key_id
        if row.refresh_token is not None:
            assert Vault.key_id_of(row.refresh_token) == row.key_id
    assert_readable(store, RING, plaintexts)
    assert count_stale_credentials(store, RING) == 3

    assert rotate_keys(store, RING, batch_size=2).credentials_resealed == 3
    assert_readable(store, NEW_ONLY, plaintexts)


def test_credentials_without_a_refresh_token_rotate(store: Store) -> None:
    plaintexts = seed_credentials(store, OLD, 2, with_refresh=False)
    assert rotate_keys(store, RING).credentials_resealed == 2
    assert_readable(store, NEW_ONLY, plaintexts)


def test_an_unopenable_credential_is_reported_and_left_while_the_others_rotate(store: Store) -> None:
    plaintexts = seed_credentials(store, OLD, 3, prefix="int-b")
    # Sealed with a key that is not in the ring: sorted first, so the keyset cursor must move past them.
    lost = seed_credentials(store, Vault(KeyRing.parse(f"stray:{STRAY_KEY}")), 2, prefix="int-a")
    before = stored(store)

    report = rotate_keys(store, RING, batch_size=1)

    assert report.unreadable == ("int-a0000", "int-a0001")
    assert report.credentials_resealed == 3
    after = stored(store)
    for integration_id in lost:
        assert after[integration_id].access_token == before[integration_id].access_token
        assert after[integration_id].key_id == "stray"
    assert_readable(store, NEW_ONLY, plaintexts)


def test_pending_oauth_state_verifiers_are_resealed_and_finished_ones_left(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    states = {
        "pending": (now + dt.timedelta(minutes=5), None),
        "used": (now + dt.timedelta(minutes=5), now),
        "expired": (now - dt.timedelta(minutes=1), None),
    }
    with store.session() as session:
        for name, (expires_at, used_at) in states.items():
            state_hash = hashlib.sha256(name.encode()).hexdigest()
            session.add(
                OAuthState(
                    state_hash=state_hash,
                    tenant_id="t1",
                    provider="google_calendar",
                    code_verifier=OLD.seal(f"verifier-{name}", context=verifier_context(state_hash)),
                    redirect_uri="http://localhost/cb",
                    expires_at=expires_at,
                    used_at=used_at,
                )
            )

    report = rotate_keys(store, RING)

    assert report.oauth_states_resealed == 1
    with store.session() as session:
        rows = {row.state_hash: row for row in session.scalars(select(OAuthState))}
    pending = rows[hashlib.sha256(b"pending").hexdigest()]
    assert NEW_ONLY.open(pending.code_verifier, context=verifier_context(pending.state_hash)) == "verifier-pending"
    for name in ("used", "expired"):
        assert Vault.key_id_of(rows[hashlib.sha256(name.encode()).hexdigest()].code_verifier) == "old"
    assert rotate_keys(store, RING).oauth_states_resealed == 0
