"""Token vault: AES-256-GCM with a key ring, so keys can be rotated while every credential stays readable.

A sealed value is the text `v1.<key id>.<nonce b64>.<ciphertext+tag b64>`. Each seal uses a
fresh 96-bit random nonce and binds the ciphertext to its *context* (for a credential:
`<integration id>:<purpose>`) through GCM's associated data, so a ciphertext copied to another
row or purpose fails to open. Errors never include plaintext or key material.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
DEFAULT_KEY_ID = "default"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class VaultConfigError(ValueError):
    """The encryption keys in the environment are missing or malformed (a start-up error)."""


class VaultDecryptError(Exception):
    """A sealed value could not be opened: unknown key, tampered data, or the wrong context."""


def parse_key(raw: str) -> bytes:
    """A key is 32 raw characters (the spec's `ENCRYPTION_KEY`) or base64 of 32 bytes."""
    if len(raw.encode()) == KEY_BYTES:
        return raw.encode()
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == KEY_BYTES:
        return decoded
    raise VaultConfigError(f"an encryption key must be 32 characters or base64 of 32 bytes (got {len(raw)} characters)")


class KeyRing:
    """Named AES-256 keys; the first is active (new seals), all of them open old seals."""

    def __init__(self, keys: Mapping[str, bytes], active_id: str) -> None:
        if active_id not in keys:
            raise VaultConfigError("the active key id is not in the key ring")
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id):
                raise VaultConfigError(f"invalid key id {key_id!r}: use letters, digits, '_' or '-'")
            if len(key) != KEY_BYTES:
                raise VaultConfigError(f"key {key_id!r} is not 32 bytes")
        self._keys = dict(keys)
        self.active_id = active_id

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Parse `id:key,id:key,…` (first active). Keys may be base64, so split on the first colon only."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key_id, sep, raw = item.partition(":")
            if not sep:
                raise VaultConfigError("ENCRYPTION_KEYS entries must look like id:key")
            if key_id in keys:
                raise VaultConfigError(f"key id {key_id!r} appears twice in ENCRYPTION_KEYS")
            keys[key_id] = parse_key(raw)
            order.append(key_id)
        if not order:
            raise VaultConfigError("ENCRYPTION_KEYS is empty")
        return cls(keys, order[0])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeyRing:
        """`ENCRYPTION_KEYS` wins; `ENCRYPTION_KEY` alone means `default:<key>`. Neither is an error."""
        env = os.environ if environ is None else environ
        if env.get("ENCRYPTION_KEYS"):
            return cls.parse(env["ENCRYPTION_KEYS"])
        if env.get("ENCRYPTION_KEY"):
            return cls({DEFAULT_KEY_ID: parse_key(env["ENCRYPTION_KEY"])}, DEFAULT_KEY_ID)
        raise VaultConfigError("no encryption key: set ENCRYPTION_KEY (32 characters) or ENCRYPTION_KEYS (id:key,…)")

    def key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise VaultDecryptError(f"sealed with unknown key id {key_id!r}") from None

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)


class Vault:
    """Seals and opens secrets with the key ring; stateless apart from the keys."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring

    @classmethod
    def from_env(cls) -> Vault:
        return cls(KeyRing.from_env())

    @property
    def active_key_id(self) -> str:
        return self.keyring.active_id

    def seal(self, plaintext: str, *, context: str) -> str:
        key_id = self.keyring.active_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keyring.key(key_id)).encrypt(nonce, plaintext.encode(), context.encode())
        return ".".join((FORMAT_VERSION, key_id, _b64(nonce), _b64(sealed)))

    def open(self, token: str, *, context: str) -> str:
        try:
            version, key_id, nonce, sealed = token.split(".")
        except ValueError:
            raise VaultDecryptError("not a sealed value") from None
        if version != FORMAT_VERSION:
            raise VaultDecryptError(f"unsupported sealed format {version!r}")
        try:
            plaintext = AESGCM(self.keyring.key(key_id)).decrypt(_unb64(nonce), _unb64(sealed), context.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise VaultDecryptError(
                "sealed value failed authentication (tampered, or opened in the wrong context)"
            ) from None
        return plaintext.decode()

    @staticmethod
    def key_id_of(token: str) -> str:
        return token.split(".", 2)[1]

    def reseal(self, token: str, *, context: str) -> str:
        """Re-encrypt under the active key; a value already under it is returned unchanged (idempotent)."""
        if self.key_id_of(token) == self.keyring.active_id:
            return token
        return self.seal(self.open(token, context=context), context=context)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
