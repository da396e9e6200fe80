"""The typed failures of the OAuth engine.

Every error carries a stable machine-readable `code` (the gateway maps it to an HTTP answer)
and a message safe to show, log or audit: never a token, code, state or client secret, and
never the provider's free-text description (Microsoft's embeds trace ids, others echo input).
"""

from __future__ import annotations


class OAuthError(Exception):
    """Base of every OAuth engine failure; `code` is stable, `provider` names the provider."""

    code = "oauth_error"
    field: str | None = None  # the callback parameter at fault, when one is (the gateway names it)

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider


class InvalidStateError(OAuthError):
    """The callback's `state` is unknown, tampered, expired, already used or issued for another provider.

    `tenant_id` is the tenant the state was issued to when the store still knows it (an expired
    or replayed state), else None; `reason` is one of `unknown`, `expired`, `used`, `wrong_provider`.
    """

    code = "invalid_state"
    field = "state"

    def __init__(self, reason: str, *, provider: str, tenant_id: str | None = None) -> None:
        super().__init__(f"the OAuth state is not valid ({reason}); start the connection again", provider=provider)
        self.reason = reason
        self.tenant_id = tenant_id


class AuthorizationDeniedError(OAuthError):
    """The user (or the provider) refused consent: the callback carried `error=…` instead of a code."""

    code = "authorization_denied"

    def __init__(self, error: str, *, provider: str) -> None:
        super().__init__(f"the authorization was not granted ({error})", provider=provider)
        self.error = error


class UntrustedAccountsServerError(OAuthError):
    """The callback names an accounts server that is not one of the provider's known data centres.

    Sending the code and our client secret there would hand them to whoever chose that URL.
    """

    code = "untrusted_accounts_server"

    def __init__(self, *, provider: str) -> None:
        super().__init__("the callback names an accounts server outside the provider's data centres", provider=provider)


class TokenExchangeError(OAuthError):
    """The provider did not turn the authorization code into tokens; `error` is its error code."""

    code = "token_exchange_failed"

    def __init__(self, error: str, *, provider: str, message: str | None = None) -> None:
        super().__init__(message or f"the provider refused the authorization code ({error})", provider=provider)
        self.error = error


class InvalidAuthorizationCodeError(TokenExchangeError):
    """The callback's `code` is missing, or the provider refused it as invalid, expired or already
    used (Zoho: HTTP 200 `invalid_code`; Google and Microsoft: HTTP 400 `invalid_grant`).

    A bad request rather than a provider failure: the user must start the connection again.
    `error` is the provider's code, or `missing_code` when the callback carried none.
    """

    code = "invalid_authorization_code"
    field = "code"

    def __init__(self, error: str, *, provider: str) -> None:
        super().__init__(
            error,
            provider=provider,
            message=f"the authorization code is missing, invalid, expired or already used ({error}); "
            "start the connection again",
        )


class TokenRefreshError(OAuthError):
    """A refresh failed for a reason that may pass (network, 5xx, throttling): callers may retry."""

    code = "token_refresh_failed"

    def __init__(self, error: str, *, provider: str) -> None:
        super().__init__(f"the access token could not be refreshed ({error}); retry later", provider=provider)
        self.error = error


class ReauthorizationRequiredError(OAuthError):
    """The grant is gone (revoked, expired, never offline): only the tenant reconnecting fixes it.

    The integration is `needs_reauth` when this is raised; callers must not retry.
    """

    code = "reauthorization_required"

    def __init__(self, error: str, *, provider: str) -> None:
        super().__init__(f"the tenant must reconnect the integration ({error})", provider=provider)
        self.error = error


class IntegrationNotFoundError(OAuthError):
    """No connected integration (with credentials) matches the request."""

    code = "integration_not_found"


class OAuthConfigError(ValueError):
    """A provider's OAuth client is not configured (missing client id, bad base URL): a start-up error."""
