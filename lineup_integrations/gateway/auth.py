"""Bearer authentication: an HS256 JWT (secret `LINEUP_API_JWT_SECRET`) names the caller and its tenant.

Claims: `sub` (the acting user, recorded as the audit actor), `tenant` (the tenant id, which
every query is scoped to) and `exp` (required). The tenant id doubles as the tenant's Dagster
partition key, so it must be one: the pattern below, and never `...`. Anything else — no
header, an expired, forged or malformed token — is a 401 before any route code runs, so a
refused request writes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr

from lineup_integrations.gateway.errors import ApiError

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash
TENANT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


class AuthConfigError(ValueError):
    """The JWT secret is missing or too short (a start-up error, never a silent default)."""


class Principal(BaseModel, frozen=True):
    """Who is calling: the user (`subject`, the audit actor) and the tenant they act for."""

    subject: str
    tenant_id: str


def is_valid_tenant_id(tenant_id: str) -> bool:
    return bool(TENANT_ID_PATTERN.match(tenant_id)) and "..." not in tenant_id


def signing_key(secret: SecretStr | None) -> bytes:
    """The HS256 key, or `AuthConfigError` when it is unset or too short to be safe."""
    if secret is None or not secret.get_secret_value():
        raise AuthConfigError("LINEUP_API_JWT_SECRET is not set: the gateway needs it to verify bearer tokens")
    key = secret.get_secret_value().encode()
    if len(key) < MIN_SECRET_BYTES:
        raise AuthConfigError(f"LINEUP_API_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (got {len(key)})")
    return key


def mint_token(secret: SecretStr | None, *, tenant_id: str, subject: str, ttl: dt.timedelta) -> str:
    """A bearer token the gateway accepts, for local use and tests (`lineup-integrations token`)."""
    if not is_valid_tenant_id(tenant_id):
        raise ValueError(
            f"invalid tenant id {tenant_id!r}: it must be a Dagster partition key "
            f"({TENANT_ID_PATTERN.pattern}, no '...')"
        )
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": subject, "tenant": tenant_id, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, signing_key(secret), algorithm=ALGORITHM)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def verify_token(token: str, key: bytes) -> Principal:
    """Decode and check a bearer token; every failure is a 401 whose message names the reason, not the token."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "tenant"]})
    except jwt.ExpiredSignatureError:
        raise _unauthorized("the bearer token has expired") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("the bearer token is invalid") from None
    tenant_id, subject = claims["tenant"], claims["sub"]
    if not isinstance(tenant_id, str) or not is_valid_tenant_id(tenant_id):
        raise _unauthorized("the bearer token's tenant claim is not a valid tenant id")
    if not isinstance(subject, str) or not subject:
        raise _unauthorized("the bearer token's sub claim is empty")
    return Principal(subject=subject, tenant_id=tenant_id)


_bearer = HTTPBearer(auto_error=False)


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """FastAPI dependency: the authenticated caller, or a 401."""
    if credentials is None:
        raise _unauthorized("missing bearer token: send Authorization: Bearer <token>")
    return verify_token(credentials.credentials, request.app.state.jwt_key)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
