"""Token values at the engine's two boundaries: what a token endpoint returns, and what callers get.

Both keep secrets out of their reprs, so a token never reaches a log line or a traceback by
being printed along with its container.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, SecretStr

# A token response without `expires_in` still gets an expiry, so it is refreshed at some point
# (an endpoint that omits it would otherwise leave a token that is never refreshed and dies).
DEFAULT_TOKEN_LIFETIME = dt.timedelta(hours=1)
ID_TOKEN_ALGORITHMS = ("RS256",)  # what Google and Microsoft sign with; never "none" or an HMAC
ID_TOKEN_LEEWAY = dt.timedelta(minutes=2)  # clock skew tolerated on `exp`/`iat`/`nbf`
_SCOPE_SEPARATORS = re.compile(r"[\s,]+")


class TokenResponse(BaseModel):
    """A successful token-endpoint body, whichever provider sent it (unknown fields ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    id_token: SecretStr | None = None
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    api_domain: str | None = None  # Zoho: where this tenant's API lives

    def expires_at(self, now: dt.datetime) -> dt.datetime:
        lifetime = dt.timedelta(seconds=self.expires_in) if self.expires_in is not None else DEFAULT_TOKEN_LIFETIME
        return now + lifetime

    def granted_scopes(self, requested: tuple[str, ...]) -> list[str]:
        """The scopes the provider reports (space- or comma-separated), else the ones requested."""
        if not self.scope:
            return list(requested)
        return [scope for scope in _SCOPE_SEPARATORS.split(self.scope) if scope]

    def id_token_claims(self) -> dict[str, Any]:
        """The OpenID Connect claims of `id_token`, or {} when there is none or it is malformed.

        The signature is not checked: the token came straight from the provider's token endpoint
        over TLS, which OpenID Connect Core §3.1.3.7 accepts in place of the signature, and the
        claims are used only to label the account, never to authorise anything. The engine uses
        this only for a provider that publishes no key set; otherwise `verified_id_token_claims`.
        """
        if self.id_token is None:
            return {}
        try:
            claims = jwt.decode(self.id_token.get_secret_value(), options={"verify_signature": False})
        except jwt.PyJWTError:
            return {}
        return claims if isinstance(claims, dict) else {}

    def verified_id_token_claims(
        self, jwks: Mapping[str, Any], *, audience: str, issuers: Sequence[str]
    ) -> dict[str, Any]:
        """The claims of `id_token` once verified against the provider's key set `jwks` (a JWKS
        document): RS256 signature by the key its `kid` names, `aud` = `audience`, not expired,
        and `iss` one of `issuers` (`{tid}` in an issuer stands for the token's `tid` claim, as in
        Microsoft's multi-tenant issuer). {} when there is no id_token.

        Raises `jwt.PyJWTError` (bad signature, audience, issuer or expiry, no such key) or
        `KeyError` (the key set has no key for the token's `kid`).
        """
        if self.id_token is None:
            return {}
        token = self.id_token.get_secret_value()
        key_set = jwt.PyJWKSet.from_dict(dict(jwks))
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            if len(key_set.keys) != 1:
                raise jwt.InvalidTokenError("the id_token names no key and the key set has several")
            key = key_set.keys[0]
        else:
            key = key_set[kid]
        claims = jwt.decode(
            token,
            key,
            algorithms=list(ID_TOKEN_ALGORITHMS),
            audience=audience,
            leeway=ID_TOKEN_LEEWAY,
            options={"require": ["iss", "aud", "exp", "iat"]},
        )
        tenant = claims.get("tid")
        expected = {issuer.replace("{tid}", tenant) if isinstance(tenant, str) else issuer for issuer in issuers}
        if claims.get("iss") not in expected or "{tid}" in claims["iss"]:
            raise jwt.InvalidIssuerError("the id_token was issued by an unexpected issuer")
        return claims


@dataclass(frozen=True)
class AccessToken:
    """A usable access token of one integration; `value` is the secret (left out of the repr).

    `api_domain` is where this tenant's API calls go (Zoho: per data centre; others: the
    provider's API host, or the sandbox standing in for it).
    """

    value: str = field(repr=False)
    expires_at: dt.datetime
    api_domain: str | None
    integration_id: str

    def expires_within(self, margin: dt.timedelta, *, now: dt.datetime | None = None) -> bool:
        return self.expires_at - (now or dt.datetime.now(dt.UTC)) <= margin
