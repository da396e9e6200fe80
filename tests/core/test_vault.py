import base64

import pytest

from lineup_integrations.core.vault import KeyRing, Vault, VaultConfigError, VaultDecryptError

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = "b" * 32  # the spec's 32-character form


def test_seal_is_randomised_and_opens_in_its_context() -> None:
    vault = Vault(KeyRing.parse(f"a:{KEY_A}"))
    first = vault.seal("1000.secret-token", context="int-1:access_token")
    second = vault.seal("1000.secret-token", context="int-1:access_token")
    assert first != second  # a fresh nonce per seal
    assert "secret-token" not in first
    assert vault.open(first, context="int-1:access_token") == "1000.secret-token"


@pytest.mark.parametrize("context", ["int-2:access_token", "int-1:refresh_token"])
def test_a_ciphertext_moved_to_another_row_or_purpose_fails(context: str) -> None:
    vault = Vault(KeyRing.parse(f"a:{KEY_A}"))
    sealed = vault.seal("token", context="int-1:access_token")
    with pytest.raises(VaultDecryptError) as error:
        vault.open(sealed, context=context)
    assert "token" not in str(error.value).replace("tampered", "")


def test_tampering_is_detected() -> None:
    vault = Vault(KeyRing.parse(f"a:{KEY_A}"))
    version, key_id, nonce, body = vault.seal("token", context="c").split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(VaultDecryptError):
        vault.open(".".join((version, key_id, nonce, flipped)), context="c")


def test_rotation_keeps_old_ciphertexts_readable_and_reseal_is_idempotent() -> None:
    old = Vault(KeyRing.parse(f"a:{KEY_A}"))
    sealed_old = old.seal("token", context="c")
    rotated = Vault(KeyRing.parse(f"b:{KEY_B},a:{KEY_A}"))
    assert rotated.open(sealed_old, context="c") == "token"
    resealed = rotated.reseal(sealed_old, context="c")
    assert Vault.key_id_of(resealed) == "b"
    assert rotated.reseal(resealed, context="c") == resealed
    with pytest.raises(VaultDecryptError):
        Vault(KeyRing.parse(f"a:{KEY_A}")).open(resealed, context="c")


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"ENCRYPTION_KEY": "too-short"},
        {"ENCRYPTION_KEYS": "nocolon"},
        {"ENCRYPTION_KEYS": f"a:{KEY_A},a:{KEY_A}"},
        {"ENCRYPTION_KEYS": f"bad id:{KEY_A}"},
    ],
)
def test_missing_or_malformed_keys_are_a_clear_start_up_error(environ: dict[str, str]) -> None:
    with pytest.raises(VaultConfigError) as error:
        KeyRing.from_env(environ)
    assert KEY_A not in str(error.value)


def test_encryption_key_accepts_32_characters_or_base64_and_names_it_default() -> None:
    assert KeyRing.from_env({"ENCRYPTION_KEY": KEY_B}).active_id == "default"
    assert KeyRing.from_env({"ENCRYPTION_KEY": KEY_A}).key("default") == b"a" * 32
