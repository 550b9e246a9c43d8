"""Accounts and sign-in over the API: registration, login, me, refresh, logout."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from coditect.cloud.models.session import AuthSession, RevokedToken
from coditect.cloud.models.user import User
from coditect.cloud.services.tokens import hash_token
from tests.cloud.helpers import API, PASSWORD, assert_error, bearer, login, register


def test_register_login_me(client: TestClient) -> None:
    user = register(client, "  Alice@Example.COM ")
    assert user["email"] == "alice@example.com"
    assert user["role"] == "user"
    assert user["is_active"] is True
    tokens = login(client, "ALICE@example.com")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    me = client.get(f"{API}/auth/me", headers=bearer(tokens))
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert me.json()["last_login_at"] is not None


def test_password_is_stored_as_argon2id(client: TestClient, app: FastAPI) -> None:
    register(client, "hash@example.com")
    with app.state.db.session() as db:
        stored = db.scalar(select(User.password_hash).where(User.email == "hash@example.com"))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_duplicate_email_in_another_case_is_a_conflict(client: TestClient) -> None:
    register(client, "bob@example.com")
    response = client.post(
        f"{API}/auth/register", json={"email": "BOB@EXAMPLE.COM", "password": PASSWORD}
    )
    assert_error(response, 409, "conflict")


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("not-an-email", PASSWORD, "email"),
        ("short@example.com", "elevenchars", "password"),
        ("", PASSWORD, "email"),
    ],
)
def test_register_refuses_bad_input(
    client: TestClient, app: FastAPI, email: str, password: str, field: str
) -> None:
    response = client.post(f"{API}/auth/register", json={"email": email, "password": password})
    error = assert_error(response, 422, "invalid")
    assert field in {entry["loc"][-1] for entry in error["details"]["fields"]}
    with app.state.db.session() as db:
        assert db.scalar(select(User)) is None


def test_register_cannot_choose_a_role(client: TestClient, app: FastAPI) -> None:
    response = client.post(
        f"{API}/auth/register",
        json={"email": "mallory@example.com", "password": PASSWORD, "role": "admin"},
    )
    error = assert_error(response, 422)
    assert error["details"]["fields"][0]["type"] == "extra_forbidden"
    with app.state.db.session() as db:
        assert db.scalar(select(User)) is None


@pytest.mark.parametrize("email", ["carol@example.com", "nobody@example.com", "garbage"])
def test_login_failures_answer_alike(client: TestClient, email: str) -> None:
    register(client, "carol@example.com")
    response = client.post(
        f"{API}/auth/login", json={"email": email, "password": "wrong password!"}
    )
    error = assert_error(response, 401, "unauthorized")
    assert error["message"] == "wrong email or password"
    assert response.headers["www-authenticate"] == "Bearer"


def test_disabled_account_cannot_sign_in(client: TestClient, app: FastAPI) -> None:
    register(client, "gone@example.com")
    with app.state.db.transaction() as db:
        user = db.scalar(select(User).where(User.email == "gone@example.com"))
        assert user is not None
        user.is_active = False
    response = client.post(
        f"{API}/auth/login", json={"email": "gone@example.com", "password": PASSWORD}
    )
    assert_error(response, 401)


def test_refresh_rotates_the_token(client: TestClient, app: FastAPI) -> None:
    register(client, "dave@example.com")
    first = login(client, "dave@example.com", **{"User-Agent": "pytest-agent/1"})
    response = client.post(
        f"{API}/auth/refresh",
        json={"refresh_token": first["refresh_token"]},
        headers={"User-Agent": "pytest-agent/2"},
    )
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_id"] == first["session_id"]
    assert client.get(f"{API}/auth/me", headers=bearer(second)).status_code == 200
    with app.state.db.session() as db:
        session = db.get(AuthSession, first["session_id"])
        assert session is not None
        assert session.refresh_token_hash == hash_token(second["refresh_token"])
        assert session.user_agent == "pytest-agent/2"  # the client as last seen


def test_reusing_a_rotated_refresh_token_revokes_the_family(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    register(client, "erin@example.com")
    first = login(client, "erin@example.com")
    rotated = client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    second = rotated.json()
    with caplog.at_level(logging.WARNING, logger="coditect.cloud.auth"):
        reuse = client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    error = assert_error(reuse, 401)
    assert error["details"]["reason"] == "reused"
    assert any("refresh token reuse" in record.message for record in caplog.records)
    # The legitimate holder's newer tokens die with the family.
    again = client.post(f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_error(again, 401)
    assert_error(client.get(f"{API}/auth/me", headers=bearer(second)), 401)


def test_unknown_refresh_token_is_refused(client: TestClient) -> None:
    response = client.post(f"{API}/auth/refresh", json={"refresh_token": "not-a-token"})
    assert assert_error(response, 401)["details"]["reason"] == "invalid"


def test_logout_revokes_session_and_access_token(client: TestClient, app: FastAPI) -> None:
    register(client, "frank@example.com")
    tokens = login(client, "frank@example.com")
    assert client.post(f"{API}/auth/logout", headers=bearer(tokens)).status_code == 204
    assert_error(client.get(f"{API}/auth/me", headers=bearer(tokens)), 401)
    refresh = client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_error(refresh, 401)
    with app.state.db.session() as db:
        assert db.scalar(select(RevokedToken.jti)) is not None
        session = db.get(AuthSession, tokens["session_id"])
        assert session is not None and session.revoked_reason == "logout"


def test_change_password(client: TestClient) -> None:
    register(client, "gina@example.com")
    here = login(client, "gina@example.com")
    elsewhere = login(client, "gina@example.com")
    new = "a brand new passphrase"
    wrong = client.post(
        f"{API}/auth/password/change",
        json={"current_password": "not my password", "new_password": new},
        headers=bearer(here),
    )
    assert_error(wrong, 403, "forbidden")
    ok = client.post(
        f"{API}/auth/password/change",
        json={"current_password": PASSWORD, "new_password": new},
        headers=bearer(here),
    )
    assert ok.status_code == 204, ok.text
    assert client.get(f"{API}/auth/me", headers=bearer(here)).status_code == 200
    assert_error(client.get(f"{API}/auth/me", headers=bearer(elsewhere)), 401)
    login(client, "gina@example.com", new)
    old = client.post(f"{API}/auth/login", json={"email": "gina@example.com", "password": PASSWORD})
    assert_error(old, 401)
