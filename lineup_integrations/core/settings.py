"""Process-wide settings, read once from the environment.

Secrets (client secrets, encryption keys, the JWT secret) are only ever read from the
environment, never from files in the repository. Every base URL is overridable so that the
provider sandbox can stand in for the real services.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


class ProviderCredentials(BaseModel):
    """The OAuth client registration of one provider (the spec's `<PROVIDER>_*` variables)."""

    client_id: str
    client_secret: SecretStr
    redirect_uri: str


class Settings(BaseModel):
    data_dir: Path
    database_url: str
    api_jwt_secret: SecretStr | None = None
    dagster_graphql_url: str = "http://127.0.0.1:3000/graphql"
    providers: dict[str, ProviderCredentials] = Field(default_factory=dict)

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = Path(_env("LINEUP_DATA_DIR", str(PROJECT_ROOT / ".data")))
        database_url = _env("LINEUP_DATABASE_URL", f"sqlite:///{data_dir / 'lineup.db'}")
        jwt_secret = _env("LINEUP_API_JWT_SECRET")
        redirect_default = "http://localhost:4000/api/v1/integrations/callback"
        providers = {}
        for name, prefix in (("zoho", "ZOHO"), ("google_calendar", "GOOGLE"), ("outlook_calendar", "OUTLOOK")):
            client_id = _env(f"{prefix}_CLIENT_ID")
            if client_id:
                providers[name] = ProviderCredentials(
                    client_id=client_id,
                    client_secret=SecretStr(_env(f"{prefix}_CLIENT_SECRET", "") or ""),
                    redirect_uri=_env(f"{prefix}_REDIRECT_URI", redirect_default) or redirect_default,
                )
        return cls(
            data_dir=data_dir,
            database_url=database_url or "",
            api_jwt_secret=SecretStr(jwt_secret) if jwt_secret else None,
            dagster_graphql_url=_env("DAGSTER_GRAPHQL_URL", "http://127.0.0.1:3000/graphql") or "",
            providers=providers,
        )
