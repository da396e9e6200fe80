"""Token values at the engine's boundaries: parsing token responses, and keeping secrets out of reprs."""

from __future__ import annotations

import datetime as dt

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from lineup_integrations.core.oauth import AccessToken, GrantedAccess
from lineup_integrations.core.oauth.tokens import DEFAULT_TOKEN_LIFETIME, TokenResponse
from lineup_integrations.google_calendar.oauth import account_email
from lineup_integrations.outlook_calendar.oauth import account_object_id

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _id_token(**claims: object) -> str:
    return jwt.encode(claims, "issuer-signing-key-of-32-bytes!!", algorithm="HS256")


def test_secrets_stay_out_of_reprs() -> None:
    response = TokenResponse.model_validate(
        {"access_token": "at-secret", "refresh_token": "rt-secret", "id_token": _id_token(sub="1"), "expires_in": 60}
    )
    token = AccessToken(value="at-secret", expires_at=NOW, api_domain=None, integration_id="int-1")
    granted = GrantedAccess(access_token="at-secret", api_domain=None, id_token_claims={})

    for text in (repr(response), str(response), repr(token), str(token), repr(granted)):
        assert "at-secret" not in text and "rt-secret" not in text
    assert token.value == "at-secret"


def test_expiry_comes_from_expires_in_or_defaults_to_an_hour() -> None:
    assert TokenResponse.model_validate({"access_token": "a", "expires_in": 3599}).expires_at(
        NOW
    ) == NOW + dt.timedelta(seconds=3599)
    assert TokenResponse.model_validate({"access_token": "a"}).expires_at(NOW) == NOW + DEFAULT_TOKEN_LIFETIME


def test_a_body_without_an_access_token_is_not_a_token_response() -> None:
    with pytest.raises(ValidationError):
        TokenResponse.model_validate({"token_type": "Bearer", "expires_in": 3600})


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        ("a b", ["a", "b"]),
        ("ZohoCRM.modules.ALL,ZohoCRM.org.READ", ["ZohoCRM.modules.ALL", "ZohoCRM.org.READ"]),
        (None, ["requested"]),
    ],
)
def test_granted_scopes_accept_spaces_or_commas_and_fall_back_to_the_request(
    scope: str | None, granted: list[str]
) -> None:
    assert TokenResponse.model_validate({"access_token": "a", "scope": scope}).granted_scopes(("requested",)) == granted


def test_account_ids_come_from_the_id_token_claims() -> None:
    google = TokenResponse.model_validate({"access_token": "a", "id_token": _id_token(email="x@acme.example")})
    microsoft = TokenResponse.model_validate({"access_token": "a", "id_token": _id_token(oid="0000-oid", tid="t")})

    def granted(response: TokenResponse) -> GrantedAccess:
        return GrantedAccess(access_token="a", api_domain=None, id_token_claims=response.id_token_claims())

    with httpx.Client() as http:  # the claims suffice: no request is made
        assert account_email(http, granted(google)) == "x@acme.example"
        assert account_object_id(http, granted(microsoft)) == "0000-oid"
        assert account_email(http, granted(microsoft)) is None


def test_a_malformed_id_token_has_no_claims() -> None:
    assert TokenResponse.model_validate({"access_token": "a", "id_token": "not.a.jwt"}).id_token_claims() == {}
    assert TokenResponse.model_validate({"access_token": "a"}).id_token_claims() == {}


# -- id_token verification against the provider's key set ------------------------------------------

CLIENT_ID = "client-1"
ISSUER = "https://login.example/{tid}/v2.0"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(key: rsa.RSAPrivateKey, kid: str = "k1") -> dict[str, object]:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [public | {"kid": kid, "alg": "RS256", "use": "sig"}]}


def _signed(key: rsa.RSAPrivateKey, kid: str = "k1", **overrides: object) -> TokenResponse:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": "https://login.example/tid-1/v2.0",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + dt.timedelta(hours=1),
        "oid": "oid-1",
        "tid": "tid-1",
    } | overrides
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    return TokenResponse.model_validate({"access_token": "a", "id_token": token})


def test_a_verified_id_token_yields_its_claims(signing_key: rsa.RSAPrivateKey) -> None:
    claims = _signed(signing_key).verified_id_token_claims(_jwks(signing_key), audience=CLIENT_ID, issuers=(ISSUER,))

    assert (claims["oid"], claims["tid"]) == ("oid-1", "tid-1")
    assert (
        TokenResponse.model_validate({"access_token": "a"}).verified_id_token_claims(
            _jwks(signing_key), audience=CLIENT_ID, issuers=(ISSUER,)
        )
        == {}
    )


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"aud": "another-client"}, jwt.InvalidAudienceError),
        ({"iss": "https://evil.example/tid-1/v2.0"}, jwt.InvalidIssuerError),
        ({"iss": "https://login.example/tid-2/v2.0"}, jwt.InvalidIssuerError),  # not the token's own directory
        ({"iss": "https://login.example/{tid}/v2.0"}, jwt.InvalidIssuerError),
        ({"exp": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)}, jwt.ExpiredSignatureError),
    ],
)
def test_an_id_token_with_wrong_claims_is_refused(
    signing_key: rsa.RSAPrivateKey, overrides: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        _signed(signing_key, **overrides).verified_id_token_claims(
            _jwks(signing_key), audience=CLIENT_ID, issuers=(ISSUER,)
        )


def test_an_id_token_signed_by_another_key_is_refused(signing_key: rsa.RSAPrivateKey) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    with pytest.raises(jwt.InvalidSignatureError):  # claims the published key's id
        _signed(forger).verified_id_token_claims(_jwks(signing_key), audience=CLIENT_ID, issuers=(ISSUER,))
    with pytest.raises(KeyError):  # names a key the provider never published
        _signed(forger, kid="k2").verified_id_token_claims(_jwks(signing_key), audience=CLIENT_ID, issuers=(ISSUER,))
    unsigned = jwt.encode({"aud": CLIENT_ID, "iss": "x"}, "hmac-secret-of-at-least-32-bytes!!", algorithm="HS256")
    with pytest.raises(jwt.PyJWTError):  # no algorithm but RS256 is accepted
        TokenResponse.model_validate({"access_token": "a", "id_token": unsigned}).verified_id_token_claims(
            _jwks(signing_key), audience=CLIENT_ID, issuers=("x",)
        )
