"""Small helpers for the sandbox tests: the PKCE parameters of a request, and reading the wire answers."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import jwt

REDIRECT_URI = "http://localhost:4000/api/v1/integrations/callback?provider=test"


def redirect_params(response: httpx.Response) -> dict[str, str]:
    """The query of a 302 back to the redirect URI (asserting it is one)."""
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    assert str(location.copy_with(query=None)) == REDIRECT_URI.split("?")[0]
    return dict(location.params)


def pkce_s256(verifier: str) -> dict[str, str]:
    """The authorize parameters of an RFC 7636 S256 challenge for `verifier`, computed here
    rather than by the code under test."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return {"code_challenge": challenge, "code_challenge_method": "S256"}


def verified_id_token(http: httpx.Client, jwks_url: str, id_token: str, *, audience: str) -> dict[str, Any]:
    """The claims of an `id_token` whose RS256 signature checks out against the key set published
    at `jwks_url` (the key its `kid` names) and whose audience is `audience`."""
    keys = jwt.PyJWKSet.from_dict(http.get(jwks_url).json())
    header = jwt.get_unverified_header(id_token)
    return jwt.decode(id_token, keys[header["kid"]].key, algorithms=["RS256"], audience=audience)
