"""Helpers of the cloud tests: test settings, and API calls that read as requests and answers."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from coditect.cloud.db import Database
from coditect.cloud.settings import Settings

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery staple"
API = "/api/v1"


def make_settings(database_url: str, licence_pem: str, **overrides: Any) -> Settings:
    """Test settings: fixed secrets, cheap Argon2 (allowed only in ``test``)."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": SECRET,
        "licence_signing_key": licence_pem,
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "redis_key_prefix": f"test-{uuid.uuid4().hex[:12]}",
    }
    values.update(overrides)
    return Settings(**values)


def clear_redis(url: str, prefix: str) -> None:
    from redis import Redis

    client = Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# API helpers: plain functions so tests read as requests and answers.


def register(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post(f"{API}/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def login(
    client: TestClient, email: str, password: str = PASSWORD, **headers: str
) -> dict[str, Any]:
    response = client.post(
        f"{API}/auth/login", json={"email": email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def signed_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Register ``email`` and sign in; the Authorization header of the session."""
    register(client, email, password)
    return bearer(login(client, email, password))


def make_admin(app: FastAPI, email: str) -> None:
    """Promote ``email`` to admin straight in the database (what ``server create-admin`` does)."""
    from sqlalchemy import update

    from coditect.cloud.models.user import User

    database: Database = app.state.db
    with database.transaction() as session:
        session.execute(update(User).where(User.email == email).values(role="admin"))


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is the standard error body with ``status`` (and ``code``)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error
