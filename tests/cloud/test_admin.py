"""``/admin/users``: only administrators; roles and deactivation; the last admin stays."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.cloud.helpers import (
    API,
    assert_error,
    bearer,
    login,
    make_admin,
    register,
    signed_in,
)


def _admin(client: TestClient, app: FastAPI, email: str = "root@example.com") -> dict[str, str]:
    register(client, email)
    make_admin(app, email)
    return bearer(login(client, email))


def test_users_cannot_use_admin_routes(client: TestClient) -> None:
    headers = signed_in(client, "user@example.com")
    assert_error(client.get(f"{API}/admin/users", headers=headers), 403, "forbidden")
    assert_error(client.get(f"{API}/admin/users"), 401)


def test_list_filter_and_page(client: TestClient, app: FastAPI) -> None:
    admin = _admin(client, app)
    for name in ("zoe", "bill", "zed"):
        register(client, f"{name}@example.com")
    everyone = client.get(f"{API}/admin/users", headers=admin).json()
    assert everyone["total"] == 4
    assert everyone["items"][0]["email"] == "root@example.com"
    z = client.get(f"{API}/admin/users", params={"email": "Z"}, headers=admin).json()
    assert {item["email"] for item in z["items"]} == {"zoe@example.com", "zed@example.com"}
    page = client.get(f"{API}/admin/users", params={"limit": 2, "offset": 2}, headers=admin)
    assert [item["email"] for item in page.json()["items"]] == [
        "bill@example.com",
        "zed@example.com",
    ]
    # LIKE wildcards are searched for literally.
    wildcard = client.get(f"{API}/admin/users", params={"email": "_"}, headers=admin).json()
    assert wildcard["total"] == 0
    assert_error(client.get(f"{API}/admin/users?limit=0", headers=admin), 422)


def test_promote_and_deactivate(client: TestClient, app: FastAPI) -> None:
    admin = _admin(client, app)
    user = register(client, "worker@example.com")
    worker = bearer(login(client, "worker@example.com"))
    promoted = client.patch(
        f"{API}/admin/users/{user['id']}", json={"role": "admin"}, headers=admin
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert client.get(f"{API}/admin/users", headers=worker).status_code == 200
    disabled = client.patch(
        f"{API}/admin/users/{user['id']}", json={"is_active": False}, headers=admin
    )
    assert disabled.json()["is_active"] is False
    assert_error(client.get(f"{API}/auth/me", headers=worker), 401)
    fetched = client.get(f"{API}/admin/users/{user['id']}", headers=admin).json()
    assert fetched == disabled.json()


def test_the_last_admin_cannot_step_down(client: TestClient, app: FastAPI) -> None:
    admin = _admin(client, app)
    me = client.get(f"{API}/auth/me", headers=admin).json()
    for change in ({"role": "user"}, {"is_active": False}):
        response = client.patch(f"{API}/admin/users/{me['id']}", json=change, headers=admin)
        assert_error(response, 409, "conflict")
    assert client.get(f"{API}/auth/me", headers=admin).json()["role"] == "admin"


def test_update_bodies_are_strict(client: TestClient, app: FastAPI) -> None:
    admin = _admin(client, app)
    user = register(client, "strict@example.com")
    url = f"{API}/admin/users/{user['id']}"
    for body in ({}, {"role": "owner"}, {"email": "x@example.com"}, {"role": "user", "id": "x"}):
        assert_error(client.patch(url, json=body, headers=admin), 422, "invalid")
    assert_error(client.patch(f"{API}/admin/users/nope", json={"role": "user"}, headers=admin), 404)


def test_no_user_facing_body_sets_a_role(client: TestClient) -> None:
    headers = signed_in(client, "plain@example.com")
    change = client.post(
        f"{API}/auth/password/change",
        json={"current_password": "x", "new_password": "y" * 12, "role": "admin"},
        headers=headers,
    )
    assert_error(change, 422)
    assert client.get(f"{API}/auth/me", headers=headers).json()["role"] == "user"
