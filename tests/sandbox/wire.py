"""Small helpers for reading the sandbox's wire answers in tests."""

from __future__ import annotations

import base64
import hashlib

import httpx

REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback?provider=test"


def redirect_params(response: httpx.Response) -> dict[str, str]:
    """The query of a 302 back to the redirect URI (asserting it is one)."""
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    assert str(location.copy_with(query=None)) == REDIRECT_URI.split("?")[0]
    return dict(location.params)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
