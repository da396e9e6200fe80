"""The gateway's request and response bodies: the spec's camelCase JSON, validated by pydantic.

Requests forbid unknown fields so a typo (`login_hint` for `loginHint`) is a 422 naming it
rather than silently ignored.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
"""A Lineup user id (`userId`): 1–128 characters, the tenant id's (gateway/auth.py)."""


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ConnectRequest(CamelModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=40, examples=["zoho"])
    login_hint: str | None = Field(
        default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$", description="the email of the account to connect"
    )
    user_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=USER_ID_PATTERN,
        description="the Lineup user whose account this is: required by a per-user provider (a calendar), "
        "refused by a tenant-wide one (Zoho)",
    )


class ConnectResponse(CamelModel):
    auth_url: str
    provider: str


class CallbackResponse(CamelModel):
    success: bool = True
    provider: str


class DisconnectResponse(CamelModel):
    success: bool = True
    provider: str


class IntegrationSummary(CamelModel):
    id: str
    provider: str
    user_id: str | None = Field(description="the Lineup user whose account this is; null: the tenant's")
    status: str
    last_synced_at: dt.datetime | None
    created_at: dt.datetime


class Health(BaseModel):
    status: str = "ok"
