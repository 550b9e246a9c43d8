"""Access tokens: forged, expired, tampered or incomplete tokens are refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from coditect.cloud.settings import Settings
from tests.cloud.helpers import API, SECRET, assert_error, bearer, login, register


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def valid(client: TestClient) -> dict[str, Any]:
    """The claims of a real access token, to forge variants of."""
    register(client, "token@example.com")
    tokens = login(client, "token@example.com")
    claims: dict[str, Any] = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return {"tokens": tokens, "claims": claims}


def _refused(client: TestClient, token: str) -> dict[str, Any]:
    return assert_error(
        client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"}), 401
    )


def test_the_real_token_works(client: TestClient, valid: dict[str, Any]) -> None:
    assert client.get(f"{API}/auth/me", headers=bearer(valid["tokens"])).status_code == 200
    assert set(valid["claims"]) == {"iss", "aud", "sub", "sid", "iat", "exp", "jti"}
    assert valid["claims"]["exp"] - valid["claims"]["iat"] == 900


def test_alg_none_is_refused(client: TestClient, valid: dict[str, Any]) -> None:
    token = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(valid["claims"]) + "."
    assert _refused(client, token)["details"]["reason"] == "invalid"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_hmac_algorithm_is_refused(client: TestClient, valid: dict[str, Any]) -> None:
    token = jwt.encode(valid["claims"], SECRET, algorithm="HS512")
    _refused(client, token)


def test_an_asymmetric_signature_is_refused(client: TestClient, valid: dict[str, Any]) -> None:
    token = jwt.encode(valid["claims"], Ed25519PrivateKey.generate(), algorithm="EdDSA")
    _refused(client, token)


def test_a_token_signed_with_another_secret_is_refused(
    client: TestClient, valid: dict[str, Any]
) -> None:
    _refused(client, jwt.encode(valid["claims"], "another secret " * 4, algorithm="HS256"))


Change = Callable[[dict[str, Any]], None]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda c: c.update(aud="someone-else"), id="wrong-aud"),
        pytest.param(lambda c: c.update(iss="https://evil.example"), id="wrong-iss"),
        pytest.param(lambda c: c.update(exp=int(time.time()) - 60), id="expired"),
        pytest.param(lambda c: c.pop("jti"), id="no-jti"),
        pytest.param(lambda c: c.pop("exp"), id="no-exp"),
        pytest.param(lambda c: c.pop("aud"), id="no-aud"),
        pytest.param(lambda c: c.update(sub="someone-else"), id="other-sub"),
        pytest.param(lambda c: c.update(sid="no-such-session"), id="other-sid"),
        pytest.param(lambda c: c.update(iat="yesterday"), id="bad-iat"),
    ],
)
def test_bad_claims_are_refused(client: TestClient, valid: dict[str, Any], change: Change) -> None:
    claims = dict(valid["claims"])
    change(claims)
    _refused(client, jwt.encode(claims, SECRET, algorithm="HS256"))


def test_expired_token_says_so(client: TestClient, valid: dict[str, Any]) -> None:
    claims = dict(valid["claims"], exp=int(time.time()) - 60)
    error = _refused(client, jwt.encode(claims, SECRET, algorithm="HS256"))
    assert error["details"]["reason"] == "expired"


def test_a_tampered_payload_is_refused(client: TestClient, valid: dict[str, Any]) -> None:
    header, _payload, signature = valid["tokens"]["access_token"].split(".")
    forged = dict(valid["claims"], sub="00000000-0000-0000-0000-000000000000")
    _refused(client, f"{header}.{_b64(forged)}.{signature}")


@pytest.mark.parametrize("header", ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt"])
def test_missing_or_malformed_credentials(client: TestClient, header: str) -> None:
    headers = {"Authorization": header} if header else {}
    assert_error(client.get(f"{API}/auth/me", headers=headers), 401, "unauthorized")


def test_tokens_from_another_deployment_are_refused(
    client: TestClient, settings: Settings, valid: dict[str, Any]
) -> None:
    other = settings.model_copy(update={"jwt_audience": "another-deployment"})
    from coditect.cloud.services.tokens import issue_access_token

    token, _ = issue_access_token(other, valid["claims"]["sub"], valid["claims"]["sid"])
    _refused(client, token)
