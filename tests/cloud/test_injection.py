"""Hostile text: SQL-injection strings are stored and compared literally; NUL characters
(which PostgreSQL text cannot hold) are refused with 422, never a 500."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from coditect.cloud.models.session import AuthSession
from coditect.cloud.models.user import User
from tests.cloud.helpers import API, assert_error, bearer, login, make_admin, register

INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '" OR ""="',
    "1; SELECT pg_sleep(5); --",
    "%' UNION SELECT email, password_hash FROM users --",
]
# Emails with SQL metacharacters that are still valid addresses.
HOSTILE_EMAILS = ["x'or'1'='1@example.com", "a--drop-table@example.com", "%_*'@example.com"]


@pytest.mark.parametrize("email", HOSTILE_EMAILS)
def test_hostile_emails_are_stored_literally(client: TestClient, app: FastAPI, email: str) -> None:
    password = INJECTIONS[1] + " long enough"
    user = register(client, email, password)
    assert user["email"] == email
    tokens = login(client, email, password)
    me = client.get(f"{API}/auth/me", headers=bearer(tokens)).json()
    assert me["email"] == email
    with app.state.db.session() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1
        assert db.scalar(select(User.email)) == email


@pytest.mark.parametrize("text", INJECTIONS)
def test_injections_in_every_text_field(client: TestClient, app: FastAPI, text: str) -> None:
    register(client, "victim@example.com")
    register(client, "root@example.com")
    make_admin(app, "root@example.com")
    admin = login(client, "root@example.com", **{"User-Agent": text})
    headers = bearer(admin)
    # Stored literally: the session's user agent.
    current = client.get(f"{API}/sessions/current", headers=headers).json()
    assert current["user_agent"] == text
    # Compared literally: none of these match anything.
    login_attempt = client.post(f"{API}/auth/login", json={"email": text, "password": text})
    assert_error(login_attempt, 401)
    refresh = client.post(f"{API}/auth/refresh", json={"refresh_token": text})
    assert_error(refresh, 401)
    reset = client.post(f"{API}/auth/password-reset/request", json={"email": text})
    assert reset.status_code == 202
    confirm = client.post(
        f"{API}/auth/password-reset/confirm", json={"token": text, "new_password": text * 3}
    )
    assert_error(confirm, 422)
    search = client.get(f"{API}/admin/users", params={"email": text}, headers=headers).json()
    assert search["total"] == 0
    assert_error(client.delete(f"{API}/sessions/{text}", headers=headers), 422)
    with app.state.db.session() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 2
        assert db.scalar(select(func.count()).select_from(AuthSession)) == 1


def test_nul_characters_are_refused(client: TestClient, app: FastAPI) -> None:
    register(client, "root@example.com")
    make_admin(app, "root@example.com")
    headers = bearer(login(client, "root@example.com"))
    bodies = [
        ("/auth/register", {"email": "nul@example.com", "password": "long password\x00"}),
        ("/auth/login", {"email": "root@example.com\x00", "password": "x"}),
        ("/auth/refresh", {"refresh_token": "abc\x00"}),
        ("/auth/password-reset/request", {"email": "\x00@example.com"}),
    ]
    for path, body in bodies:
        assert_error(client.post(f"{API}{path}", json=body), 422, "invalid")
    search = client.get(f"{API}/admin/users", params={"email": "a\x00b"}, headers=headers)
    assert_error(search, 422, "invalid")
    assert_error(client.get(f"{API}/admin/users/a%00b", headers=headers), 422, "invalid")
    with app.state.db.session() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1
