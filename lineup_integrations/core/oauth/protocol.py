"""The OAuth 2 wire protocol, done by authlib, over the engine's one pooled `httpx.Client`.

authlib's protocol client (`authlib.oauth2.client.OAuth2Client`) does the work: authorize URLs,
PKCE S256 challenges, code and refresh grants (keeping the old refresh token when none comes
back), RFC 7009 revocation, and token-response error handling. It is what
`authlib.integrations.httpx_client.OAuth2Client` is made of, minus that class's other half: a
*new* `httpx.Client`, which built per provider would open a pool each and keep the current token
as mutable state shared by every thread, and which since authlib 1.9 binds to `httpx2` whenever
that is installed (the `httpx` binding is deprecated), so its auth objects would no longer fit
the project's `httpx` clients. `_PooledOAuth2Client` is therefore the protocol client speaking
through the pooled client the engine was given, with authlib's client authentication wrapped
as an `httpx.Auth`; one is built per call (cheap: no sockets), so no token state is shared.

Every failure of a token or revoke call becomes `TokenEndpointFailure(error)`, where `error` is
the provider's error code or one of ours (`http_<status>`, `network_error`,
`malformed_response`) — never a description, which may echo input.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Generator, Mapping
from typing import Any, ClassVar

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.client import OAuth2Client as AuthlibProtocolClient

from lineup_integrations.core.oauth.config import OAuthProviderConfig, TokenEndpoint
from lineup_integrations.core.oauth.tokens import TokenResponse

# Token calls can run while the integration's row is locked: fail fast rather than hold it.
TOKEN_REQUEST_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
PKCE_VERIFIER_BYTES = 64  # token_urlsafe(64) = 86 characters, inside RFC 7636's 43–128


class TokenEndpointFailure(Exception):
    """A token or revoke call failed; `error` is a code safe to log (see the module docstring)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class _HttpxClientAuth(httpx.Auth, ClientAuth):
    """authlib's client authentication (`client_secret_post`, `none`, …) applied to an httpx request."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url, headers, body = self.prepare(request.method, str(request.url), request.headers, request.content)
        content = body.encode() if isinstance(body, str) else body
        headers["Content-Length"] = str(len(content))
        yield httpx.Request(request.method, url, headers=headers, content=content, extensions=request.extensions)


class _PooledOAuth2Client(AuthlibProtocolClient):
    client_auth_class = _HttpxClientAuth
    # authlib's default OAuth2Error rejects descriptions with some characters (raising
    # ValueError and hiding the error code); the base error keeps any provider's code.
    oauth_error_class = AuthlibBaseError
    SESSION_REQUEST_PARAMS: ClassVar[list[str]] = ["timeout"]


def new_code_verifier() -> str:
    return secrets.token_urlsafe(PKCE_VERIFIER_BYTES)


class OAuthProtocol:
    """The authorize/token/revoke calls of one provider."""

    def __init__(self, config: OAuthProviderConfig, http: httpx.Client) -> None:
        self.config = config
        self.http = http

    def _client(self) -> _PooledOAuth2Client:
        # client_secret_post: Zoho reads the client credentials only from the form or query, and
        # Google and Microsoft accept them there; revocation needs no secret, so none is sent.
        return _PooledOAuth2Client(
            self.http,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret.get_secret_value(),
            token_endpoint_auth_method="client_secret_post",
            revocation_endpoint_auth_method="none",
            redirect_uri=self.config.redirect_uri,
            code_challenge_method="S256" if self.config.use_pkce else None,
        )

    def authorization_url(self, *, state: str, code_verifier: str | None, login_hint: str | None) -> str:
        url, _ = self._client().create_authorization_url(
            self.config.authorize_url,
            state=state,
            code_verifier=code_verifier,
            scope=self.config.scope,
            login_hint=login_hint,
            **self.config.extra_authorize_params,
        )
        return url

    def exchange_code(
        self, endpoint: TokenEndpoint, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenResponse:
        def call() -> Mapping[str, Any]:
            return self._client().fetch_token(
                endpoint.token_url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
                scope=self._token_request_scope(),
                timeout=TOKEN_REQUEST_TIMEOUT,
            )

        return _token_call(call)

    def refresh(self, endpoint: TokenEndpoint, *, refresh_token: str) -> TokenResponse:
        """A refresh grant; when the provider returns no new refresh token, authlib puts the one
        sent back into the response, so `refresh_token` of the result is always the one to keep."""

        def call() -> Mapping[str, Any]:
            return self._client().refresh_token(
                endpoint.token_url,
                refresh_token=refresh_token,
                scope=self._token_request_scope(),
                timeout=TOKEN_REQUEST_TIMEOUT,
            )

        return _token_call(call)

    def revoke(self, endpoint: TokenEndpoint, *, token: str, token_type_hint: str) -> None:
        """RFC 7009 revocation, the token in the form body (Zoho and Google also read it from the
        query, but a query string ends up in access logs)."""
        if endpoint.revoke_url is None:
            raise ValueError(f"{self.config.name} has no revoke endpoint")
        try:
            response = self._client().revoke_token(
                endpoint.revoke_url, token=token, token_type_hint=token_type_hint, timeout=TOKEN_REQUEST_TIMEOUT
            )
        except httpx.TransportError:
            raise TokenEndpointFailure("network_error") from None
        if not response.is_success:
            raise TokenEndpointFailure(f"http_{response.status_code}")

    def _token_request_scope(self) -> str | None:
        return self.config.scope if self.config.scopes_on_token_requests else None


def _token_call(call: Callable[[], Mapping[str, Any]]) -> TokenResponse:
    """Run an authlib token call and validate its body, mapping every failure to a safe error code.

    authlib raises its OAuthError for any body with an `error` field, whatever the HTTP status,
    which is what Zoho's HTTP-200 error answers need.
    """
    try:
        return TokenResponse.model_validate(dict(call()))
    except AuthlibBaseError as error:
        raise TokenEndpointFailure(str(error.error or "unknown_error")) from None
    except httpx.HTTPStatusError as error:
        raise TokenEndpointFailure(f"http_{error.response.status_code}") from None
    except httpx.TransportError:
        raise TokenEndpointFailure("network_error") from None
    except ValueError:  # not JSON, or no access_token (pydantic's ValidationError is a ValueError)
        raise TokenEndpointFailure("malformed_response") from None
