"""Helpers of the licence tests: seeded plans, accounts, and the licence API as functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from coditect.cloud.db import Database
from coditect.cloud.services.plans import seed_plans
from coditect.signing import load_public_key
from tests.cloud.helpers import API, bearer, login, make_admin, register

LICENSES = f"{API}/licenses"
ADMIN_LICENSES = f"{API}/admin/licenses"


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    headers: dict[str, str]


def seed(app: FastAPI) -> None:
    database: Database = app.state.db
    with database.transaction() as session:
        seed_plans(session)


def account(client: TestClient, email: str) -> Account:
    user = register(client, email)
    return Account(id=user["id"], email=email, headers=bearer(login(client, email)))


def admin_account(client: TestClient, app: FastAPI, email: str = "admin@example.com") -> Account:
    admin = account(client, email)
    make_admin(app, email)
    return admin


def issue(
    client: TestClient, admin: Account, user: Account, plan: str = "pro", **extra: Any
) -> dict[str, Any]:
    body = {"user_id": user.id, "plan": plan, **extra}
    response = client.post(ADMIN_LICENSES, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued


def patch(client: TestClient, admin: Account, licence_id: str, **changes: Any) -> dict[str, Any]:
    response = client.patch(f"{ADMIN_LICENSES}/{licence_id}", json=changes, headers=admin.headers)
    assert response.status_code == 200, response.text
    updated: dict[str, Any] = response.json()
    return updated


def activate(
    client: TestClient, key: str, fingerprint: str, name: str = "laptop", platform: str = "linux"
) -> Any:
    body = {"key": key, "fingerprint": fingerprint, "name": name, "platform": platform}
    return client.post(f"{LICENSES}/activate", json=body)


def validate(
    client: TestClient, key: str, fingerprint: str, nonce: str = "nonce-1"
) -> dict[str, Any]:
    body = {"key": key, "fingerprint": fingerprint, "nonce": nonce}
    response = client.post(f"{LICENSES}/validate", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def trusted_keys(client: TestClient) -> dict[str, Any]:
    """The service's public key, as a client would pin it."""
    response = client.get(f"{LICENSES}/public-key")
    assert response.status_code == 200, response.text
    published = response.json()
    return {published["key_id"]: load_public_key(published["public_key"])}
