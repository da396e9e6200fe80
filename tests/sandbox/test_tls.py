"""The sandbox's TLS files (`sandbox/tls.py`): a CA made once and kept, a leaf for the loopback
names that a client trusting only that CA accepts, and renewal when the leaf is about to expire."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

from cryptography import x509

from lineup_integrations.sandbox.tls import RENEW_BEFORE, ensure_tls


def test_the_ca_is_made_once_and_its_leaf_covers_the_loopback_names(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path / "tls")
    again = ensure_tls(tmp_path / "tls")

    assert again.ca_file.read_bytes() == first.ca_file.read_bytes()
    assert again.cert_file.read_bytes() == first.cert_file.read_bytes()
    ca = x509.load_pem_x509_certificate(first.ca_file.read_bytes())
    leaf = x509.load_pem_x509_certificate(first.cert_file.read_bytes())
    leaf.verify_directly_issued_by(ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    loopback = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    assert set(names.get_values_for_type(x509.IPAddress)) == loopback
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert stat.S_IMODE(first.key_file.stat().st_mode) == 0o600
    assert first.ca_file.read_bytes() in first.bundle_file.read_bytes()
    assert first.bundle_file.read_bytes().count(b"BEGIN CERTIFICATE") > 10  # the public CAs stay trusted


def test_a_leaf_near_expiry_is_reissued_by_the_same_ca(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path)
    ca, old_leaf = first.ca_file.read_bytes(), first.cert_file.read_bytes()
    expiry = x509.load_pem_x509_certificate(old_leaf).not_valid_after_utc

    later = ensure_tls(tmp_path, now=expiry - RENEW_BEFORE + dt.timedelta(days=1))

    assert later.ca_file.read_bytes() == ca
    new_leaf = x509.load_pem_x509_certificate(later.cert_file.read_bytes())
    assert new_leaf.not_valid_after_utc > expiry
    new_leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
