"""Token values at the engine's two boundaries: what a token endpoint returns, and what callers get.

Both keep secrets out of their reprs, so a token never reaches a log line or a traceback by
being printed along with its container.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, SecretStr

# A token response without `expires_in` still gets an expiry, so it is refreshed at some point
# (an endpoint that omits it would otherwise leave a token that is never refreshed and dies).
DEFAULT_TOKEN_LIFETIME = dt.timedelta(hours=1)
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
        claims are used only to label the account, never to authorise anything.
        """
        if self.id_token is None:
            return {}
        try:
            claims = jwt.decode(self.id_token.get_secret_value(), options={"verify_signature": False})
        except jwt.PyJWTError:
            return {}
        return claims if isinstance(claims, dict) else {}


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
