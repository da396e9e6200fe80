"""TLS for the provider sandboxes: a private CA and a leaf certificate for the loopback host.

Why: Microsoft's own client library (MSAL) refuses an authority that is not `https://`, so the
Microsoft sandbox must speak TLS for MSAL to run against it unchanged. A self-signed CA is made
on first start and kept in a folder (default `$LINEUP_DATA_DIR/sandbox-tls/`), so a developer
trusts one file across restarts; the leaf it signs covers `127.0.0.1`, `::1` and `localhost`.

Contract:
- `ensure_tls(folder)` returns the files, creating the CA and leaf when missing, unreadable or
  about to expire (the leaf is re-issued from the same CA when only it is stale).
- `ca_file` is what a client trusts (`httpx.Client(verify=ssl_context(...))`, MSAL `verify=`);
  `bundle_file` is certifi's public CAs **plus** the sandbox CA, for `SSL_CERT_FILE` /
  `REQUESTS_CA_BUNDLE`, so a process pointed at the sandbox keeps trusting real hosts too.
- The private keys never leave the folder (mode 0600) and are only for the loopback sandbox.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "Lineup sandbox CA"
HOSTS: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")
CA_LIFETIME = dt.timedelta(days=3650)
LEAF_LIFETIME = dt.timedelta(days=397)  # under what browsers accept for a leaf
RENEW_BEFORE = dt.timedelta(days=30)
_LOCK = threading.Lock()
_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class SandboxTls:
    """The sandbox's TLS files (PEM)."""

    folder: Path
    ca_file: Path
    ca_key_file: Path
    cert_file: Path
    key_file: Path
    bundle_file: Path


def default_tls_dir(env: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """`$LINEUP_DATA_DIR/sandbox-tls` (`./.data/sandbox-tls` without it), where `Settings` keeps its data."""
    environ = os.environ if env is None else env
    return Path(environ.get("LINEUP_DATA_DIR") or Path.cwd() / ".data") / "sandbox-tls"


def ensure_tls(folder: Path, *, now: dt.datetime | None = None) -> SandboxTls:
    """The CA and leaf in `folder`, made on first use and renewed when stale (see the module docstring)."""
    moment = now or dt.datetime.now(dt.UTC)
    files = SandboxTls(
        folder=folder,
        ca_file=folder / "ca.pem",
        ca_key_file=folder / "ca-key.pem",
        cert_file=folder / "server.pem",
        key_file=folder / "server-key.pem",
        bundle_file=folder / "ca-bundle.pem",
    )
    with _LOCK:
        folder.mkdir(parents=True, exist_ok=True)
        ca = _load_pair(files.ca_file, files.ca_key_file)
        if ca is None or _expiring(ca[0], moment):
            ca = _new_ca(moment)
            _write_pair(files.ca_file, files.ca_key_file, *ca)
            files.cert_file.unlink(missing_ok=True)
        leaf = _load_pair(files.cert_file, files.key_file)
        if leaf is None or _expiring(leaf[0], moment) or leaf[0].issuer != ca[0].subject:
            leaf = _new_leaf(ca, moment)
            _write_pair(files.cert_file, files.key_file, *leaf)
        bundle = Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + files.ca_file.read_bytes()
        if not files.bundle_file.exists() or files.bundle_file.read_bytes() != bundle:
            files.bundle_file.write_bytes(bundle)
    return files


def _expiring(certificate: x509.Certificate, moment: dt.datetime) -> bool:
    return certificate.not_valid_after_utc - RENEW_BEFORE < moment or certificate.not_valid_before_utc > moment


def _load_pair(cert_file: Path, key_file: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    return (certificate, key) if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _write_pair(
    cert_file: Path, key_file: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_file.touch(mode=0o600, exist_ok=True)
    key_file.chmod(0o600)
    key_file.write_bytes(pem)
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _new_ca(moment: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lineup")]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - dt.timedelta(minutes=5))
        .not_valid_after(moment + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _new_leaf(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], moment: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_certificate, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    names += [x509.IPAddress(ipaddress.ip_address(host)) for host in HOSTS if host != "localhost"]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - dt.timedelta(minutes=5))
        .not_valid_after(min(moment + LEAF_LIFETIME, ca_certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key
