"""Refreshing tokens ahead of expiry, for a schedule: an idle tenant's grant stays alive and a
revoked one is found (and marked `needs_reauth`) before a sync or a webhook needs it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from lineup_integrations.core.oauth.engine import OAuthEngine
from lineup_integrations.core.oauth.errors import OAuthError, ReauthorizationRequiredError
from lineup_integrations.core.store import Credential, Integration, IntegrationStatus
from lineup_integrations.core.store.models import utcnow


@dataclass
class RenewalReport:
    """Integration ids by outcome: `failed` maps each to its error's class name (never a token)."""

    refreshed: list[str] = field(default_factory=list)
    needs_reauth: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def refresh_expiring_tokens(engine: OAuthEngine, provider: str, *, within: dt.timedelta) -> RenewalReport:
    """Refresh every connected `provider` integration whose access token expires within `within`.

    One integration's failure never stops the others: a dead grant is marked `needs_reauth` by the
    engine and reported, any other failure (the provider down, a timeout) is reported and retried
    at the next run.
    """
    with engine.store.session() as session:
        due = list(session.scalars(
            select(Integration.id)
            .join(Credential, Credential.integration_id == Integration.id)
            .where(Integration.provider == provider, Integration.status == IntegrationStatus.CONNECTED.value,
                   Credential.expires_at <= utcnow() + within)
            .order_by(Credential.expires_at)
        ))  # fmt: skip
    report = RenewalReport()
    for integration_id in due:
        try:
            engine.refresh_if_expiring(integration_id, margin=within)
        except ReauthorizationRequiredError:
            report.needs_reauth.append(integration_id)
        except OAuthError as error:
            report.failed[integration_id] = type(error).__name__
        else:
            report.refreshed.append(integration_id)
    return report
